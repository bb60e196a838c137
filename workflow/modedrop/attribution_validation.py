"""Is the attribution right? Its estimates and named features checked on the study's own planted
drops, where the truth is known: the labelled share of every attribute in every condition.

The study draws, per experiment and seed, conditions (``unbiased``, ``target``, ``nontarget``,
``dose25/50/75``, ``collapse25/50``) and a held-out balanced ``reference``; each condition is
attributed against its reference (:func:`modedrop.attribution.attribution_table`). Two
questions are asked of those rows: do the confidence intervals cover the labelled share
(coverage), and are the planted shifts named in the right direction while nothing is named in
sets drawn like their reference (false positives; Holm controls the family-wise error, so at
most a share ``alpha`` of null sets should name anything).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modedrop.stats import condition_sort_key

__all__ = [
    "NO_PROBE_ATTRIBUTES",
    "SHIFT_THRESHOLD",
    "VALIDATION_COLUMNS",
    "validation_table",
]

#: Pseudo-attributes of the design that no probe can measure (skipped as targets).
NO_PROBE_ATTRIBUTES = frozenset({"Random"})
#: Smallest |true - reference share| in every seed for a feature to count as a planted shift.
SHIFT_THRESHOLD = 0.05

_KEYS = ["encoder", "experiment", "condition"]
_REQUIRED = [
    *_KEYS,
    "seed",
    "feature",
    "kind",
    "group",
    "measurable",
    "estimate",
    "ci_low",
    "ci_high",
    "named",
    "true_prevalence",
    "baseline_true_prevalence",
]

#: Columns of :func:`validation_table`, in order.
VALIDATION_COLUMNS = [
    *_KEYS,
    "feature",
    "kind",
    "group",
    "n_seeds",
    "n_measurable",
    "true_prevalence",
    "baseline_true_prevalence",
    "planted_shift",
    "estimate",
    "covered",
    "rows",
    "coverage",
    "expected",
    "named_correctly",
    "named_wrongly",
    "null_set",
    "false_positives",
    "false_positive_rate",
    "sets_with_false_positive",
    "set_false_positive_rate",
    "expected_level",
    "role",
]

_OPPOSITE = {"under": "over", "over": "under"}


def _checked(rows: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(rows, pd.DataFrame):
        raise ValueError(f"rows must be a pandas DataFrame; got {type(rows).__name__}.")
    missing = [c for c in _REQUIRED if c not in rows.columns]
    if missing:
        raise ValueError(
            f"rows lack column(s) {missing}; pass attribution_table rows with the added columns "
            "experiment, condition, seed, encoder, true_prevalence, baseline_true_prevalence."
        )
    frame = rows[_REQUIRED].copy()
    frame["named"] = frame["named"].fillna("").astype(str)
    frame["group"] = frame["group"].fillna("").astype(str)
    frame["measurable"] = frame["measurable"].astype(bool)
    for column in ("estimate", "ci_low", "ci_high", "true_prevalence", "baseline_true_prevalence"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    duplicated = frame.duplicated([*_KEYS, "seed", "kind", "group", "feature"], keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, [*_KEYS, "seed", "feature"]].iloc[0].to_dict()
        raise ValueError(
            f"{int(duplicated.sum())} rows repeat the same feature of one set (e.g. {example}); "
            "each (encoder, experiment, condition, seed, kind, group, feature) must appear once."
        )
    frame["covered"] = (
        frame["measurable"]
        & (frame["ci_low"] <= frame["true_prevalence"])
        & (frame["true_prevalence"] <= frame["ci_high"])
    )
    return frame


def _is_null_set(condition: str, experiment_targets: Sequence[str]) -> bool:
    """A set drawn like its reference: every ``unbiased`` condition, and every non-collapse
    condition of an experiment whose targets are all pseudo-attributes (e.g. Random)."""
    if condition == "unbiased":
        return True
    only_pseudo = all(a in NO_PROBE_ATTRIBUTES for a in experiment_targets)
    return only_pseudo and not condition.startswith("collapse")


def _expected(shifts: np.ndarray) -> str:
    """The direction of a planted shift: ``under``/``over`` where every seed's |shift| >=
    :data:`SHIFT_THRESHOLD` with the same sign, else ``""``."""
    if shifts.size == 0 or np.isnan(shifts).any():
        return ""
    if (shifts <= -SHIFT_THRESHOLD).all():
        return "under"
    if (shifts >= SHIFT_THRESHOLD).all():
        return "over"
    return ""


def _feature_row(keys: tuple, feature: tuple, seeds: pd.DataFrame, null_set: bool) -> dict:
    measured = seeds[seeds["measurable"]]
    shifts = (seeds["true_prevalence"] - seeds["baseline_true_prevalence"]).to_numpy()
    expected = _expected(shifts)
    named = measured["named"]
    if expected:
        correct = int((named == expected).sum())
        wrong = int((named == _OPPOSITE[expected]).sum())
    else:
        correct, wrong = 0, int((named != "").sum())
    n_measured = len(measured)
    return {
        **dict(zip(_KEYS, keys, strict=True)),
        "feature": feature[2],
        "kind": feature[0],
        "group": feature[1],
        "n_seeds": seeds["seed"].nunique(),
        "n_measurable": n_measured,
        "true_prevalence": seeds["true_prevalence"].mean(),
        "baseline_true_prevalence": seeds["baseline_true_prevalence"].mean(),
        "planted_shift": float(np.mean(shifts)) if shifts.size else np.nan,
        "estimate": measured["estimate"].mean() if n_measured else np.nan,
        "covered": int(measured["covered"].sum()),
        "rows": n_measured,
        "coverage": measured["covered"].mean() if n_measured else np.nan,
        "expected": expected,
        "named_correctly": correct,
        "named_wrongly": wrong,
        "null_set": null_set,
        "role": "drop" if expected else "null",
    }


def _summary_row(keys: tuple, frame: pd.DataFrame, null_set: bool, alpha: float) -> dict:
    attributes = frame[(frame["kind"] == "attribute") & frame["measurable"]]
    rows = len(attributes)
    row = {
        **dict(zip(_KEYS, keys, strict=True)),
        "feature": "ALL",
        "kind": "summary",
        "group": "",
        "n_seeds": frame["seed"].nunique(),
        "n_measurable": attributes["seed"].nunique(),
        "covered": int(attributes["covered"].sum()),
        "rows": rows,
        "coverage": attributes["covered"].mean() if rows else np.nan,
        "null_set": null_set,
        "role": "null" if null_set else "",
    }
    if null_set:
        named = attributes["named"] != ""
        sets = attributes.loc[named, "seed"].nunique()
        row.update(
            false_positives=int(named.sum()),
            false_positive_rate=named.mean() if rows else np.nan,
            sets_with_false_positive=sets,
            set_false_positive_rate=sets / row["n_seeds"],
            expected_level=alpha,
        )
    return row


def validation_table(
    rows: pd.DataFrame, targets: Mapping[str, Sequence[str]], *, alpha: float = 0.05
) -> pd.DataFrame:
    """The attribution checked against the planted truth, per (encoder, experiment, condition).

    Feature rows (one per planted feature: each target attribute of the experiment with kind
    ``attribute``, and each cell of the experiment's target group, kind ``combination`` with
    group == experiment; pseudo-attributes such as ``Random`` are skipped), aggregated over
    seeds: ``n_seeds``; ``n_measurable`` (seeds whose row was measurable; the statistics below
    count those); ``true_prevalence``, ``baseline_true_prevalence``, ``planted_shift`` (their
    difference) and ``estimate`` as means; ``covered`` = seeds whose ``[ci_low, ci_high]``
    contains the labelled share (``coverage`` = covered / n_measurable); ``expected`` = the
    direction of the planted shift where ``|shift| >=`` :data:`SHIFT_THRESHOLD` with one sign in
    every seed, else ``""``; ``named_correctly`` = seeds named in that direction;
    ``named_wrongly`` = seeds named the other way, or named at all where nothing is expected;
    ``role`` = ``drop`` where a shift is expected, else ``null``.

    Summary rows (feature ``ALL``, kind ``summary``): ``covered`` / ``rows`` = ``coverage``
    over every measurable attribute row of every seed; for null sets (every ``unbiased``
    condition and every non-collapse condition of an experiment with only pseudo-attribute
    targets; ``null_set`` True on every row of such a set, ``role`` ``null``) also ``false_positives`` (attribute rows
    named) and ``false_positive_rate`` (their share of rows), ``sets_with_false_positive`` and
    ``set_false_positive_rate`` (share of seeds naming anything) with ``expected_level`` =
    ``alpha``: Holm's correction over every row of a set keeps the chance that a null set names
    anything <= alpha (Holm 1979). Columns not applicable to a row are NaN.
    """
    frame = _checked(rows)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1; got {alpha!r}.")
    unknown = sorted(set(frame["experiment"].astype(str)) - {str(e) for e in targets})
    if unknown:
        raise ValueError(
            f"targets has no entry for experiment(s) {unknown}; pass experiment -> its target "
            "attributes for every experiment in rows."
        )
    out = []
    for keys, sets in frame.groupby(_KEYS, sort=False):
        experiment, condition = str(keys[1]), str(keys[2])
        experiment_targets = [str(a) for a in targets[experiment]]
        planted = [a for a in experiment_targets if a not in NO_PROBE_ATTRIBUTES]
        chosen = ((sets["kind"] == "attribute") & sets["feature"].isin(planted)) | (
            (sets["kind"] == "combination") & (sets["group"] == experiment)
        )
        null_set = _is_null_set(condition, experiment_targets)
        for feature, seeds in sets[chosen].groupby(["kind", "group", "feature"], sort=False):
            out.append(_feature_row(keys, feature, seeds, null_set))
        out.append(_summary_row(keys, sets, null_set, alpha))
    table = pd.DataFrame(out, columns=VALIDATION_COLUMNS)
    table["null_set"] = table["null_set"].astype(bool)
    table["expected"] = table["expected"].fillna("")
    table["kind_rank"] = table["kind"].map({"attribute": 0, "combination": 1, "summary": 2})
    table = table.sort_values(
        [*_KEYS, "kind_rank"],
        key=lambda s: condition_sort_key(s) if s.name == "condition" else s,
        kind="stable",
    )
    return table.drop(columns="kind_rank").reset_index(drop=True)
