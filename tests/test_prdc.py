"""PRDC: agreement with the prdc 0.2 package, blocking, planted cases, memory, errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from prdc import compute_prdc
from prdc.prdc import compute_nearest_neighbour_distances

from modedrop.metrics.prdc import PRDCReference, improved_precision_recall, prdc

KEYS = ("precision", "recall", "density", "coverage")


# One BLAS thread for every test here (the fixture is in conftest.py).
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    return {key: float(value) for key, value in compute_prdc(real, fake, k).items()}


def shifted_pair(seed: int = 0, n: int = 300, m: int = 240, d: int = 16):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((m, d)) * 1.3 + 0.4  # partly overlapping: no value is 0 or 1
    return real, fake


@pytest.mark.parametrize("k", [3, 5])
def test_matches_prdc_package(k):
    real, fake = shifted_pair(seed=k)
    expected = reference_prdc(real, fake, k)
    assert all(0.01 < expected[key] < 0.99 for key in ("precision", "recall", "coverage"))
    got = prdc(real, fake, k=k, block_size=64)
    for key in KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-9), key


def test_ties_and_duplicates_match_prdc_package():
    # Small integers: every distance is exact in both implementations, so the many exact ties
    # and duplicate rows test the strict "<" and the self-exclusion rule themselves.
    rng = np.random.default_rng(1)
    real = rng.integers(0, 3, size=(200, 4)).astype(np.float64)
    fake = rng.integers(0, 4, size=(150, 4)).astype(np.float64)
    assert len(np.unique(real, axis=0)) < len(real)  # duplicates present
    expected = reference_prdc(real, fake, 5)
    got = prdc(real, fake, k=5, block_size=33)
    for key in KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key


def test_improved_precision_recall_is_prdc_at_k3():
    real, fake = shifted_pair(seed=2)
    expected = reference_prdc(real, fake, 3)
    got = improved_precision_recall(real, fake)
    assert set(got) == {"precision", "recall"}
    assert got["precision"] == pytest.approx(expected["precision"], abs=1e-12)
    assert got["recall"] == pytest.approx(expected["recall"], abs=1e-12)


def test_radii_match_prdc_package():
    real, _ = shifted_pair(seed=3)
    expected = compute_nearest_neighbour_distances(real, 5)
    np.testing.assert_allclose(PRDCReference(real, k=5, block_size=41).radii, expected, rtol=1e-10)


def test_blocked_equals_unblocked_and_reference_is_reused():
    real, fake = shifted_pair(seed=4, n=257, m=203)
    unblocked = prdc(real, fake, block_size=10_000)
    ref = PRDCReference(real, k=5, block_size=37)  # smaller than N, does not divide N or M
    # Exact although the tiles' distances differ in their last bits: all four values are
    # counts divided by the same integers, and no distance here lies within 1e-6 (relative)
    # of a radius, so no count depends on those bits.
    assert ref.evaluate(fake) == unblocked
    other = fake[:120] - 0.4
    assert ref.evaluate(other) == prdc(real, other, block_size=10_000)


def test_identical_sets_give_full_precision_recall_coverage():
    real, _ = shifted_pair(seed=5)
    got = prdc(real, real.copy(), block_size=50)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0


def test_far_away_fake_gives_zeros():
    real, fake = shifted_pair(seed=6)
    got = prdc(real, fake + 100.0, block_size=50)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def run_traced(real: np.ndarray, fake: np.ndarray, block_size: int) -> tuple[dict, int]:
    """``prdc`` and its peak traced allocation (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        got = prdc(real, fake, block_size=block_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return got, peak


def test_memory_stays_blocked():
    rng = np.random.default_rng(7)
    n, d, block = 6000, 16, 256
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((n, d)) + 0.1
    got, peak = run_traced(real, fake, block)
    assert 0.0 < got["precision"] < 1.0
    assert peak < n * n * 8 / 50  # a dense N x N float64 matrix would be 288 MB


@pytest.mark.slow
def test_20000_points_run_without_dense_matrix():
    rng = np.random.default_rng(8)
    n, d = 20_000, 64
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((n, d)) + 0.05
    got, peak = run_traced(real, fake, 512)
    assert peak < 30e6  # dense would be 3.2 GB
    assert 0.0 < got["precision"] < 1.0 and 0.0 < got["coverage"] <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"block_size": 0}, "block_size must be a positive integer"),
        ({"k": 300}, r"at least k \+ 1 = 301 samples"),
    ],
)
def test_invalid_parameters_raise(kwargs, message):
    real, fake = shifted_pair()
    with pytest.raises(ValueError, match=message):
        prdc(real, fake, **kwargs)


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        (np.zeros(10), "2-D array"),
        (np.zeros((4, 5), dtype=bool), "real numeric"),
        (np.zeros((5, 16)), r"fake has shape \(5, 16\)"),
        (np.ones((30, 8)), "fake has 8 features but real has 16"),
        (np.full((30, 16), np.nan), r"NaN or infinity \(first at row 0\)"),
    ],
)
def test_invalid_features_raise(fake, message):
    real, _ = shifted_pair()
    with pytest.raises(ValueError, match=message):
        prdc(real, fake)


def test_several_k_in_one_pass_equal_separate_references():
    # One distance pass for k = 5 and k = 3 (the study's prdc job) must give each k's own scores:
    # the k-th radius is an order statistic of the same candidate distances.
    real, fake = shifted_pair(seed=5, n=301, m=187)
    both = PRDCReference(real, k=5, block_size=64, also_k=(3,))
    each_k = both.evaluate_each_k(fake)
    assert set(each_k) == {5, 3}
    assert each_k[5] == PRDCReference(real, k=5, block_size=64).evaluate(fake)
    assert each_k[3] == PRDCReference(real, k=3, block_size=64).evaluate(fake)
    assert both.evaluate(fake) == each_k[5]
    np.testing.assert_array_equal(both.radii, PRDCReference(real, k=5, block_size=64).radii)
    assert each_k[3]["precision"] == pytest.approx(reference_prdc(real, fake, 3)["precision"])
