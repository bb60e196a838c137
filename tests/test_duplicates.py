"""Birthday-paradox duplicate test: planted duplicates, blocked == brute force, memory, errors."""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from modedrop.metrics.duplicates import (
    calibrate_threshold,
    duplicate_statistics,
    nearest_neighbour_similarities,
    support_size_estimate,
)


def random_unit_vectors(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(features: np.ndarray, threshold: float, top: int):
    """All-pairs reference: (count, top pairs, mean NN similarity) from the full n x n matrix."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    sim = unit @ unit.T
    i, j = np.triu_indices(len(unit), k=1)
    values = sim[i, j]
    order = np.lexsort((j, i, -values))[:top]
    pairs = [(int(i[k]), int(j[k]), float(values[k])) for k in order]
    np.fill_diagonal(sim, -np.inf)
    return int(np.sum(values >= threshold)), pairs, float(sim.max(axis=1).mean())


def test_planted_duplicates_are_exactly_the_top_pairs():
    rng = np.random.default_rng(0)
    features = random_unit_vectors(2000, 64, seed=0)
    indices = rng.choice(2000, size=14, replace=False)  # 7 disjoint (source, copy) pairs
    sources, copies = indices[:7], indices[7:]
    noise = np.zeros((7, 64))
    noise[3:] = 1e-3 * rng.standard_normal((4, 64))  # 3 exact copies, 4 near copies
    features[copies] = features[sources] + noise
    planted = {(min(a, b), max(a, b)) for a, b in zip(sources, copies, strict=True)}

    result = duplicate_statistics(features, threshold=0.99, top=20, block_size=512)

    assert {(i, j) for i, j, _ in result.top_pairs[:7]} == planted
    assert all(s > 0.999 for *_, s in result.top_pairs[:7])
    assert result.top_pairs[7][2] < 0.9  # random 64-d unit vectors are far less similar
    assert result.n_duplicate_pairs == 7
    assert result.n_pairs == 2000 * 1999 // 2
    assert result.duplicate_fraction == pytest.approx(7 / result.n_pairs)
    assert (result.support_size, result.support_is_lower_bound) == (result.n_pairs / 7, False)


@pytest.mark.parametrize("block_size", [1, 7, 50, 156, 157, 1000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_matches_brute_force(block_size, dtype):
    # n = 157 is prime, so no block size > 1 divides it; scaled rows check the normalisation.
    rng = np.random.default_rng(1)
    features = random_unit_vectors(157, 12, seed=1) * rng.uniform(0.1, 10.0, (157, 1))
    features[100] = 3.0 * features[20] + 0.01  # one near duplicate
    features = features.astype(dtype)
    threshold = 0.7
    count, pairs, nn_mean = brute_force(features.astype(np.float64), threshold, top=25)

    result = duplicate_statistics(features, threshold=threshold, top=25, block_size=block_size)

    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert result.n_duplicate_pairs == count
    assert [(i, j) for i, j, _ in result.top_pairs] == [(i, j) for i, j, _ in pairs]
    np.testing.assert_allclose([s for *_, s in result.top_pairs], [s for *_, s in pairs], atol=tol)
    assert result.nn_similarity_mean == pytest.approx(nn_mean, abs=tol)


def test_ties_are_broken_by_pair_index_across_blocks():
    # Basis vectors give exact similarities (0 or 1), so the order is fully decided by (i, j).
    eye = np.eye(5)
    features = eye[[0, 1, 0, 2, 1, 0, 3, 4, 2]]  # copies of e0 at 0, 2, 5; e1 at 1, 4; e2 at 3, 8
    expected = [(0, 2, 1.0), (0, 5, 1.0), (1, 4, 1.0), (2, 5, 1.0), (3, 8, 1.0), (0, 1, 0.0)]
    for block_size in (1, 2, 4, 9):
        result = duplicate_statistics(features, threshold=1.0, top=6, block_size=block_size)
        assert list(result.top_pairs) == expected
        assert result.n_duplicate_pairs == 5
        assert result.nn_similarity_mean == pytest.approx(7 / 9)  # rows 6 and 7 are unique


def test_top_larger_than_the_number_of_pairs_and_zero():
    features = random_unit_vectors(4, 3, seed=2)
    assert len(duplicate_statistics(features, threshold=0.5, top=20).top_pairs) == 6
    assert duplicate_statistics(features, threshold=0.5, top=0).top_pairs == ()


def test_support_size_estimate_known_numbers():
    assert support_size_estimate(100, 3) == (1650.0, False)  # C(100, 2) / 3 = 4950 / 3
    assert support_size_estimate(100, 1) == (4950.0, False)
    assert support_size_estimate(100, 0) == (1650.0, True)  # rule of three: C(n, 2) / 3
    assert support_size_estimate(2, 1) == (1.0, False)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        support_size_estimate(1, 0)
    with pytest.raises(ValueError, match="exceeds the C\\(4, 2\\) = 6 pairs"):
        support_size_estimate(4, 7)
    with pytest.raises(ValueError, match="n_duplicate_pairs must be"):
        support_size_estimate(10, -1)


def test_no_duplicates_reports_a_lower_bound_and_serialises():
    result = duplicate_statistics(random_unit_vectors(300, 64, seed=3), threshold=0.99, top=3)
    assert result.n_duplicate_pairs == 0
    assert result.support_is_lower_bound is True
    assert result.support_size == pytest.approx(300 * 299 / 2 / 3)
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert as_dict["n_images"] == 300 and len(as_dict["top_pairs"]) == 3
    assert as_dict["top_pairs"][0] == list(result.top_pairs[0])


def test_calibrate_threshold_is_the_nn_similarity_quantile():
    features = random_unit_vectors(500, 16, seed=4)
    unit_sim = features @ features.T
    np.fill_diagonal(unit_sim, -np.inf)
    nn = unit_sim.max(axis=1)
    np.testing.assert_allclose(nearest_neighbour_similarities(features, block_size=64), nn)
    for q in (0.5, 0.999, 1.0):
        threshold = calibrate_threshold(features, quantile=q, block_size=64)
        assert threshold == pytest.approx(float(np.quantile(nn, q)), rel=1e-12)
    # At the 0.999 quantile at most one row's nearest neighbour is "a duplicate" in its own set.
    threshold = calibrate_threshold(features)
    assert duplicate_statistics(features, threshold=threshold).n_duplicate_pairs <= 1
    with pytest.raises(ValueError, match="quantile must lie in"):
        calibrate_threshold(features, quantile=1.5)


def test_large_set_is_blocked_and_fast():
    n = 20_000
    features = np.random.default_rng(5).standard_normal((n, 64)).astype(np.float32)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        # One BLAS thread: many small tiles on cores shared with other jobs otherwise measure
        # the thread scheduler (10x slower under load), not this code.
        with threadpool_limits(limits=1, user_api="blas"):
            result = duplicate_statistics(features, threshold=0.95, top=5, block_size=500)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # An n x n float32 matrix would be 1.6 GB; the unit copy is 5 MB and a tile 1 MB.
    assert peak < 40e6
    assert elapsed < 10.0
    assert result.n_pairs == n * (n - 1) // 2 and len(result.top_pairs) == 5
    assert 0.0 < result.nn_similarity_mean < 1.0


@pytest.mark.parametrize(
    ("features", "kwargs", "match"),
    [
        (np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]), {}, r"zero norm \(first at row 1\)"),
        (np.ones(5), {}, "2-D features"),
        (np.ones((1, 5)), {}, "at least 2 rows"),
        (np.array([[1.0, np.inf], [1.0, 0.0]]), {}, "NaN or infinity"),
        (np.ones((3, 2), dtype=complex), {}, "real numeric"),
        (np.eye(3), {"threshold": 1.5}, r"threshold must be a cosine similarity in \[-1, 1\]"),
        (np.eye(3), {"top": -1}, "top must be an integer >= 0"),
        (np.eye(3), {"block_size": 0}, "block_size must be a positive integer"),
    ],
)
def test_validation_errors(features, kwargs, match):
    kwargs = {"threshold": 0.9, **kwargs}
    with pytest.raises(ValueError, match=match):
        duplicate_statistics(features, **kwargs)


def float32_rows_whose_cosine_exceeds_one(d: int = 2048, seed: int = 0) -> np.ndarray:
    """Two identical float32 rows whose float32 cosine rounds above 1 (as real duplicates do)."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        x = rng.standard_normal(d).astype(np.float32)
        unit = x / np.linalg.norm(x)
        if float(unit @ unit) > 1.0:
            return np.stack([x, x])
    raise AssertionError("no float32 row with a cosine above 1 found")


def exact_duplicate_reference(n: int = 400, d: int = 64, copies: int = 8) -> np.ndarray:
    """Random float32 rows, ``copies`` of them repeated exactly: NN-similarity quantiles of 1."""
    rng = np.random.default_rng(7)
    features = rng.standard_normal((n, d)).astype(np.float32)
    features[n - copies :] = features[:copies]
    return features


def test_exact_duplicates_have_cosine_one_and_the_threshold_stays_valid():
    pair = float32_rows_whose_cosine_exceeds_one()
    assert nearest_neighbour_similarities(pair).tolist() == [1.0, 1.0]
    reference = exact_duplicate_reference()
    threshold = calibrate_threshold(reference, quantile=0.999)
    assert threshold == 1.0  # 16 of 400 rows have an exact copy: the 0.999 quantile is 1
    result = duplicate_statistics(reference, threshold=threshold, top=10)
    assert result.n_duplicate_pairs == 8  # exactly the planted copies, no others
    assert [s for *_, s in result.top_pairs[:8]] == [1.0] * 8
    assert result.top_pairs[8][2] < 0.9


def test_a_threshold_of_one_counts_exact_duplicates_only():
    rng = np.random.default_rng(3)
    features = rng.standard_normal((50, 32))
    features[10] = features[3]  # an exact copy
    features[20] = features[4] * 2.5  # the same direction, another norm: a duplicate too
    features[30] = features[5] + 1e-4 * rng.standard_normal(32)  # near, not identical
    result = duplicate_statistics(features, threshold=1.0, top=3)
    assert result.n_duplicate_pairs == 2
    assert {(i, j) for i, j, _ in result.top_pairs[:2]} == {(3, 10), (4, 20)}


def test_the_duplicates_job_runs_on_a_reference_with_exact_duplicates():
    from modedrop.evaluate.duplicates import evaluate
    from modedrop.jobs import JobInputs

    reference = exact_duplicate_reference()
    collapsed = np.repeat(reference[:20], 5, axis=0)  # 20 images, 5 exact copies each
    unbiased = np.random.default_rng(8).standard_normal((100, 64)).astype(np.float32)
    sets = {"unbiased": unbiased, "collapse": collapsed}
    inputs = JobInputs(
        names={c: [f"{c}{i}.jpg" for i in range(len(x))] for c, x in sets.items()},
        sets=sets,
        reference_names=[f"ref{i}.jpg" for i in range(len(reference))],
        reference=reference,
    )
    params = {"threshold": None, "threshold_quantile": 0.999, "top": 5}
    values, details = evaluate(inputs, params)
    assert all(-1.0 <= details[c]["threshold"] <= 1.0 for c in sets)
    assert values["collapse"]["duplicate_pairs"] == 20 * 10  # C(5, 2) pairs per image
    assert values["unbiased"]["duplicate_pairs"] <= 1


def _job(reference: np.ndarray, sets: dict[str, np.ndarray]):
    from modedrop.jobs import JobInputs

    return JobInputs(
        names={c: [f"{c}{i}.jpg" for i in range(len(x))] for c, x in sets.items()},
        sets=sets,
        reference_names=[f"ref{i}.jpg" for i in range(len(reference))],
        reference=reference,
    )


def test_the_threshold_is_calibrated_on_a_reference_sample_as_large_as_the_set():
    """What config/README.md and the README state: the quantile of the nearest-neighbour
    cosines of a random reference sample exactly as large as the evaluated set."""
    from modedrop.evaluate.duplicates import SAMPLING_SEED, evaluate

    rng = np.random.default_rng(11)
    reference = rng.standard_normal((300, 16))
    sets = {"small": rng.standard_normal((60, 16)), "equal": rng.standard_normal((300, 16))}
    params = {"threshold": None, "threshold_quantile": 0.9, "top": 3}
    values, details = evaluate(_job(reference, sets), params)
    sample = np.sort(np.random.default_rng(SAMPLING_SEED).choice(300, 60, replace=False))
    assert details["small"]["threshold"] == calibrate_threshold(reference[sample], quantile=0.9)
    assert details["equal"]["threshold"] == calibrate_threshold(reference, quantile=0.9)
    for condition, x in sets.items():
        assert details[condition]["n_calibration"] == details[condition]["n_evaluated"] == len(x)


def test_a_set_larger_than_its_reference_is_evaluated_on_a_subsample_of_the_reference_size():
    from modedrop.evaluate.duplicates import evaluate

    rng = np.random.default_rng(12)
    reference = rng.standard_normal((80, 16))
    large = rng.standard_normal((200, 16))
    large[150] = large[7]  # an exact duplicate pair, kept only if both rows are sampled
    params = {"threshold": None, "threshold_quantile": 0.9, "top": 3}
    values, details = evaluate(_job(reference, {"large": large}), params)
    entry = details["large"]
    assert (entry["n_set"], entry["n_evaluated"], entry["n_calibration"]) == (200, 80, 80)
    assert entry["threshold"] == calibrate_threshold(reference, quantile=0.9)
    assert entry["n_images"] == 80  # the support size describes the 80 evaluated images
    names = {name for pair in entry["top_pairs"] for name in pair[:2]}
    assert names <= {f"large{i}.jpg" for i in range(200)}


def test_a_fixed_threshold_evaluates_the_whole_set():
    from modedrop.evaluate.duplicates import evaluate

    rng = np.random.default_rng(13)
    reference, large = rng.standard_normal((10, 8)), rng.standard_normal((50, 8))
    params = {"threshold": 0.95, "threshold_quantile": 0.9, "top": 3}
    _, details = evaluate(_job(reference, {"large": large}), params)
    assert (details["large"]["n_evaluated"], details["large"]["threshold"]) == (50, 0.95)
