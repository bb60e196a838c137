"""NDB / JSD: planted mixtures (null and dropped modes), statistics helpers, validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import false_discovery_control, norm

from modedrop.metrics.ndb import (
    NDBBins,
    jensen_shannon_divergence,
    ndb,
    two_proportion_z_test,
)
from modedrop.stats import holm

N_COMPONENTS, DIM = 10, 16


def mixture_means(seed: int = 0, separation: float = 8.0) -> np.ndarray:
    """Well-separated component means (pairwise distances ~ separation * sqrt(2 * DIM))."""
    return np.random.default_rng(seed).standard_normal((N_COMPONENTS, DIM)) * separation


def sample_mixture(means, n, rng, components=None) -> np.ndarray:
    """n samples of an equal-weight isotropic Gaussian mixture over ``components``."""
    components = np.arange(len(means)) if components is None else np.asarray(components)
    labels = rng.choice(components, size=n)
    return means[labels] + rng.standard_normal((n, means.shape[1]))


def test_same_distribution_flags_about_alpha_of_the_bins():
    means = mixture_means()
    fractions, holm, bh = [], [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        reference = sample_mixture(means, 5000, rng)
        evaluated = sample_mixture(means, 2000, rng)
        result = ndb(reference, evaluated, n_bins=20, seed=seed, n_init=1)
        fractions.append(result.ndb_fraction)
        holm.append(result.ndb_holm)
        bh.append(result.ndb_bh)
        assert result.jsd < 0.01
    # 200 bin tests at alpha = 0.05: the mean is ~0.05 with sd ~0.015 if the bins were independent.
    assert 0.0 <= np.mean(fractions) <= 0.12
    assert sum(holm) <= 1 and sum(bh) <= 2


def test_dropped_components_are_flagged():
    means = mixture_means()
    rng = np.random.default_rng(1)
    reference = sample_mixture(means, 5000, rng)
    dropped = [3, 7]
    kept = [c for c in range(N_COMPONENTS) if c not in dropped]
    evaluated = sample_mixture(means, 2000, rng, components=kept)

    bins = NDBBins(reference, n_bins=N_COMPONENTS, seed=0)
    bin_of_component = bins.assign(means)
    assert sorted(bin_of_component) == list(range(N_COMPONENTS))  # bins == clusters
    dropped_bins = set(bin_of_component[dropped].tolist())

    result = bins.evaluate(evaluated)
    for mask in (result.significant, result.significant_holm, result.significant_bh):
        # The missing mass shows as a deficit exactly there; the kept components each grow from
        # 1/10 to 1/8, which the test may (correctly) flag as a surplus (z > 0).
        deficit = set(np.flatnonzero(mask & (result.z < 0)).tolist())
        assert deficit == dropped_bins
    assert np.all(result.evaluated_proportions[sorted(dropped_bins)] == 0)
    assert set(np.argsort(result.p_values)[:2].tolist()) == dropped_bins
    assert result.ndb >= 2 and result.ndb_holm >= 2
    assert result.jsd > 0.05  # about (2/10) * log 2 / 2 for a clean 2-of-10 drop


def test_result_fields_and_json():
    rng = np.random.default_rng(2)
    reference = rng.standard_normal((400, 5))
    result = ndb(reference, rng.standard_normal((150, 5)), n_bins=8, alpha=0.1)
    assert (result.n_bins, result.n_reference, result.n_evaluated, result.alpha) == (
        8,
        400,
        150,
        0.1,
    )
    assert result.ndb == int(np.sum(result.p_values < 0.1))
    assert result.ndb_fraction == result.ndb / 8
    np.testing.assert_allclose(result.reference_proportions.sum(), 1.0)
    np.testing.assert_allclose(result.evaluated_proportions.sum(), 1.0)
    assert np.all(np.diff(result.reference_proportions) <= 0)  # largest bin first
    # Holm is never more liberal than BH, BH never more liberal than the raw test.
    assert result.ndb_holm <= result.ndb_bh <= result.ndb
    with pytest.raises(ValueError):
        result.z[0] = 1.0  # read-only
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["ndb"] == result.ndb and len(as_dict["p_values_bh"]) == 8
    assert isinstance(as_dict["significant_holm"][0], bool)


def test_same_seed_gives_identical_result_and_reference_reuse():
    rng = np.random.default_rng(3)
    means = mixture_means(3)
    reference = sample_mixture(means, 1500, rng).astype(np.float32)
    evaluated = sample_mixture(means, 600, rng, components=range(7))
    first = NDBBins(reference, n_bins=15, seed=5)
    second = NDBBins(reference, n_bins=15, seed=5)
    np.testing.assert_array_equal(first.centers, second.centers)
    assert first.evaluate(evaluated).to_dict() == second.evaluate(evaluated).to_dict()
    # The one-off function is the class, built and evaluated once.
    assert ndb(reference, evaluated, n_bins=15, seed=5).to_dict() == (
        first.evaluate(evaluated).to_dict()
    )


def test_reference_against_itself_is_identical():
    rng = np.random.default_rng(4)
    reference = sample_mixture(mixture_means(4), 1000, rng)
    result = ndb(reference, reference, n_bins=10)
    np.testing.assert_array_equal(result.evaluated_proportions, result.reference_proportions)
    assert result.ndb == 0 and result.jsd == 0.0
    np.testing.assert_array_equal(result.p_values, 1.0)


def test_whitening_is_a_no_op_on_standardised_data_but_matters_when_badly_scaled():
    rng = np.random.default_rng(5)
    reference = sample_mixture(mixture_means(5), 3000, rng)
    evaluated = sample_mixture(mixture_means(5), 1000, rng, components=range(8))
    standardised = (reference - reference.mean(0)) / reference.std(0)
    eval_standardised = (evaluated - reference.mean(0)) / reference.std(0)
    plain = ndb(standardised, eval_standardised, n_bins=10)
    whitened = ndb(standardised, eval_standardised, n_bins=10, whiten=True)
    # Exact: proportions are bin counts, and every point is far nearer one centre than any
    # other, so the whitening's rounding (a scale of 1 +- ulps) moves none between bins.
    np.testing.assert_array_equal(plain.evaluated_proportions, whitened.evaluated_proportions)
    np.testing.assert_allclose(plain.p_values, whitened.p_values, rtol=1e-12)

    # One huge-variance noise dimension dominates unwhitened L2 distances: the bins then slice
    # that dimension and no longer see the dropped components.
    scale = np.ones(DIM + 1)
    scale[-1] = 1e4
    noisy_ref = np.hstack([reference, rng.standard_normal((3000, 1))]) * scale
    noisy_eval = np.hstack([evaluated, rng.standard_normal((1000, 1))]) * scale
    blind = ndb(noisy_ref, noisy_eval, n_bins=10)
    sighted = ndb(noisy_ref, noisy_eval, n_bins=10, whiten=True)
    assert sighted.ndb_holm >= 2 and sighted.jsd > 0.05
    assert blind.ndb_holm == 0 and blind.jsd < 0.01


def test_whitening_keeps_constant_dimensions_finite():
    rng = np.random.default_rng(6)
    reference = np.hstack([rng.standard_normal((200, 3)), np.full((200, 1), 7.0)])
    bins = NDBBins(reference, n_bins=4, whiten=True)
    assert bins.scale[-1] == 1.0 and np.all(np.isfinite(bins.centers))
    assert np.isfinite(bins.evaluate(reference[:50]).jsd)


def test_two_proportion_z_test_matches_hand_computation():
    z, p = two_proportion_z_test([0.2, 0.5, 0.0], 1000, [0.1, 0.5, 0.0], 500)
    pooled = (1000 * 0.2 + 500 * 0.1) / 1500
    se = np.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 500))
    assert z[0] == pytest.approx((0.1 - 0.2) / se, rel=1e-12)
    assert p[0] == pytest.approx(2 * norm.cdf(-abs(z[0])), rel=1e-12)
    assert (z[1], p[1]) == (0.0, 1.0)
    assert (z[2], p[2]) == (0.0, 1.0)  # empty in both sets: se = 0


def test_holm_adjust_on_known_values_and_bh_ordering():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> 0.02, 0.03, 0.06, max(0.04, 0.06)
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert np.all(false_discovery_control(p) <= holm(p))


def test_jensen_shannon_divergence_known_values():
    p = np.array([0.25, 0.25, 0.5, 0.0])
    assert jensen_shannon_divergence(p, p) == 0.0
    assert jensen_shannon_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(np.log(2))
    q = np.array([0.5, 0.0, 0.5, 0.0])
    m = (p + q) / 2
    expected = 0.5 * (0.25 * np.log(0.25 / m[0]) + 0.25 * np.log(0.25 / m[1]) + 0) + 0.5 * (
        0.5 * np.log(0.5 / m[0])
    )
    assert jensen_shannon_divergence(p, q) == pytest.approx(expected, rel=1e-12)
    assert jensen_shannon_divergence(p, q) == pytest.approx(jensen_shannon_divergence(q, p))
    with pytest.raises(ValueError, match="summing to 1"):
        jensen_shannon_divergence([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="equal length"):
        jensen_shannon_divergence([1.0], [0.5, 0.5])


@pytest.mark.parametrize(
    ("reference", "kwargs", "match"),
    [
        (np.zeros((5, 2)), {"n_bins": 6}, "exceeds the 5 reference rows"),
        (np.zeros((5, 2)), {"n_bins": 1}, "n_bins must be an integer >= 2"),
        (np.zeros((5, 2)), {"n_bins": 2.5}, "n_bins must be an integer"),
        (np.zeros(10), {"n_bins": 2}, "2-D reference"),
        (np.array([[0.0, np.nan]] * 4), {"n_bins": 2}, "NaN or infinity"),
        (np.array([["a", "b"]] * 4), {"n_bins": 2}, "real numeric"),
        (np.zeros((5, 2)), {"n_bins": 2, "n_init": 0}, "n_init must be"),
    ],
)
def test_reference_validation(reference, kwargs, match):
    with pytest.raises(ValueError, match=match):
        NDBBins(reference, **kwargs)


def test_evaluation_validation():
    rng = np.random.default_rng(7)
    bins = NDBBins(rng.standard_normal((50, 3)), n_bins=4)
    with pytest.raises(ValueError, match="4 features but the reference bins were built on 3"):
        bins.evaluate(rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        bins.evaluate(np.full((10, 3), np.inf))
    with pytest.raises(ValueError, match="at least 1 sample"):
        bins.evaluate(np.empty((0, 3)))
    with pytest.raises(ValueError, match="alpha"):
        bins.evaluate(rng.standard_normal((10, 3)), alpha=1.5)
