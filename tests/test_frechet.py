"""Fréchet distance: agreement with torch-fidelity 0.4.0, planted cases, input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from modedrop.metrics.frechet import FrechetReference, frechet_distance, gaussian_statistics

# One BLAS thread for every test here (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def torch_fidelity_fd(evaluated: np.ndarray, reference: np.ndarray) -> float:
    """torch-fidelity's FID from the statistics it computes itself (inputs 1 and 2)."""
    stats_e = fid_features_to_statistics(torch.from_numpy(evaluated))
    stats_r = fid_features_to_statistics(torch.from_numpy(reference))
    return fid_statistics_to_metric(stats_e, stats_r, verbose=False)["frechet_inception_distance"]


def correlated_pair(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two sets with different means and different (non-diagonal) covariances."""
    rng = np.random.default_rng(seed)
    reference = rng.standard_normal((400, d)) @ rng.standard_normal((d, d)) * 0.2 + 1.0
    evaluated = rng.standard_normal((300, d)) * np.linspace(0.5, 2.0, d) + 1.3
    return evaluated, reference


@pytest.mark.parametrize("d", [64, 256])
def test_matches_torch_fidelity(d):
    evaluated, reference = correlated_pair(d, seed=d)
    expected = torch_fidelity_fd(evaluated, reference)
    assert expected > 1.0  # a real difference, not a value near 0
    assert frechet_distance(evaluated, reference) == pytest.approx(expected, rel=1e-6)
    assert FrechetReference(reference).distance(evaluated) == pytest.approx(expected, rel=1e-6)


def test_fewer_rows_than_features_matches_torch_fidelity():
    # Singular covariances: the symmetric-eigenvalue shortcut must still agree.
    evaluated, reference = correlated_pair(96, seed=3)
    evaluated, reference = evaluated[:60], reference[:70]
    expected = torch_fidelity_fd(evaluated, reference)
    assert frechet_distance(evaluated, reference) == pytest.approx(expected, rel=1e-6)


def test_cholesky_and_eigh_factors_give_the_same_distance(monkeypatch):
    # An ill-conditioned but positive definite reference covariance: Cholesky succeeds, and
    # its factor must give what torch-fidelity and the symmetric square root (the fallback for
    # singular covariances) give.
    rng = np.random.default_rng(9)
    low_rank = rng.standard_normal((400, 40)) @ rng.standard_normal((40, 96))
    reference = low_rank + 1e-6 * rng.standard_normal((400, 96))
    evaluated = rng.standard_normal((300, 96)) * np.linspace(0.5, 2.0, 96) + 0.3
    np.linalg.cholesky(gaussian_statistics(reference)[1])  # the Cholesky path is taken
    got = frechet_distance(evaluated, reference)
    assert got == pytest.approx(torch_fidelity_fd(evaluated, reference), rel=1e-8)

    def no_cholesky(matrix):
        raise np.linalg.LinAlgError("forced: use the eigh factor")

    monkeypatch.setattr(np.linalg, "cholesky", no_cholesky)
    assert frechet_distance(evaluated, reference) == pytest.approx(got, rel=1e-8)


def test_gaussian_statistics_match_numpy_and_are_block_invariant():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((103, 12)) * 3.0 + 1e4  # large mean: the shifted sum must not cancel
    mean, cov = gaussian_statistics(x.astype(np.float64), block_size=10)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    mean_one_block, cov_one_block = gaussian_statistics(x)
    np.testing.assert_allclose(cov_one_block, cov, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mean_one_block, mean, rtol=1e-13)
    assert mean.dtype == cov.dtype == np.float64
    np.testing.assert_array_equal(cov, cov.T)


def test_identical_sets_give_zero():
    evaluated, _ = correlated_pair(64, seed=5)
    trace = float(np.trace(np.cov(evaluated, rowvar=False)))
    assert abs(frechet_distance(evaluated, evaluated.copy())) < 1e-9 * trace


def test_planted_mean_shift_gives_squared_norm():
    rng = np.random.default_rng(6)
    reference = rng.standard_normal((500, 32)) @ rng.standard_normal((32, 32))
    shift = rng.standard_normal(32)
    expected = float(shift @ shift)
    got = frechet_distance(reference + shift, reference)
    assert got == pytest.approx(expected, rel=1e-7)


def test_reference_is_reused_and_symmetric():
    evaluated, reference = correlated_pair(16, seed=7)
    ref = FrechetReference(reference)
    other = evaluated[:150] * 0.5
    assert ref.distance(evaluated) == pytest.approx(frechet_distance(evaluated, reference))
    assert ref.distance(other) == pytest.approx(frechet_distance(other, reference))
    assert frechet_distance(reference, evaluated) == pytest.approx(
        frechet_distance(evaluated, reference), rel=1e-9
    )
    from_stats = FrechetReference.from_statistics(*gaussian_statistics(reference))
    assert from_stats.distance(evaluated) == pytest.approx(ref.distance(evaluated), rel=1e-12)


def test_float32_input_is_computed_in_float64():
    evaluated, reference = correlated_pair(32, seed=8)
    e32, r32 = evaluated.astype(np.float32), reference.astype(np.float32)
    expected = torch_fidelity_fd(e32.astype(np.float64), r32.astype(np.float64))
    assert frechet_distance(e32, r32) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("evaluated", "message"),
    [
        (np.zeros(10), "2-D array"),
        (np.zeros((4, 3, 2)), "2-D array"),
        (np.array([["a", "b"], ["c", "d"]]), "real numeric"),
        (np.zeros((1, 8)), "at least 2"),
        (np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), r"NaN or infinity \(first at row 1\)"),
        (np.ones((5, 7)), "7 features but the reference has 8"),
    ],
)
def test_invalid_inputs_raise_clear_errors(evaluated, message):
    reference = np.random.default_rng(0).standard_normal((20, 8))
    with pytest.raises(ValueError, match=message):
        frechet_distance(evaluated, reference)


def test_invalid_block_size_and_statistics():
    x = np.random.default_rng(0).standard_normal((20, 4))
    with pytest.raises(ValueError, match="block_size"):
        gaussian_statistics(x, block_size=0)
    with pytest.raises(ValueError, match=r"shape \(D, D\)"):
        FrechetReference.from_statistics(np.zeros(4), np.eye(3))
    with pytest.raises(ValueError, match="3 dimensions but the reference has 4"):
        FrechetReference(x).distance_from_statistics(np.zeros(3), np.eye(3))
