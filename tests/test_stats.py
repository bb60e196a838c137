"""summarize(): planted means, standard deviations and Student-t intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modedrop.stats import CONDITION_ORDER, SUMMARY_COLUMNS, summarize


def _long(rows):
    return pd.DataFrame(
        rows,
        columns=["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"],
    )


def _frame():
    rows = []
    planted = {"nontarget": [1.0, 2.0, 3.0, 4.0, 5.0], "target": [10.0, 12.0], "unbiased": [7.0]}
    for cond, values in planted.items():
        for seed, v in enumerate(values, start=1):
            rows.append(("celeba", "male", "vicreg", "rankme", cond, seed, v))
    rows.append(("celeba", "male", "vicreg", "rankme", "extra_b", 1, 0.0))
    rows.append(("celeba", "male", "vicreg", "rankme", "extra_a", 1, 0.0))
    return _long(rows)


def test_planted_values():
    out = summarize(_frame()).set_index("condition")
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    row = out.loc["nontarget"]
    assert row["mean"] == pytest.approx(3.0)
    assert row["std"] == pytest.approx(np.sqrt(2.5))  # ddof=1
    assert row["n"] == 5
    lo, hi = stats.t.interval(0.95, df=4, loc=values.mean(), scale=stats.sem(values))
    assert row["ci95_low"] == pytest.approx(lo, rel=1e-12)
    assert row["ci95_high"] == pytest.approx(hi, rel=1e-12)

    row = out.loc["target"]
    lo, hi = stats.t.interval(0.95, df=1, loc=11.0, scale=stats.sem([10.0, 12.0]))
    assert (row["mean"], row["n"]) == (11.0, 2)
    assert row["ci95_low"] == pytest.approx(lo) and row["ci95_high"] == pytest.approx(hi)


def test_single_seed_gives_nan_std_and_ci():
    row = summarize(_frame()).set_index("condition").loc["unbiased"]
    assert row["mean"] == 7.0 and row["n"] == 1
    assert np.isnan(row["std"]) and np.isnan(row["ci95_low"]) and np.isnan(row["ci95_high"])


def test_column_and_condition_order():
    out = summarize(_frame())
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    assert CONDITION_ORDER[:3] == ("unbiased", "target", "nontarget")
    assert list(out["condition"]) == ["unbiased", "target", "nontarget", "extra_a", "extra_b"]


def test_dose_and_collapse_conditions_follow_the_main_three():
    rows = [
        ("celeba", "male", "vicreg", "rankme", cond, 1, 1.0)
        for cond in ("zeta", "collapse50", "dose75", "target", "collapse25", "dose25", "unbiased")
    ]
    out = summarize(_long(rows))
    expected = ["unbiased", "target", "dose25", "dose75", "collapse25", "collapse50", "zeta"]
    assert list(out["condition"]) == expected
    assert CONDITION_ORDER[3:] == ("dose25", "dose50", "dose75", "collapse25", "collapse50")


def test_groups_are_separate_and_sorted():
    base = _frame()
    other = base.assign(metric="inception_score", value=base["value"] * 2)
    out = summarize(pd.concat([base, other], ignore_index=True))
    assert list(out["metric"].unique()) == ["inception_score", "rankme"]
    means = out.set_index(["metric", "condition"])["mean"]
    assert means[("inception_score", "nontarget")] == pytest.approx(6.0)
    assert means[("rankme", "nontarget")] == pytest.approx(3.0)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match=r"\['seed', 'value'\]"):
        summarize(_frame().drop(columns=["seed", "value"]))


def test_duplicate_seed_raises():
    df = _frame()
    with pytest.raises(ValueError, match="same group and seed"):
        summarize(pd.concat([df, df.iloc[:1]], ignore_index=True))
