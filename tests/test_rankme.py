"""RankMe: agreement with an SVD reference, batching/centering invariance, planted cases."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from modedrop.metrics.rankme import (
    DEFAULT_EPSILON,
    gram_singular_values,
    rankme,
    rankme_from_singular_values,
)


def reference_rankme(z: np.ndarray, *, center: bool = False) -> float:
    """RankMe straight from the paper's formula with a full SVD (torch, float64)."""
    t = torch.from_numpy(np.asarray(z, dtype=np.float64))
    if center:
        t = t - t.mean(dim=0, keepdim=True)
    sigma = torch.linalg.svdvals(t)
    p = sigma / sigma.abs().sum() + DEFAULT_EPSILON
    return float(torch.exp(-(p * p.log()).sum()))


SHAPES = [(40, 96), (64, 64), (300, 48)]  # N < D, N = D, N > D


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("batch_size", [4096, 7])
def test_matches_svd_reference(shape, center, batch_size):
    rng = np.random.default_rng(sum(shape))
    # Anisotropic spectrum and a non-zero mean, so centering matters.
    z = (rng.standard_normal(shape) * np.linspace(0.1, 3.0, shape[1]) + 2.0).astype(np.float32)
    got = rankme(z, center=center, batch_size=batch_size)
    assert got == pytest.approx(reference_rankme(z, center=center), rel=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_singular_values_count_order_and_batch_invariance(shape):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(shape)
    s_full = gram_singular_values(z)
    s_batched = gram_singular_values(z, batch_size=5)
    assert s_full.shape == (min(shape),)
    assert s_full.dtype == np.float64
    assert np.all(np.diff(s_full) <= 0)
    np.testing.assert_allclose(s_batched, s_full, rtol=1e-9, atol=1e-9 * s_full[0])
    np.testing.assert_allclose(s_full, np.linalg.svd(z, compute_uv=False), rtol=1e-8)


def test_rank_one_gives_one():
    rng = np.random.default_rng(2)
    z = np.outer(rng.standard_normal(200), rng.standard_normal(64))
    assert rankme(z) == pytest.approx(1.0, abs=1e-3)


def test_orthonormal_columns_give_dimension():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((500, 32)))
    assert rankme(q) == pytest.approx(32.0, rel=1e-4)


def test_float32_and_float64_agree_and_scale_invariant():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((120, 30))
    assert rankme(z.astype(np.float32)) == pytest.approx(rankme(z), rel=1e-5)
    assert rankme(1000.0 * z) == pytest.approx(rankme(z), rel=1e-9)


def test_from_singular_values_matches_formula():
    sigma = np.array([3.0, 2.0, 1.0, 0.0])
    eps = 1e-3
    p = sigma / sigma.sum() + eps
    expected = float(np.exp(-(p * np.log(p)).sum()))
    assert rankme_from_singular_values(sigma, epsilon=eps) == pytest.approx(expected, rel=1e-12)


def test_h5py_dataset(tmp_path):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((257, 40)).astype(np.float32)
    path = tmp_path / "features.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("features", data=z)
    with h5py.File(path, "r") as f:
        got = rankme(f["features"], batch_size=64, center=True)
    assert got == pytest.approx(reference_rankme(z, center=True), rel=1e-6)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.ones(10), "2-D"),
        (np.ones((2, 3, 4)), "2-D"),
        (np.ones((0, 5)), "at least 1 sample"),
        (np.ones((5, 0)), "at least 1 sample"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or infinity"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "NaN or infinity"),
        (np.zeros((4, 3)), "All singular values are zero"),
        (np.array([["a", "b"]]), "real numeric"),
    ],
)
def test_bad_inputs_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        rankme(bad)


def test_bad_batch_size_and_sigma():
    with pytest.raises(ValueError, match="batch_size"):
        rankme(np.eye(3), batch_size=0)
    with pytest.raises(ValueError, match="non-negative"):
        rankme_from_singular_values([1.0, -1.0])
    with pytest.raises(ValueError, match="1-D"):
        rankme_from_singular_values(np.eye(3))
