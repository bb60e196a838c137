"""The study's answer, from the detection and metric tables: which metric notices a dropped mode,
and how often does it raise a false alarm?

Two tables, both one row per (dataset, output, encoder), outputs in the registry's order
(:data:`modedrop.metrics.OUTPUTS`; unregistered outputs after, alphabetically):

* :func:`null_calibration_table` - the measured null. A *null experiment* splits the images on
  the pseudo-attribute ``Random`` (a fixed random half of the images), so its ``target``,
  ``nontarget`` and ``dose*`` conditions drop nothing real and every detection among them is a
  false positive. (Its ``collapse*`` conditions are real intra-mode collapses and are left out.)
  For reference-based outputs, it also reports where the ``unbiased`` subsets sit against the
  held-out reference, which is drawn with the unbiased allocation: a same-distribution
  comparison, whose value should be the output's null expectation where it has one.
* :func:`headline_table` - per output, in how many drop experiments (every experiment that is not
  a null one) BOTH the ``target`` and the ``nontarget`` condition were detected, and whether the
  output ever moved significantly the wrong way; with the false-positive rate beside it.

``detected`` and ``wrong_direction`` are those of :func:`modedrop.stats.detection_table`
(one-sided Welch test in the output's worse direction, Holm-adjusted over every comparison of the
data set; resp. two-sided and the better direction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from modedrop.design import RANDOM_ATTRIBUTE, condition_fraction
from modedrop.metrics import METRICS, OUTPUTS
from modedrop.stats import LONG_COLUMNS

__all__ = [
    "HEADLINE_COLUMNS",
    "NULL_ATTRIBUTES",
    "NULL_CALIBRATION_COLUMNS",
    "clopper_pearson_upper",
    "headline_table",
    "is_null_condition",
    "null_calibration_table",
    "null_experiments",
]

#: The attribute list of a null experiment: the pseudo-attribute of a fixed random half.
NULL_ATTRIBUTES: tuple[str, ...] = (RANDOM_ATTRIBUTE,)

NULL_CALIBRATION_COLUMNS: tuple[str, ...] = (
    "dataset",
    "encoder",
    "metric",
    "n_null",
    "n_detected",
    "false_positive_rate",
    "fpr_upper95",
    "n_wrong_direction",
    "wrong_direction_rate",
    "n_unbiased",
    "unbiased_mean",
    "unbiased_sd",
    "null_expectation",
)

HEADLINE_COLUMNS: tuple[str, ...] = (
    "dataset",
    "encoder",
    "metric",
    "worse",
    "n_experiments",
    "n_dropped",
    "n_detected",
    "n_wrong_direction",
    "n_both_sides",
    "notices_drops",
    "detected_drops",
    "wrong_direction_drops",
    "undetected_drops",
    "n_dose",
    "n_dose_detected",
    "n_collapse",
    "n_collapse_detected",
    "n_null",
    "false_positive_rate",
    "fpr_upper95",
)

_DETECTION_REQUIRED = (
    "dataset",
    "experiment",
    "encoder",
    "metric",
    "condition",
    "detected",
    "wrong_direction",
)
_KEYS = ["dataset", "encoder", "metric"]
_DROP_SIDES = ("target", "nontarget")
#: Null expectation of a same-distribution comparison: C2ST accuracy of balanced classes.
_CHANCE = {"c2st_logistic": 0.5, "c2st_knn": 0.5}


def null_experiments(experiments: Mapping[str, Sequence[str]]) -> list[str]:
    """Names of the null experiments: those whose attribute list is exactly ``["Random"]``."""
    _check_experiments(experiments)
    return [name for name, attrs in experiments.items() if tuple(attrs) == NULL_ATTRIBUTES]


def is_null_condition(condition: str) -> bool:
    """True for the conditions of a null experiment that drop nothing real: ``target``,
    ``nontarget`` and ``dose<P>``; False for ``unbiased`` and ``collapse<F>`` (a real
    intra-mode collapse whatever the split)."""
    condition = str(condition)
    if condition == "nontarget":
        return True
    kind, _ = condition_fraction(condition)
    return kind == "dose" and condition != "unbiased"


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a binomial proportion (Clopper & Pearson 1934,
    "The use of confidence or fiducial limits illustrated in the case of the binomial",
    Biometrika 26:404-413): the ``confidence`` quantile of Beta(k + 1, n - k); 1 when k = n and
    NaN when n = 0. Equal to ``scipy.stats.binomtest(k, n, alternative="less")
    .proportion_ci(confidence, method="exact").high``."""
    if n == 0:
        return math.nan
    if not 0 <= k <= n:
        raise ValueError(f"Need 0 <= k <= n for a binomial bound; got k={k}, n={n}.")
    if k == n:
        return 1.0
    return float(_st.beta.ppf(confidence, k + 1, n - k))


def null_calibration_table(
    detection: pd.DataFrame,
    metrics: pd.DataFrame,
    experiments: Mapping[str, Sequence[str]],
    alpha: float,
    *,
    ndb_alpha: float | None = None,
) -> pd.DataFrame:
    """False-positive rate of every output on the null experiments, and the unbiased subsets
    against the reference.

    One row per (dataset, encoder, metric output) of ``detection`` (columns
    :data:`NULL_CALIBRATION_COLUMNS`):

    * ``n_null``: the null comparisons - rows of a null experiment (:func:`null_experiments`)
      whose condition is ``target``, ``nontarget`` or ``dose*`` (:func:`is_null_condition`);
    * ``n_detected`` of them and ``false_positive_rate = n_detected / n_null`` (NaN when
      n_null = 0), ``fpr_upper95`` its one-sided 95 % Clopper-Pearson upper bound
      (:func:`clopper_pearson_upper`); ``n_wrong_direction`` and ``wrong_direction_rate``
      likewise for ``wrong_direction``. The bound treats the null comparisons as independent
      trials; they share the unbiased baseline of their (experiment, encoder), so it is
      optimistic, and with one null experiment (5 comparisons) it is wide (0.45 for 0 of 5);
    * for reference-based outputs only (the family's ``reference`` flag in
      :data:`modedrop.metrics.METRICS`; NaN for the others): ``n_unbiased`` (the non-NaN
      values of condition ``unbiased`` in ``metrics``, one per (experiment, seed), every
      experiment), their ``unbiased_mean`` and ``unbiased_sd`` (ddof 1), and the
      ``null_expectation`` of a same-distribution comparison: ``ndb_alpha`` for
      ``ndb_fraction`` (the per-bin test level of NDB, by default ``alpha``), 0.5 for
      ``c2st_logistic`` and ``c2st_knn`` (chance accuracy), NaN for the others.

    ``alpha`` is the detection level (in (0, 1)); ``experiments`` maps each experiment name to
    its attribute list (config ``experiments``), and must name every experiment of
    ``detection``. Raises ValueError on missing columns, empty tables or an unknown experiment.
    """
    alpha = _check_alpha(alpha, "alpha")
    ndb_alpha = alpha if ndb_alpha is None else _check_alpha(ndb_alpha, "ndb_alpha")
    det = _validated_detection(detection, experiments)
    long = _validated_metrics(metrics)
    nulls = set(null_experiments(experiments))

    null_rows = det[det["experiment"].isin(nulls) & det["condition"].map(is_null_condition)]
    counts = null_rows.groupby(_KEYS, sort=False).agg(
        n_null=("detected", "size"),
        n_detected=("detected", "sum"),
        n_wrong_direction=("wrong_direction", "sum"),
    )
    out = _row_frame(det).join(counts, on=_KEYS)
    for column in ("n_null", "n_detected", "n_wrong_direction"):
        out[column] = out[column].fillna(0).astype("int64")
    n = out["n_null"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["false_positive_rate"] = np.where(n > 0, out["n_detected"] / n, np.nan)
        out["wrong_direction_rate"] = np.where(n > 0, out["n_wrong_direction"] / n, np.nan)
    out["fpr_upper95"] = [
        clopper_pearson_upper(int(k), int(m))
        for k, m in zip(out["n_detected"], out["n_null"], strict=True)
    ]

    unbiased = long[(long["condition"] == "unbiased") & long["value"].notna()]
    stats = unbiased.groupby(_KEYS, sort=False)["value"].agg(
        n_unbiased="count", unbiased_mean="mean", unbiased_sd=lambda v: v.std(ddof=1)
    )
    out = out.join(stats, on=_KEYS)
    flags = _reference_outputs()
    reference = out["metric"].map(lambda m: flags.get(m, False)).astype(bool)
    out.loc[~reference, ["n_unbiased", "unbiased_mean", "unbiased_sd"]] = np.nan
    out.loc[reference, "n_unbiased"] = out.loc[reference, "n_unbiased"].fillna(0)
    out["n_unbiased"] = out["n_unbiased"].astype("Int64")
    expectation = {"ndb_fraction": ndb_alpha, **_CHANCE}
    out["null_expectation"] = np.where(
        reference, out["metric"].map(expectation).astype("float64"), np.nan
    )
    return out[list(NULL_CALIBRATION_COLUMNS)].reset_index(drop=True)


def headline_table(
    detection: pd.DataFrame,
    null_calibration: pd.DataFrame,
    experiments: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """Which output notices a dropped mode? One row per (dataset, encoder, metric output).

    Columns (:data:`HEADLINE_COLUMNS`), counted over the *drop experiments* (every experiment of
    ``experiments`` that is not a null one, :func:`null_experiments`) present in the data set's
    detection table:

    * ``worse``: the output's worse direction (registry; empty if unregistered);
    * ``n_experiments``: the drop experiments; ``n_dropped``: their ``target`` and
      ``nontarget`` rows of this output, ``n_detected`` and ``n_wrong_direction`` of them;
    * ``n_both_sides``: drop experiments where BOTH ``target`` and ``nontarget`` are detected;
    * ``notices_drops``: ``n_both_sides == n_experiments > 0`` and ``n_wrong_direction == 0``.
      An output that flags only one side of a drop (e.g. a distance that grows when the set
      loses a high-variance mode but shrinks, or stays, when it loses the other) does not
      notice dropped modes: it reacts to the kept mode's properties;
    * ``detected_drops``, ``wrong_direction_drops``, ``undetected_drops``: those target /
      nontarget rows as space-separated ``experiment:condition`` (every row is in exactly one);
    * ``n_dose`` / ``n_dose_detected``: the drop experiments' ``dose*`` rows (partial drops);
      ``n_collapse`` / ``n_collapse_detected``: the ``collapse*`` rows of every experiment,
      null ones included (a collapse is real whatever the split);
    * ``n_null``, ``false_positive_rate``, ``fpr_upper95``: from ``null_calibration``
      (:func:`null_calibration_table`); NaN when the study has no null experiment.

    Raises ValueError on missing columns, empty tables, an unknown experiment, or no drop
    experiment in ``detection``.
    """
    det = _validated_detection(detection, experiments)
    _require(
        null_calibration,
        [*_KEYS, "n_null", "false_positive_rate", "fpr_upper95"],
        "null_calibration",
        "pass the output of modedrop.headline.null_calibration_table()",
    )
    nulls = set(null_experiments(experiments))
    drops = det[~det["experiment"].isin(nulls)]
    if drops.empty:
        raise ValueError(
            f"No drop experiment in the detection table: every experiment present "
            f"({sorted(det['experiment'].astype(str).unique())}) is a null one (attributes "
            "[Random]). Add an experiment that drops a real attribute to config 'experiments'."
        )
    n_experiments = drops.groupby("dataset")["experiment"].nunique()
    is_side = drops["condition"].isin(_DROP_SIDES)
    sides = drops[is_side]
    dose = drops[drops["condition"].map(is_null_condition) & ~is_side]
    collapse = det[det["condition"].map(lambda c: condition_fraction(c)[0] == "collapse")]

    out = _row_frame(det)
    out["worse"] = out["metric"].map({n: o.worse for n, o in OUTPUTS.items()}).fillna("")
    out["n_experiments"] = out["dataset"].map(n_experiments).fillna(0).astype("int64")
    label = sides["experiment"].astype(str) + ":" + sides["condition"].astype(str)
    sides = sides.assign(
        label=label,
        undetected=~(sides["detected"] | sides["wrong_direction"]),
    )
    both = (
        sides[sides["detected"]]
        .groupby([*_KEYS, "experiment"])["condition"]
        .nunique()
        .eq(len(_DROP_SIDES))
        .groupby(level=_KEYS)
        .sum()
    )
    per_row = sides.groupby(_KEYS, sort=False).agg(
        n_dropped=("detected", "size"),
        n_detected=("detected", "sum"),
        n_wrong_direction=("wrong_direction", "sum"),
    )
    out = out.join(per_row, on=_KEYS).join(both.rename("n_both_sides"), on=_KEYS)
    for column, flag in (
        ("detected_drops", "detected"),
        ("wrong_direction_drops", "wrong_direction"),
        ("undetected_drops", "undetected"),
    ):
        lists = sides[sides[flag]].groupby(_KEYS, sort=False)["label"].agg(" ".join)
        out = out.join(lists.rename(column), on=_KEYS)
        out[column] = out[column].fillna("")
    for name, rows in (("dose", dose), ("collapse", collapse)):
        counts = rows.groupby(_KEYS, sort=False)["detected"].agg(["size", "sum"])
        counts.columns = [f"n_{name}", f"n_{name}_detected"]
        out = out.join(counts, on=_KEYS)
    count_columns = [c for c in HEADLINE_COLUMNS if c.startswith("n_") and c != "n_null"]
    out[count_columns] = out[count_columns].fillna(0).astype("int64")
    out["notices_drops"] = (
        (out["n_experiments"] > 0)
        & (out["n_both_sides"] == out["n_experiments"])
        & (out["n_wrong_direction"] == 0)
    )

    calibration = null_calibration.drop_duplicates(subset=_KEYS).set_index(_KEYS)
    if nulls & set(det["experiment"]):
        for column in ("n_null", "false_positive_rate", "fpr_upper95"):
            out = out.join(calibration[column], on=_KEYS)
    else:
        out[["n_null", "false_positive_rate", "fpr_upper95"]] = np.nan
    out["n_null"] = pd.to_numeric(out["n_null"]).astype("Int64")
    return out[list(HEADLINE_COLUMNS)].reset_index(drop=True)


# --------------------------------------------------------------------------- helpers


def _reference_outputs() -> dict[str, bool]:
    return {o.name: spec.reference for spec in METRICS.values() for o in spec.outputs}


def _check_alpha(alpha, name: str) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1); got {alpha!r}.") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1) (e.g. config detection.alpha); got {alpha}.")
    return value


def _check_experiments(experiments) -> None:
    if not isinstance(experiments, Mapping) or not experiments:
        raise ValueError(
            "experiments must be a non-empty mapping {name: [attributes]}, e.g. "
            "{name: list(block['attributes']) for name, block in config['experiments'].items()}; "
            f"got {experiments!r}."
        )
    for name, attrs in experiments.items():
        if isinstance(attrs, str) or not isinstance(attrs, Sequence):
            raise ValueError(
                f"experiments[{name!r}] must be a list of attribute names; got {attrs!r}."
            )


def _require(frame, columns: Sequence[str], what: str, fix: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame; got {type(frame).__name__}: {fix}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}; {fix} (got columns {list(frame.columns)})."
        )
    if frame.empty:
        raise ValueError(f"{what} is empty; {fix}.")


def _flag(series: pd.Series, name: str) -> pd.Series:
    """A boolean column (as written by detection_table and read back by pandas)."""
    if series.dtype == bool:
        return series
    mapping = {True: True, False: False, "True": True, "False": False}
    mapped = series.map(lambda v: mapping.get(v, mapping.get(str(v))))
    if mapped.isna().any():
        bad = sorted({str(v) for v in series[mapped.isna()]})[:5]
        raise ValueError(f"Column {name!r} must hold True/False; found {bad}.")
    return mapped.astype(bool)


def _validated_detection(detection, experiments) -> pd.DataFrame:
    _check_experiments(experiments)
    _require(
        detection,
        _DETECTION_REQUIRED,
        "detection",
        "pass tables/detection.csv, the output of modedrop.stats.detection_table()",
    )
    unknown = sorted(set(detection["experiment"].astype(str)) - set(experiments))
    if unknown:
        raise ValueError(
            f"Experiment(s) {unknown} of the detection table are not in experiments "
            f"({sorted(experiments)}): pass every experiment's attributes (config 'experiments'), "
            "or filter the detection table to the configured experiments."
        )
    det = detection[list(_DETECTION_REQUIRED)].copy()
    for column in ("dataset", "experiment", "encoder", "metric", "condition"):
        det[column] = det[column].astype(str)
    det["detected"] = _flag(det["detected"], "detected")
    det["wrong_direction"] = _flag(det["wrong_direction"], "wrong_direction")
    return det


def _validated_metrics(metrics) -> pd.DataFrame:
    _require(
        metrics,
        LONG_COLUMNS,
        "metrics",
        "pass tables/metrics.csv (the long table of modedrop.records.read_records())",
    )
    long = metrics[list(LONG_COLUMNS)].copy()
    for column in _KEYS + ["condition"]:
        long[column] = long[column].astype(str)
    values = pd.to_numeric(long["value"], errors="coerce")
    if (values.isna() & long["value"].notna()).any():
        raise ValueError("Column 'value' of metrics must be numeric; found non-numeric entries.")
    long["value"] = values.astype("float64")
    return long


def _row_frame(det: pd.DataFrame) -> pd.DataFrame:
    """The (dataset, encoder, metric) rows of a detection table: datasets sorted, outputs in
    registry order (unregistered after, alphabetically), then encoders sorted."""
    rows = det[_KEYS].drop_duplicates()
    rank = {name: i for i, name in enumerate(OUTPUTS)}
    rows = rows.assign(_rank=rows["metric"].map(rank).fillna(len(rank)))
    rows = rows.sort_values(["dataset", "_rank", "metric", "encoder"], kind="stable")
    return rows.drop(columns="_rank").reset_index(drop=True)
