"""Aggregation of per-seed metric values, and the statistics that say whether a metric detects
a dropped mode: effect size, Welch and permutation tests, Holm adjustment, AUROC."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "CONDITION_ORDER",
    "DETECTION_COLUMNS",
    "GROUP_COLUMNS",
    "LONG_COLUMNS",
    "SUMMARY_COLUMNS",
    "auroc",
    "condition_sort_key",
    "detection_table",
    "hedges_g",
    "holm",
    "permutation_pvalue",
    "summarize",
    "welch_test",
]

Alternative = Literal["greater", "less", "two-sided"]
Worse = Literal["higher", "lower"]

#: Display / sort order of the subset conditions; other conditions follow alphabetically.
CONDITION_ORDER: tuple[str, ...] = (
    "unbiased",
    "target",
    "nontarget",
    "dose25",
    "dose50",
    "dose75",
    "collapse25",
    "collapse50",
)

GROUP_COLUMNS: tuple[str, ...] = ("dataset", "experiment", "encoder", "metric", "condition")
LONG_COLUMNS: tuple[str, ...] = (*GROUP_COLUMNS, "seed", "value")
SUMMARY_COLUMNS: tuple[str, ...] = (
    *GROUP_COLUMNS,
    "mean",
    "std",
    "n",
    "ci95_low",
    "ci95_high",
)
DETECTION_COLUMNS: tuple[str, ...] = (
    *GROUP_COLUMNS,
    "worse",
    "n_baseline",
    "n_condition",
    "mean_baseline",
    "std_baseline",
    "mean_condition",
    "std_condition",
    "hedges_g",
    "welch_t",
    "p_one_sided",
    "p_two_sided",
    "p_permutation",
    "p_holm",
    "p_holm_two_sided",
    "auroc",
    "detected",
    "wrong_direction",
)

_ALTERNATIVES = ("greater", "less", "two-sided")
_WORSE = ("higher", "lower")


def condition_sort_key(conditions: pd.Series) -> pd.Series:
    """Sort key putting CONDITION_ORDER first, then other conditions alphabetically."""
    others = sorted({str(c) for c in conditions.dropna().unique()} - set(CONDITION_ORDER))
    rank = {c: i for i, c in enumerate((*CONDITION_ORDER, *others))}
    return conditions.map(lambda c: rank.get(str(c), len(rank)) if pd.notna(c) else len(rank))


def _validated_long(long: pd.DataFrame) -> pd.DataFrame:
    """The group columns, ``seed`` and a float ``value`` of a checked long table."""
    if not isinstance(long, pd.DataFrame):
        raise ValueError(f"Expected a pandas DataFrame in long form, got {type(long).__name__}.")
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(
            f"Missing required column(s) {missing}; the long table needs columns "
            f"{list(LONG_COLUMNS)} (one row per metric value and seed). "
            f"Got columns {list(long.columns)}."
        )
    keys = list(GROUP_COLUMNS)
    dup = long.duplicated(subset=[*keys, "seed"], keep=False)
    if dup.any():
        example = long.loc[dup, [*keys, "seed"]].iloc[0].to_dict()
        raise ValueError(
            f"{int(dup.sum())} rows share the same group and seed (e.g. {example}); each seed "
            "must appear once per (dataset, experiment, encoder, metric, condition). "
            "Drop duplicate result files before summarising."
        )
    values = pd.to_numeric(long["value"], errors="coerce")
    if (values.isna() & long["value"].notna()).any():
        raise ValueError("Column 'value' must be numeric; found non-numeric entries.")
    frame = long[[*keys, "seed"]].copy()
    frame["value"] = values.astype("float64")
    return frame


def _sort_groups(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(
        by=list(GROUP_COLUMNS),
        key=lambda s: condition_sort_key(s) if s.name == "condition" else s,
        kind="stable",
    ).reset_index(drop=True)


def summarize(long: pd.DataFrame) -> pd.DataFrame:
    """Summarise per-seed values: one row per (dataset, experiment, encoder, metric, condition).

    Input: long form with columns ``dataset, experiment, encoder, metric, condition, seed,
    value`` (extra columns are ignored). Values that are NaN are left out of the statistics.
    Output columns: the five group columns, ``mean``, ``std`` (ddof=1; NaN when n = 1), ``n``
    (number of non-NaN values), ``ci95_low``/``ci95_high`` (Student-t interval
    ``mean -/+ t_{0.975, n-1} * std / sqrt(n)``; NaN when n < 2). Rows are sorted by dataset,
    experiment, encoder, metric, then condition in :data:`CONDITION_ORDER` (other conditions
    after, alphabetically).
    """
    frame = _validated_long(long)
    keys = list(GROUP_COLUMNS)
    if frame.empty:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in SUMMARY_COLUMNS})
        out["n"] = out["n"].astype("int64")
        for c in keys:
            out[c] = out[c].astype(long[c].dtype)
        return out

    grouped = frame.groupby(keys, sort=False, dropna=False)["value"]
    out = grouped.agg(mean="mean", std=lambda v: v.std(ddof=1), n="count").reset_index()
    out["n"] = out["n"].astype("int64")
    n = out["n"].to_numpy()
    std = out["std"].to_numpy(dtype="float64")
    mean = out["mean"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        tcrit = np.where(n >= 2, _st.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
        half = tcrit * std / np.sqrt(n)
    out.loc[n < 2, "std"] = np.nan
    out["ci95_low"] = np.where(n >= 2, mean - half, np.nan)
    out["ci95_high"] = np.where(n >= 2, mean + half, np.nan)
    return _sort_groups(out)[list(SUMMARY_COLUMNS)]


# --------------------------------------------------------------------------- two-sample tests


def _sample(values, name: str, min_size: int) -> np.ndarray:
    """A 1-D float array of finite values with at least ``min_size`` entries."""
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a 1-D sequence of numbers; {err}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per seed); got shape {array.shape}.")
    if array.size < min_size:
        raise ValueError(
            f"{name} needs at least {min_size} values; got {array.size}. Run more seeds."
        )
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; drop them (e.g. values[np.isfinite(values)])"
            " before testing."
        )
    return array


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}; got {alternative!r}.")


def _check_worse(worse: str, what: str = "worse") -> None:
    if worse not in _WORSE:
        raise ValueError(f"{what} must be 'higher' or 'lower'; got {worse!r}.")


def hedges_g(baseline, other) -> float:
    """Hedges' g: bias-corrected standardised mean difference of ``other`` minus ``baseline``.

    ``g = J * (mean(other) - mean(baseline)) / s_p`` with the pooled standard deviation
    ``s_p = sqrt(((n1 - 1) s1^2 + (n2 - 1) s2^2) / (n1 + n2 - 2))`` (sample variances, ddof 1)
    and the small-sample correction ``J = 1 - 3 / (4 (n1 + n2) - 9)`` (Hedges 1981, J. Educ.
    Stat. 6(2):107-128, eq. 6e; Hedges & Olkin 1985, *Statistical Methods for Meta-Analysis*,
    ch. 5: the usual approximation of the exact gamma-function factor). When both samples
    are constant (``s_p = 0``) g is 0.0 for equal means and +-inf otherwise. Both samples need
    at least 2 finite values.
    """
    b = _sample(baseline, "baseline", 2)
    o = _sample(other, "other", 2)
    n1, n2 = b.size, o.size
    diff = float(o.mean() - b.mean())
    pooled_var = ((n1 - 1) * b.var(ddof=1) + (n2 - 1) * o.var(ddof=1)) / (n1 + n2 - 2)
    if pooled_var == 0.0:
        # Constant samples: the standardised difference is 0/0 or d/0.
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    correction = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)
    return correction * diff / math.sqrt(pooled_var)


def welch_test(baseline, other, alternative: Alternative = "two-sided") -> tuple[float, float]:
    """Welch's unequal-variance t test of ``mean(other)`` against ``mean(baseline)``.

    Returns ``(t, p)`` from ``scipy.stats.ttest_ind(other, baseline, equal_var=False,
    alternative=alternative)`` (Welch 1947, Biometrika 34:28-35): t is positive when
    ``other`` has the larger mean; ``alternative="greater"`` tests ``mean(other) >
    mean(baseline)``. When both samples are constant the t statistic is 0.0 (equal means) or
    +-inf and the p-value is NaN - there is no variance to test against (scipy would report
    p = 0) - so such comparisons are never counted as detections. Both samples need at least
    2 finite values.
    """
    _check_alternative(alternative)
    b = _sample(baseline, "baseline", 2)
    o = _sample(other, "other", 2)
    if np.ptp(b) == 0.0 and np.ptp(o) == 0.0:
        diff = float(o.mean() - b.mean())
        return (0.0 if diff == 0.0 else math.copysign(math.inf, diff)), math.nan
    result = _st.ttest_ind(o, b, equal_var=False, alternative=alternative)
    return float(result.statistic), float(result.pvalue)


@functools.lru_cache(maxsize=16)
def _relabellings(n_total: int, n_other: int) -> np.ndarray:
    """Every choice of ``n_other`` of ``n_total`` positions, as a (C, n_other) index array."""
    count = math.comb(n_total, n_other)
    flat = itertools.chain.from_iterable(itertools.combinations(range(n_total), n_other))
    return np.fromiter(flat, dtype=np.intp, count=count * n_other).reshape(count, n_other)


def _mean_difference(x, y, axis: int = -1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def permutation_pvalue(
    baseline,
    other,
    alternative: Alternative = "greater",
    *,
    max_exact: int = 100_000,
    n_resamples: int = 9_999,
    seed: int = 0,
) -> float:
    """Permutation p-value of the mean difference ``mean(other) - mean(baseline)``.

    Exact when the number of relabellings ``C(n1 + n2, n1)`` is at most ``max_exact``: the
    p-value is the fraction of all relabellings (the observed one included) whose difference
    is at least as extreme as the observed one ("greater": >=, "less": <=, "two-sided":
    ``min(1, 2 min(p_greater, p_less))``, the convention of ``scipy.stats.permutation_test``).
    With 5 vs 5 seeds there are C(10, 5) = 252 relabellings, so the smallest possible one-sided
    p-value is 1/252 = 0.00397: a fully separated 5-vs-5 comparison cannot reach p < 0.004, and
    would not survive a multiple-comparison correction over many tests. Otherwise a Monte Carlo
    test with ``n_resamples`` random relabellings from ``scipy.stats.permutation_test`` (seeded
    by ``seed``; p = (hits + 1) / (n_resamples + 1)). Ties are counted as at least as extreme,
    with a tolerance of a few ulps of the data so that rounding does not break them.
    Reference: Good (2005), *Permutation, Parametric and Bootstrap Tests of Hypotheses*, ch. 3;
    scipy 1.17, scipy/stats/_resampling.py (``permutation_test``).
    """
    _check_alternative(alternative)
    b = _sample(baseline, "baseline", 1)
    o = _sample(other, "other", 1)
    if max_exact < 1 or n_resamples < 1:
        raise ValueError(
            f"max_exact and n_resamples must be positive; got {max_exact} and {n_resamples}."
        )
    n1, n2 = b.size, o.size
    if math.comb(n1 + n2, n2) > max_exact:
        result = _st.permutation_test(
            (o, b),
            _mean_difference,
            permutation_type="independent",
            vectorized=True,
            n_resamples=n_resamples,
            alternative=alternative,
            rng=np.random.default_rng(seed),
        )
        return float(result.pvalue)

    pooled = np.concatenate([b, o])
    other_sums = pooled[_relabellings(n1 + n2, n2)].sum(axis=1)
    differences = other_sums / n2 - (pooled.sum() - other_sums) / n1
    # The lexicographically last relabelling puts `other` at its own positions: the observed
    # difference, computed exactly like the others so that ties compare equal.
    observed = differences[-1]
    tolerance = 8 * pooled.size * np.finfo("float64").eps * max(float(np.abs(pooled).max()), 1e-300)
    p_greater = float(np.mean(differences >= observed - tolerance))
    p_less = float(np.mean(differences <= observed + tolerance))
    if alternative == "greater":
        return p_greater
    if alternative == "less":
        return p_less
    return min(1.0, 2.0 * min(p_greater, p_less))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979, Scand. J. Stat. 6(2):65-70).

    With the m non-NaN p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value
    of ``p_(i)`` is ``min(1, max_{j <= i} (m - j + 1) p_(j))``; rejecting where the adjusted
    p-value is below alpha controls the family-wise error rate at alpha. NaN entries are
    passed through as NaN and do not count in m. Same values as
    ``statsmodels.stats.multitest.multipletests(method="holm")``; scipy 1.17 has no Holm
    (``scipy.stats.false_discovery_control`` is Benjamini-Hochberg / -Yekutieli only).
    """
    try:
        p = np.asarray(pvalues, dtype="float64")
    except (TypeError, ValueError) as err:
        raise ValueError(f"pvalues must be a 1-D sequence of numbers; {err}") from None
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D; got shape {p.shape}.")
    valid = ~np.isnan(p)
    if ((p[valid] < 0) | (p[valid] > 1)).any():
        raise ValueError("pvalues must lie in [0, 1] (or be NaN to skip a test).")
    adjusted = np.full(p.shape, np.nan)
    finite = p[valid]
    m = finite.size
    if m == 0:
        return adjusted
    order = np.argsort(finite, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * finite[order])
    result = np.empty(m)
    result[order] = np.minimum(stepped, 1.0)
    adjusted[valid] = result
    return adjusted


def auroc(baseline, other, worse: Worse) -> float:
    """Probability that a value of ``other`` is worse than a value of ``baseline`` (ties 1/2).

    ``AUROC = U / (n1 n2)`` with the Mann-Whitney U statistic of ``other`` against
    ``baseline`` counted in the worse direction (Mann & Whitney 1947; Hanley & McNeil 1982,
    Radiology 143:29-36): for ``worse="higher"``, ``P(other > baseline) + P(tie) / 2``; for
    ``worse="lower"``, ``P(other < baseline) + P(tie) / 2``. 1.0: every condition seed is worse
    than every baseline seed; 0.5: no separation. Computed from mid-ranks (O(n log n), no
    n1 x n2 matrix).
    """
    _check_worse(worse)
    b = _sample(baseline, "baseline", 1)
    o = _sample(other, "other", 1)
    if worse == "lower":
        b, o = -b, -o
    ranks = _st.rankdata(np.concatenate([b, o]))
    u_other = ranks[b.size :].sum() - o.size * (o.size + 1) / 2.0
    return float(u_other / (b.size * o.size))


# --------------------------------------------------------------------------- detection table


def _comparison(base: np.ndarray, cond: np.ndarray, worse: str) -> dict:
    """Statistics of one condition against the baseline (NaN where a sample is too small)."""
    row = {
        "n_baseline": base.size,
        "n_condition": cond.size,
        "mean_baseline": base.mean() if base.size else math.nan,
        "std_baseline": base.std(ddof=1) if base.size > 1 else math.nan,
        "mean_condition": cond.mean() if cond.size else math.nan,
        "std_condition": cond.std(ddof=1) if cond.size > 1 else math.nan,
    }
    nan_stats = dict.fromkeys(
        ("hedges_g", "welch_t", "p_one_sided", "p_two_sided", "p_permutation", "auroc"), math.nan
    )
    if base.size < 2 or cond.size < 2:
        return row | nan_stats
    sign = 1.0 if worse == "higher" else -1.0
    worse_alternative = "greater" if worse == "higher" else "less"
    # One t test, not two: the t distribution is symmetric, so the one-sided p-value in the
    # worse direction is p/2 when t points that way and 1 - p/2 otherwise (as scipy computes
    # it); scipy's per-call overhead dominates the run time of large tables.
    t, p_two = welch_test(base, cond, "two-sided")
    p_one = p_two / 2 if sign * t > 0 else 1 - p_two / 2
    return row | {
        "hedges_g": sign * hedges_g(base, cond),
        "welch_t": t,
        "p_one_sided": p_one,
        "p_two_sided": p_two,
        "p_permutation": permutation_pvalue(base, cond, worse_alternative),
        "auroc": auroc(base, cond, worse),
    }


def detection_table(
    long: pd.DataFrame,
    worse: Mapping[str, str],
    *,
    baseline: str = "unbiased",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Does each metric move in its "worse" direction when a mode is dropped?

    For every (dataset, experiment, encoder, metric) and every condition other than
    ``baseline``, the condition's per-seed values are compared with the baseline's (NaN values
    dropped). ``worse`` maps each metric to ``"higher"`` or ``"lower"``: the direction in which
    the metric reports a less diverse set or one further from the reference.

    Columns (:data:`DETECTION_COLUMNS`): the group columns; ``worse``; ``n_baseline``,
    ``n_condition``, ``mean_*`` and ``std_*`` (ddof 1) of both samples; ``hedges_g``
    (:func:`hedges_g`, signed so that POSITIVE = the condition is worse than the baseline);
    ``welch_t`` (condition minus baseline, unsigned by direction); ``p_one_sided`` (Welch,
    alternative in the worse direction) and ``p_two_sided`` (Welch); ``p_permutation`` (exact
    one-sided permutation test in the worse direction; its minimum is 1/252 with 5 vs 5 seeds,
    so it is reported but not used for the decision); ``p_holm`` and ``p_holm_two_sided``
    (:func:`holm` applied to ``p_one_sided`` resp. ``p_two_sided`` over the family of all rows
    with the same dataset: every experiment, encoder, metric and condition together);
    ``auroc`` (:func:`auroc`, worse direction).

    Definition quoted by the README: a metric **detects** a condition when
    ``detected = (p_holm < alpha) and (hedges_g > 0)``, i.e. the one-sided Welch test in the
    metric's worse direction is significant after Holm's correction over all comparisons of
    the dataset, and the bias-corrected effect size points the worse way. The metric moved
    the **wrong direction** when ``wrong_direction = (p_holm_two_sided < alpha) and
    (hedges_g < 0)``: significantly "better" (e.g. a diversity score that rises when a mode is
    dropped). Rows where either sample has fewer than 2 values, or both are constant (Welch
    p is NaN), get NaN statistics and are neither detected nor wrong-direction.

    Raises ValueError for a malformed long table (as :func:`summarize`), a metric missing from
    ``worse``, a direction other than higher/lower, or no ``baseline`` rows. Rows are sorted
    like :func:`summarize`.
    """
    frame = _validated_long(long)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    metrics = sorted({str(m) for m in frame["metric"].unique()})
    unknown = [m for m in metrics if m not in worse]
    if unknown:
        raise ValueError(
            f"No worse direction for metric(s) {unknown}; pass worse={{name: 'higher' | "
            "'lower'}} for every metric in the long table."
        )
    for metric in metrics:
        _check_worse(worse[metric], f"worse[{metric!r}]")
    if not frame.empty and not (frame["condition"] == baseline).any():
        raise ValueError(
            f"No rows with the baseline condition {baseline!r}; conditions present: "
            f"{sorted(frame['condition'].astype(str).unique())}. Pass baseline=..."
        )

    rows = []
    frame = frame[frame["value"].notna()]
    keys = ["dataset", "experiment", "encoder", "metric"]
    for group, sub in frame.groupby(keys, sort=False, dropna=False):
        direction = worse[str(group[3])]
        by_condition = {c: s["value"].to_numpy() for c, s in sub.groupby("condition", sort=False)}
        base = by_condition.get(baseline, np.empty(0))
        for condition, values in by_condition.items():
            if condition == baseline:
                continue
            labels = dict(zip(keys, group, strict=True))
            labels |= {"condition": condition, "worse": direction}
            rows.append(labels | _comparison(base, values, direction))

    out = pd.DataFrame(rows, columns=[c for c in DETECTION_COLUMNS])
    out = out.astype({"n_baseline": "int64", "n_condition": "int64"})
    numeric = DETECTION_COLUMNS[DETECTION_COLUMNS.index("mean_baseline") : -2]
    out = out.astype(dict.fromkeys(numeric, "float64"))
    for _, index in out.groupby("dataset", sort=False, dropna=False).groups.items():
        out.loc[index, "p_holm"] = holm(out.loc[index, "p_one_sided"])
        out.loc[index, "p_holm_two_sided"] = holm(out.loc[index, "p_two_sided"])
    g = out["hedges_g"]
    out["detected"] = ((out["p_holm"] < alpha) & (g > 0)).astype(bool)
    out["wrong_direction"] = ((out["p_holm_two_sided"] < alpha) & (g < 0)).astype(bool)
    return _sort_groups(out)[list(DETECTION_COLUMNS)]
