"""Aggregation of per-seed metric values into means, standard deviations and 95 % intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "CONDITION_ORDER",
    "GROUP_COLUMNS",
    "LONG_COLUMNS",
    "SUMMARY_COLUMNS",
    "condition_sort_key",
    "summarize",
]

#: Display / sort order of the subset conditions; other conditions follow alphabetically.
CONDITION_ORDER: tuple[str, ...] = ("unbiased", "target", "nontarget")

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


def condition_sort_key(conditions: pd.Series) -> pd.Series:
    """Sort key putting CONDITION_ORDER first, then other conditions alphabetically."""
    others = sorted({str(c) for c in conditions.dropna().unique()} - set(CONDITION_ORDER))
    rank = {c: i for i, c in enumerate((*CONDITION_ORDER, *others))}
    return conditions.map(lambda c: rank.get(str(c), len(rank)) if pd.notna(c) else len(rank))


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

    frame = long[keys].copy()
    frame["value"] = values.astype("float64")
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

    out = out.sort_values(
        by=keys,
        key=lambda s: condition_sort_key(s) if s.name == "condition" else s,
        kind="stable",
    ).reset_index(drop=True)
    return out[list(SUMMARY_COLUMNS)]
