"""Inception Score: agreement with torch-fidelity 0.4.0 and planted cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)

from modedrop.metrics.inception_score import InceptionScore, inception_score


@pytest.mark.parametrize(
    ("n", "c", "splits"),
    [(100, 10, 10), (257, 7, 10), (64, 1000, 3), (50, 2, 1), (33, 5, 33)],
)
@pytest.mark.parametrize("shuffle", [True, False])
def test_matches_torch_fidelity(n, c, splits, shuffle):
    rng = np.random.default_rng(n * c + splits)
    logits = (3.0 * rng.standard_normal((n, c))).astype(np.float32)
    ref = isc_features_to_metric(
        torch.from_numpy(logits), splits=splits, shuffle=shuffle, rng_seed=2020
    )
    got = inception_score(logits, splits=splits, shuffle=shuffle, rng_seed=2020)
    assert isinstance(got, InceptionScore)
    assert got.splits == splits
    assert got.mean == pytest.approx(ref[KEY_METRIC_ISC_MEAN], rel=1e-6)
    assert got.std == pytest.approx(ref[KEY_METRIC_ISC_STD], rel=1e-6, abs=1e-12)


def test_rng_seed_changes_split_assignment_only():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((200, 10))
    a = inception_score(logits, rng_seed=1)
    b = inception_score(logits, rng_seed=2)
    assert a.mean != b.mean
    # One split: order is irrelevant.
    assert inception_score(logits, splits=1, rng_seed=1).mean == pytest.approx(
        inception_score(logits, splits=1, shuffle=False).mean, rel=1e-12
    )


def test_uniform_predictions_give_one():
    logits = np.zeros((100, 10))
    res = inception_score(logits)
    assert res.mean == pytest.approx(1.0, abs=1e-12)
    assert res.std == pytest.approx(0.0, abs=1e-12)


def test_confident_distinct_classes_give_number_of_classes():
    k, per_class = 8, 50
    labels = np.repeat(np.arange(k), per_class)
    logits = np.full((k * per_class, k), -50.0)
    logits[np.arange(k * per_class), labels] = 50.0
    res = inception_score(logits, splits=1)
    assert res.mean == pytest.approx(k, rel=1e-9)
    # Extreme logits: probabilities underflow to 0, result must stay finite.
    res = inception_score(logits * 100, splits=5)
    assert np.isfinite(res.mean) and res.mean == pytest.approx(k, rel=0.05)


def test_class_with_zero_probability_everywhere_changes_nothing():
    # exp(-1e4) underflows to 0 in every row: p(y) = 0 for that class in every split, where
    # torch-fidelity returns NaN; its 0 log 0 terms must vanish, not poison the score.
    logits = 3.0 * np.random.default_rng(2).standard_normal((60, 5))
    with_dead_class = np.hstack([logits, np.full((60, 1), -1e4)])
    expected = inception_score(logits, splits=3)
    got = inception_score(with_dead_class, splits=3)
    assert np.isfinite(got.mean) and np.isfinite(got.std)
    assert got.mean == pytest.approx(expected.mean, rel=1e-12)
    assert got.std == pytest.approx(expected.std, rel=1e-9)


def test_result_is_frozen():
    res = inception_score(np.random.default_rng(1).standard_normal((20, 3)), splits=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.mean = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("logits", "kwargs", "match"),
    [
        (np.zeros(10), {}, "2-D"),
        (np.zeros((20, 1)), {}, "at least 2 classes"),
        (np.zeros((5, 3)), {"splits": 10}, "fewer splits"),
        (np.array([[0.0, np.nan]] * 20), {}, "NaN or infinity"),
        (np.zeros((20, 3)), {"splits": 0}, "positive integer"),
        (np.zeros((0, 3)), {"splits": 1}, "fewer splits"),
    ],
)
def test_validation(logits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        inception_score(logits, **kwargs)
