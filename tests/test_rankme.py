"""RankMe: agreement with an SVD reference, batching/centering invariance, planted cases."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from modedrop.metrics.rankme import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPSILON,
    gram_matrix,
    gram_singular_values,
    rankme,
    rankme_from_singular_values,
    symmetrize_upper,
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


# --- the streamed Gram path (dsyrk accumulation, in-place symmetrisation, eigh) ------------

GRAM_SHAPES = [(300, 48), (40, 96), (64, 64)]  # N > D (feature Gram), N < D (sample Gram), N = D


def planted(shape: tuple[int, int], kind: str, seed: int) -> np.ndarray:
    """Float64 test matrix with a non-zero mean: full rank ("random") or rank 5 ("deficient")."""
    rng = np.random.default_rng(seed)
    n, d = shape
    if kind == "random":
        return rng.standard_normal(shape) * np.linspace(0.1, 3.0, d) + 2.0
    return rng.standard_normal((n, 5)) @ rng.standard_normal((5, d)) + 2.0


def svd_reference(z: np.ndarray, center: bool) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.svd(z - z.mean(axis=0) if center else z, compute_uv=False)


@pytest.mark.parametrize("kind", ["random", "deficient"])
@pytest.mark.parametrize("shape", GRAM_SHAPES)
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("batch_size", [1, 7, 33, 1024])
def test_gram_path_matches_float64_svd(kind, shape, center, batch_size):
    z = planted(shape, kind, seed=sum(shape) + batch_size)
    got = gram_singular_values(z, center=center, batch_size=batch_size)
    expected = svd_reference(z, center)
    top = expected[0]
    # The Gram matrix's eigenvalues sigma_k^2 carry an absolute error of ~eps64 * sigma_max^2.
    np.testing.assert_allclose(got**2, expected**2, rtol=0, atol=1e-14 * top**2)
    large = expected > 0.1 * top
    np.testing.assert_allclose(got[large], expected[large], rtol=1e-10, atol=0)
    # Exact zeros (rank-deficient input; centering with N <= D) therefore come out at
    # ~sqrt(eps64) * sigma_max (1e-8 to 2.3e-8 measured), which moves RankMe by up to ~1e-6
    # relative (measured 6e-7 to 1.03e-6 over four OpenBLAS kernels); without zeros RankMe
    # agrees to 1e-10 (3e-12 measured). The shift grows linearly with those values, which
    # depend on the BLAS/LAPACK kernels: with every zero at the 1e-7 bound it is 2.6e-5, so
    # the tolerance follows that bound.
    zeros = expected < 1e-10 * top
    assert np.all(got[zeros] <= 1e-7 * top)
    tolerance = 3e-5 if zeros.any() else 1e-10
    reference = rankme_from_singular_values(expected)
    assert rankme(z, center=center, batch_size=batch_size) == pytest.approx(
        reference, rel=tolerance
    )
    assert zeros.any() == (kind == "deficient" or (center and shape[0] <= shape[1]))


@pytest.mark.parametrize("shape", GRAM_SHAPES)
@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("batch_size", [1, 5, 17, 1024])
def test_gram_matrix_is_symmetric_and_exact(shape, center, batch_size):
    z = planted(shape, "random", seed=3)
    gram = gram_matrix(z, center=center, batch_size=batch_size)
    zc = z - z.mean(axis=0) if center else z
    expected = zc.T @ zc if shape[0] >= shape[1] else zc @ zc.T
    assert gram.shape == expected.shape
    assert gram.flags.f_contiguous  # LAPACK overwrites it in place, no copy
    np.testing.assert_array_equal(gram, gram.T)
    np.testing.assert_allclose(gram, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


def test_gram_path_reads_float32_and_integer_inputs_and_leaves_them_unchanged():
    rng = np.random.default_rng(8)
    z32 = (rng.standard_normal((70, 12)) + 1.0).astype(np.float32)
    before = z32.copy()
    got = gram_singular_values(z32, center=True, batch_size=9)
    np.testing.assert_array_equal(z32, before)  # centering works on a copy
    np.testing.assert_allclose(got, svd_reference(z32, True), rtol=1e-8)
    ints = rng.integers(-5, 6, size=(50, 10))
    np.testing.assert_allclose(
        gram_singular_values(ints, batch_size=7), svd_reference(ints, False), rtol=1e-8
    )


def test_default_batch_size_is_shared():
    import inspect

    for fn in (rankme, gram_singular_values):
        assert inspect.signature(fn).parameters["batch_size"].default == DEFAULT_BATCH_SIZE


@pytest.mark.parametrize("size", [1, 5, 255, 256, 257, 600])
@pytest.mark.parametrize("block", [1, 7, 256])
def test_symmetrize_upper_copies_the_upper_triangle_in_place(size, block):
    rng = np.random.default_rng(size)
    upper = np.triu(rng.standard_normal((size, size)))
    gram = np.asfortranarray(upper + np.tril(np.full((size, size), np.nan), -1))
    out = symmetrize_upper(gram, block=block)
    assert out is gram
    np.testing.assert_array_equal(gram, upper + np.triu(upper, 1).T)
