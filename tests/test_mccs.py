"""MCCS (Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*): planted
collapse, formula, calibration, blocking and input validation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from modedrop.metrics.mccs import (
    MCCSResult,
    calibrate_radius,
    calibrate_theta,
    mccs_population,
    mccs_population_from_split,
    mccs_scores,
    same_identity_distances,
    split_anchors,
)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def dense_reference(anchors, samples, theta, radius, log):
    """Eqs. 3, 4, 7, 9 written out on the full |A| x |C| matrix (tiny inputs only)."""
    cosines = unit(np.asarray(anchors, float)) @ unit(np.asarray(samples, float)).T
    d = np.arccos(np.clip(cosines, -1, 1)) / math.pi
    s = (np.exp(np.maximum(0, theta - d)) - 1) / (math.e**theta - 1)
    mean_s = s.mean(axis=1)
    with np.errstate(divide="ignore"):
        if log == "ln":
            scores = np.where(mean_s > 0, 1 / (1 - np.log(mean_s)), 0.0)
        else:
            scores = np.where(mean_s > 0, 1 / -np.log10(mean_s), 0.0)
    return scores, (d <= radius).sum(axis=1)


def identities_with_a_repeat(rng, repeated: bool):
    """30 identities in 32-d with 2 images each; identity 0 has 40 images when ``repeated``."""
    centres = unit(rng.standard_normal((30, 32)))
    counts = np.full(30, 2)
    if repeated:
        counts[0] = 40
    labels = np.repeat(np.arange(30), counts)
    features = centres[labels] + 0.02 * rng.standard_normal((len(labels), 32))
    return features, labels


def test_identical_anchor_and_samples_score_one():
    anchor = np.array([[0.3, -1.2, 0.5, 2.0]])
    samples = np.repeat(anchor * 3.0, 50, axis=0)  # same direction, other norm
    np.testing.assert_allclose(mccs_scores(anchor, samples, theta=0.2), [1.0], atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_far_samples_score_exactly_zero_without_warnings():
    rng = np.random.default_rng(0)
    anchors = unit(rng.standard_normal((5, 16)))
    samples = unit(rng.standard_normal((7, 16)))  # random 16-d directions: d > 0.1
    scores = mccs_scores(anchors, samples, theta=0.01)
    log10 = mccs_scores(anchors, samples, theta=0.01, log="log10")
    result = mccs_population(anchors, samples, theta=0.01, radius=0.01)
    assert (scores == 0).all() and (log10 == 0).all()
    assert result.mean == 0 and result.std == 0 and result.worst_neighbours == 0
    assert result.worst_index == 0  # ties -> lowest index


def test_planted_repeated_identity_is_the_worst_case_dense_mode():
    rng = np.random.default_rng(1)
    features, labels = identities_with_a_repeat(rng, repeated=True)
    anchor_idx, sample_idx = split_anchors(len(features), 0.5, seed=3)
    result = mccs_population_from_split(
        features, anchor_idx, sample_idx, theta=0.2, radius=0.1, block_size=7
    )
    assert labels[result.worst_index] == 0
    scores = mccs_scores(features[anchor_idx], features[sample_idx], theta=0.2)
    # Its MCCS is above that of every other identity's anchor (the anchors of the repeated
    # identity differ only by their noise; the neighbour-count tie goes to the lowest row).
    repeated = labels[anchor_idx] == 0
    # Blocked and dense scores differ in their last bits with the BLAS kernel: a tolerance.
    assert np.isclose(scores[repeated], result.worst_mccs, rtol=1e-9, atol=0).any()
    assert result.worst_mccs > 2 * scores[~repeated].max()
    assert labels[anchor_idx[np.argmax(scores)]] == 0
    assert result.worst_neighbours == (labels[sample_idx] == 0).sum()

    plain, plain_labels = identities_with_a_repeat(np.random.default_rng(1), repeated=False)
    a, c = split_anchors(len(plain), 0.5, seed=3)
    baseline = mccs_population_from_split(plain, a, c, theta=0.2, radius=0.1)
    assert result.mean > baseline.mean + 0.05
    assert baseline.worst_neighbours <= 2


@pytest.mark.parametrize("log", ["ln", "log10"])
def test_formula_matches_a_dense_computation(log):
    rng = np.random.default_rng(2)
    centre = unit(rng.standard_normal(8))
    anchors = centre + 0.3 * rng.standard_normal((6, 8))
    samples = centre + 0.3 * rng.standard_normal((9, 8))
    expected, neighbours = dense_reference(anchors, samples, 0.25, 0.12, log)
    assert (expected > 0).sum() >= 4 and (neighbours > 0).any()  # a non-trivial example
    np.testing.assert_allclose(
        mccs_scores(anchors, samples, theta=0.25, log=log), expected, rtol=1e-12
    )
    result = mccs_population(anchors, samples, theta=0.25, radius=0.12, log=log)
    assert result.mean == pytest.approx(expected.mean(), rel=1e-12)
    assert result.std == pytest.approx(expected.std(ddof=1), rel=1e-12)
    assert result.worst_index == int(np.argmax(neighbours))
    assert result.worst_neighbours == neighbours.max()


def test_ln_is_bounded_and_log10_is_infinite_when_every_sample_is_identical():
    anchor = np.array([[1.0, 0.0, 0.0]])
    assert mccs_scores(anchor, anchor.repeat(3, 0), theta=0.3, log="log10")[0] == math.inf
    one_in_five = np.array([[1.0, 0, 0]] + [[0, 1.0, 0]] * 4)  # mean_s = 0.2
    assert mccs_scores(anchor, one_in_five, theta=0.3)[0] == pytest.approx(1 / (1 - math.log(0.2)))
    assert mccs_scores(anchor, one_in_five, theta=0.3, log="log10")[0] == pytest.approx(
        1 / -math.log10(0.2)
    )


@pytest.mark.parametrize(
    ("theta", "radius", "dense_path"),
    [(0.02, 0.01, False), (0.1, 0.08, False), (0.6, 0.2, True)],
    ids=["no-close-pair", "few-close-pairs", "most-pairs-close"],
)
def test_blocked_equals_dense(theta, radius, dense_path, monkeypatch):
    """Every block size and each code path (none / few / most pairs within reach) agree."""
    from modedrop.metrics import mccs

    dense_calls = []
    original = mccs.distance_sums
    monkeypatch.setattr(mccs, "distance_sums", lambda *a: dense_calls.append(1) or original(*a))
    rng = np.random.default_rng(4)
    centres = unit(rng.standard_normal((40, 24)))
    anchors = centres[rng.integers(0, 40, 70)] + 0.05 * rng.standard_normal((70, 24))
    samples = centres[rng.integers(0, 40, 90)] + 0.05 * rng.standard_normal((90, 24))
    expected, neighbours = dense_reference(anchors, samples, theta, radius, "ln")
    for block_size in (1, 13, 1000):
        scores = mccs_scores(anchors, samples, theta=theta, block_size=block_size)
        np.testing.assert_allclose(scores, expected, rtol=1e-10, atol=1e-14)
        result = mccs_population(
            anchors, samples, theta=theta, radius=radius, block_size=block_size
        )
        assert result.worst_neighbours == neighbours.max()
        assert result.worst_index == int(np.argmax(neighbours))
    assert bool(dense_calls) == dense_path


def test_calibration_returns_quantiles_of_same_identity_distances():
    # Identity "a": angles 0, 0.1 pi, 0.3 pi in a plane -> pair distances 0.1, 0.3, 0.2.
    # Identity "b": two images at distance 0.5. "c" is alone and contributes nothing.
    angles = np.array([0.0, 0.1, 0.3]) * math.pi
    a = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)], axis=1)
    b = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # 90 degrees: d = 0.5
    c = np.array([[0.0, 1.0, 0.0]])
    features = np.concatenate([a, b, c])
    labels = ["a", "a", "a", "b", "b", "c"]
    distances = np.sort(same_identity_distances(features, labels))
    np.testing.assert_allclose(distances, [0.1, 0.2, 0.3, 0.5], atol=1e-12)
    assert calibrate_radius(features, labels) == pytest.approx(0.25)  # median of 4
    assert calibrate_theta(features, labels, quantile=1.0) == pytest.approx(0.5)
    # numpy's linear interpolation: position 0.95 * 3 = 2.85 -> 0.3 + 0.85 * (0.5 - 0.3).
    assert calibrate_theta(features, labels) == pytest.approx(0.47)


def test_calibration_samples_pairs_when_there_are_too_many():
    rng = np.random.default_rng(5)
    features, labels = identities_with_a_repeat(rng, repeated=True)
    exact = same_identity_distances(features, labels)
    sampled = same_identity_distances(features, labels, max_pairs=len(exact) - 1, seed=0)
    again = same_identity_distances(features, labels, max_pairs=len(exact) - 1, seed=0)
    np.testing.assert_array_equal(sampled, again)
    assert len(sampled) == len(exact) - 1
    assert np.median(sampled) == pytest.approx(np.median(exact), abs=0.002)


def test_split_anchors_is_a_disjoint_seeded_partition():
    anchors, samples = split_anchors(11, 0.3, seed=2)
    assert len(anchors) == 3 and len(samples) == 8
    assert sorted(np.concatenate([anchors, samples])) == list(range(11))
    np.testing.assert_array_equal(split_anchors(11, 0.3, seed=2)[0], anchors)
    assert not np.array_equal(split_anchors(11, 0.3, seed=3)[0], anchors)


def test_result_dict():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 4))
    out = mccs_population(x[:3], x[3:], theta=0.3, radius=0.1).to_dict()
    assert set(out) == {f.name for f in MCCSResult.__dataclass_fields__.values()}
    assert out["n_anchors"] == 3 and out["n_samples"] == 3 and out["log"] == "ln"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mccs_scores(np.ones(4), np.ones((2, 4)), theta=0.2), "2-D"),
        (lambda: mccs_scores(np.ones((2, 4)), np.ones((2, 5)), theta=0.2), "same identity"),
        (lambda: mccs_scores(np.zeros((2, 4)), np.ones((2, 4)), theta=0.2), "all zeros"),
        (lambda: mccs_scores(np.full((2, 4), np.nan), np.ones((2, 4)), theta=0.2), "NaN"),
        (lambda: mccs_scores(np.ones((2, 4)), np.ones((2, 4)), theta=0.0), "theta"),
        (lambda: mccs_scores(np.ones((2, 4)), np.ones((2, 4)), theta=1.5), "theta"),
        (lambda: mccs_scores(np.ones((2, 4)), np.ones((2, 4)), theta=0.2, log="log2"), "log"),
        (lambda: mccs_scores(np.ones((2, 4)), np.ones((2, 4)), theta=0.2, block_size=0), "block"),
        (lambda: mccs_population(np.ones((1, 4)), np.ones((2, 4)), theta=0.2, radius=0.1), "2 "),
        (
            lambda: mccs_population_from_split(np.eye(4), [0, 1], [1, 2], theta=0.2, radius=0.1),
            "disjoint",
        ),
        (
            lambda: mccs_population_from_split(np.eye(4), [0, 9], [2], theta=0.2, radius=0.1),
            "outside",
        ),
        (lambda: calibrate_theta(np.eye(3), [1, 2, 3]), "no identity has two images"),
        (lambda: calibrate_theta(np.eye(3), [1, 1]), "one label per row"),
        (lambda: split_anchors(1), "n >= 2"),
    ],
)
def test_invalid_inputs_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()
