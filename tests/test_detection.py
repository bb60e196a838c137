"""Detection statistics: hand-checkable numbers, peer agreement (scipy) and the detection table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modedrop.stats import (
    DETECTION_COLUMNS,
    auroc,
    detection_table,
    hedges_g,
    holm,
    permutation_pvalue,
    welch_test,
)

LOW = [1.0, 2.0, 3.0, 4.0, 5.0]
HIGH = [6.0, 7.0, 8.0, 9.0, 10.0]


# ---------------------------------------------------------------------------- hedges_g


def test_hedges_g_by_hand():
    # means 3 and 8, both variances 2.5 -> pooled sd sqrt(2.5); J = 1 - 3 / (4 * 10 - 9) = 28/31
    assert hedges_g(LOW, HIGH) == pytest.approx(28 / 31 * 5 / math.sqrt(2.5), rel=1e-12)
    assert hedges_g(HIGH, LOW) == pytest.approx(-28 / 31 * 5 / math.sqrt(2.5), rel=1e-12)


def test_hedges_g_unequal_sizes_by_hand():
    a, b = [0.0, 2.0], [1.0, 2.0, 6.0]  # var 2 (n 2) and 7 (n 3): pooled (2 + 14) / 3
    expected = (1 - 3 / (4 * 5 - 9)) * (3.0 - 1.0) / math.sqrt(16 / 3)
    assert hedges_g(a, b) == pytest.approx(expected, rel=1e-12)


def test_hedges_g_constant_samples():
    assert hedges_g([2.0, 2.0], [2.0, 2.0, 2.0]) == 0.0
    assert hedges_g([2.0, 2.0], [3.0, 3.0]) == math.inf
    assert hedges_g([3.0, 3.0], [2.0, 2.0]) == -math.inf


@pytest.mark.parametrize(
    ("baseline", "other", "match"),
    [
        ([1.0], [1.0, 2.0], "at least 2"),
        ([1.0, np.nan], [1.0, 2.0], "NaN or infinite"),
        ([[1.0, 2.0]], [1.0, 2.0], "1-D"),
        (["a", "b"], [1.0, 2.0], "numbers"),
    ],
)
def test_hedges_g_rejects_bad_samples(baseline, other, match):
    with pytest.raises(ValueError, match=match):
        hedges_g(baseline, other)


# ---------------------------------------------------------------------------- welch


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_matches_scipy(alternative):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 5), rng.normal(1, 3, 7)
    t, p = welch_test(a, b, alternative)
    ref = stats.ttest_ind(b, a, equal_var=False, alternative=alternative)
    assert (t, p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-12)
    assert t > 0  # b has the larger mean: t is other minus baseline


def test_welch_constant_samples_give_nan_p():
    t, p = welch_test([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], "greater")
    assert t == math.inf and math.isnan(p)
    t, p = welch_test([1.0, 1.0], [1.0, 1.0], "two-sided")
    assert t == 0.0 and math.isnan(p)


def test_welch_rejects_bad_alternative():
    with pytest.raises(ValueError, match="alternative must be one of"):
        welch_test(LOW, HIGH, "bigger")


# ---------------------------------------------------------------------------- permutation


def test_permutation_fully_separated_is_one_over_252():
    assert permutation_pvalue(LOW, HIGH, "greater") == pytest.approx(1 / 252)
    assert permutation_pvalue(HIGH, LOW, "less") == pytest.approx(1 / 252)
    assert permutation_pvalue(LOW, HIGH, "less") == 1.0
    assert permutation_pvalue(LOW, HIGH, "two-sided") == pytest.approx(2 / 252)


def test_permutation_ties_count_as_extreme():
    # every relabelling of identical values ties with the observed one
    assert permutation_pvalue([0.1] * 5, [0.1] * 5, "greater") == 1.0


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_permutation_exact_matches_scipy_exact(alternative):
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 5), rng.normal(0.8, 1, 4)
    ours = permutation_pvalue(a, b, alternative)
    ref = stats.permutation_test(
        (b, a),
        lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        vectorized=True,
        n_resamples=np.inf,
        alternative=alternative,
    )
    assert ours == pytest.approx(ref.pvalue, rel=1e-12)


def test_permutation_monte_carlo_is_seeded_and_close_to_exact():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 6), rng.normal(1, 1, 6)  # C(12, 6) = 924 relabellings
    exact = permutation_pvalue(a, b, "greater")
    mc1 = permutation_pvalue(a, b, "greater", max_exact=100, n_resamples=4000, seed=7)
    mc2 = permutation_pvalue(a, b, "greater", max_exact=100, n_resamples=4000, seed=7)
    assert mc1 == mc2
    assert mc1 == pytest.approx(exact, abs=0.02)


# ---------------------------------------------------------------------------- holm


def test_holm_by_hand_with_nan():
    # m = 4 non-NaN: sorted 0.01, 0.025, 0.03, 0.5 times 4, 3, 2, 1 = 0.04, 0.075, 0.06, 0.5;
    # step-down keeps them non-decreasing: 0.06 -> 0.075
    out = holm([0.03, np.nan, 0.01, 0.5, 0.025])
    np.testing.assert_allclose(out, [0.075, np.nan, 0.04, 0.5, 0.075], rtol=1e-12)


def test_holm_caps_at_one_and_handles_edges():
    np.testing.assert_allclose(holm([0.4, 0.6]), [0.8, 0.8])
    np.testing.assert_allclose(holm([0.9, 0.7]), [1.0, 1.0])
    assert np.isnan(holm([np.nan, np.nan])).all()
    assert holm([]).shape == (0,)


def test_holm_rejects_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.5])


# ---------------------------------------------------------------------------- auroc


def test_auroc_separated_identical_and_ties():
    assert auroc(LOW, HIGH, "higher") == 1.0
    assert auroc(LOW, HIGH, "lower") == 0.0
    assert auroc(HIGH, LOW, "lower") == 1.0
    assert auroc(LOW, LOW, "higher") == 0.5
    # per other value, wins + ties / 2: 2 -> 1 + 0.5, 3 -> 2 + 0.5, 4 -> 3; 7 of 9 pairs
    assert auroc([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], "higher") == pytest.approx(7 / 9)


def test_auroc_matches_mannwhitney():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 8), rng.normal(0.5, 1, 6)
    u = stats.mannwhitneyu(b, a).statistic
    assert auroc(a, b, "higher") == pytest.approx(u / 48)
    assert auroc(a, b, "lower") == pytest.approx(1 - u / 48)


def test_auroc_rejects_bad_direction():
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        auroc(LOW, HIGH, "up")


# ---------------------------------------------------------------------------- detection_table


def _long(groups):
    """groups: {(metric, condition): values}; one experiment/encoder of one dataset."""
    rows = [
        ("celeba", "male", "vicreg", metric, condition, seed, value)
        for (metric, condition), values in groups.items()
        for seed, value in enumerate(values, start=1)
    ]
    return pd.DataFrame(
        rows, columns=["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"]
    )


def _planted():
    rng = np.random.default_rng(5)
    noise = lambda loc: loc + 0.1 * rng.standard_normal(5)  # noqa: E731
    return _long(
        {
            # fd: worse = higher. target much higher (detected), nontarget much lower (wrong way).
            ("fd", "unbiased"): noise(10.0),
            ("fd", "target"): noise(15.0),
            ("fd", "nontarget"): noise(5.0),
            ("fd", "dose50"): noise(10.0),
            # rankme: worse = lower. target much lower (detected), nontarget higher (wrong way).
            ("rankme", "unbiased"): noise(100.0),
            ("rankme", "target"): noise(95.0),
            ("rankme", "nontarget"): noise(105.0),
            ("rankme", "dose50"): noise(100.0),
        }
    )


WORSE = {"fd": "higher", "rankme": "lower"}


def test_detection_columns_and_order():
    out = detection_table(_planted(), WORSE)
    assert list(out.columns) == list(DETECTION_COLUMNS)
    assert list(out["metric"]) == ["fd"] * 3 + ["rankme"] * 3
    assert list(out["condition"]) == ["target", "nontarget", "dose50"] * 2
    assert (out["n_baseline"] == 5).all() and (out["n_condition"] == 5).all()
    assert out["detected"].dtype == bool and out["wrong_direction"].dtype == bool


@pytest.mark.parametrize("metric", ["fd", "rankme"])
def test_detection_planted_effects(metric):
    out = detection_table(_planted(), WORSE).set_index(["metric", "condition"]).loc[metric]
    worse_row, better_row, noise_row = out.loc["target"], out.loc["nontarget"], out.loc["dose50"]

    assert worse_row["hedges_g"] > 10 and worse_row["auroc"] == 1.0
    assert worse_row["p_permutation"] == pytest.approx(1 / 252)
    assert worse_row["detected"] and not worse_row["wrong_direction"]

    assert better_row["hedges_g"] < -10 and better_row["auroc"] == 0.0
    assert better_row["p_one_sided"] > 0.99
    assert not better_row["detected"] and better_row["wrong_direction"]

    assert abs(noise_row["hedges_g"]) < 2
    assert not noise_row["detected"] and not noise_row["wrong_direction"]


def test_detection_p_values_match_the_scalar_tests():
    long = _planted()
    out = detection_table(long, WORSE)
    for row in out.itertuples():
        base, cond = _values(long, row.metric, "unbiased"), _values(long, row.metric, row.condition)
        alternative = "greater" if row.worse == "higher" else "less"
        assert row.p_one_sided == pytest.approx(welch_test(base, cond, alternative)[1], rel=1e-9)
        assert row.p_two_sided == pytest.approx(welch_test(base, cond)[1], rel=1e-12)
        assert row.p_permutation == permutation_pvalue(base, cond, alternative)
        assert row.auroc == auroc(base, cond, row.worse)


def test_detection_signs_follow_worse_direction():
    out = detection_table(_planted(), WORSE).set_index(["metric", "condition"])
    fd, rankme = out.loc[("fd", "target")], out.loc[("rankme", "target")]
    assert fd["welch_t"] > 0 and fd["mean_condition"] > fd["mean_baseline"]
    assert rankme["welch_t"] < 0 and rankme["mean_condition"] < rankme["mean_baseline"]
    assert rankme["hedges_g"] > 0  # lower is worse: a drop is a positive g
    assert rankme["hedges_g"] == pytest.approx(
        -hedges_g(
            _values(_planted(), "rankme", "unbiased"), _values(_planted(), "rankme", "target")
        )
    )
    # flipping the declared direction turns the detection into a wrong-direction move
    flipped = detection_table(_planted(), {"fd": "lower", "rankme": "higher"})
    flipped = flipped.set_index(["metric", "condition"])
    assert flipped.loc[("rankme", "target"), "wrong_direction"]
    assert not flipped.loc[("rankme", "target"), "detected"]


def _values(long, metric, condition):
    sel = (long["metric"] == metric) & (long["condition"] == condition)
    return long.loc[sel].sort_values("seed")["value"].to_numpy()


def test_detection_holm_family_is_the_dataset():
    long = _planted()
    both = pd.concat([long, long.assign(dataset="synthfaces")], ignore_index=True)
    out = detection_table(both, WORSE)
    for _, sub in out.groupby("dataset"):
        np.testing.assert_allclose(sub["p_holm"], holm(sub["p_one_sided"]))
        np.testing.assert_allclose(sub["p_holm_two_sided"], holm(sub["p_two_sided"]))
    single = detection_table(long, WORSE)
    np.testing.assert_allclose(
        out.loc[out["dataset"] == "celeba", "p_holm"].to_numpy(), single["p_holm"].to_numpy()
    )


def test_detection_pure_noise_not_detected():
    rng = np.random.default_rng(6)
    groups = {}
    for m in range(6):
        for cond in ("unbiased", "target", "nontarget", "dose25", "collapse50"):
            groups[(f"m{m}", cond)] = rng.normal(3.0, 1.0, 5)
    out = detection_table(_long(groups), {f"m{m}": "higher" for m in range(6)})
    assert len(out) == 24
    assert not out["detected"].any() and not out["wrong_direction"].any()
    assert (out["p_holm"] >= out["p_one_sided"]).all()


def test_detection_small_or_constant_groups_are_nan_not_detected():
    long = _long(
        {
            ("fd", "unbiased"): [1.0, 1.0, 1.0],
            ("fd", "target"): [2.0, 2.0, 2.0],  # both constant: Welch p NaN
            ("fd", "nontarget"): [5.0],  # one seed
            ("rankme", "unbiased"): [1.0, 2.0, np.nan],  # NaN values are dropped
            ("rankme", "target"): [0.0, 0.5, 0.2],
        }
    )
    out = detection_table(long, WORSE).set_index(["metric", "condition"])
    assert out.loc[("fd", "target"), "hedges_g"] == math.inf
    assert math.isnan(out.loc[("fd", "target"), "p_holm"])
    assert math.isnan(out.loc[("fd", "nontarget"), "hedges_g"])
    assert not out.loc["fd", "detected"].any()
    assert out.loc[("rankme", "target"), "n_baseline"] == 2


def test_detection_metric_without_direction_is_named():
    with pytest.raises(ValueError, match=r"\['rankme'\]"):
        detection_table(_planted(), {"fd": "higher"})
    with pytest.raises(ValueError, match="'higher' or 'lower'"):
        detection_table(_planted(), {"fd": "higher", "rankme": "down"})


def test_detection_validates_long_table():
    with pytest.raises(ValueError, match=r"\['value'\]"):
        detection_table(_planted().drop(columns="value"), WORSE)
    long = _planted()
    with pytest.raises(ValueError, match="same group and seed"):
        detection_table(pd.concat([long, long.iloc[:1]], ignore_index=True), WORSE)
    with pytest.raises(ValueError, match="numeric"):
        detection_table(long.assign(value="x"), WORSE)
    with pytest.raises(ValueError, match="baseline condition 'reference'"):
        detection_table(long, WORSE, baseline="reference")
    with pytest.raises(ValueError, match="alpha"):
        detection_table(long, WORSE, alpha=5)


def test_detection_empty_table():
    out = detection_table(_planted().iloc[:0], WORSE)
    assert out.empty and list(out.columns) == list(DETECTION_COLUMNS)
