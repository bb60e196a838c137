"""RankMe: the smooth (effective) rank of a representation matrix.

Formula (Garrido et al. 2023, "RankMe: Assessing the downstream performance of pretrained
self-supervised representations by their rank", ICML; the smooth rank of Roy & Vetterli 2007,
"The effective rank: a measure of effective dimensionality", EUSIPCO)::

    sigma = singular values of Z (N x D),  k = 1 .. min(N, D)
    p_k   = sigma_k / ||sigma||_1 + eps
    RankMe(Z) = exp(-sum_k p_k log p_k)

``eps`` defaults to the float32 machine epsilon (``numpy.finfo(numpy.float32).eps``, about
1.19e-7), which is what the paper's reference code gets for float32 embeddings
(``torch.finfo(z.dtype).eps``); it is used whatever the input dtype so that float32 and float64
caches of the same features give the same score. Rows are *not* centered by default (the paper
does not center); ``center=True`` subtracts the column mean first.

**Can the singular values be computed on batches?** (open question of the seed report) Yes,
exactly. The squared singular values of Z are the eigenvalues of its Gram matrix,
``sigma_k(Z)**2 = lambda_k(Z^T Z)``, and ``Z^T Z = sum_b Z_b^T Z_b`` is a sum over row batches
``Z_b``. So :func:`gram_singular_values` streams the rows once, accumulates the D x D Gram matrix
in float64 (O(D^2) memory, independent of N), and takes ``sqrt(eigvalsh(Z^T Z))``; no N x D SVD
is ever formed. When N < D the smaller N x N Gram matrix ``Z Z^T`` (same non-zero eigenvalues) is
used instead, built block by block. Centering is batch-compatible too:
``(Z - 1 mu^T)^T (Z - 1 mu^T) = Z^T Z - N mu mu^T``.

Accuracy: accumulating the Gram matrix in float64 and taking square roots resolves singular
values down to about ``1e-8 * sigma_max`` (the eigenvalues carry an absolute error of about
``eps64 * sigma_max^2``). Results agree with a float64 SVD to ~1e-12 relative on full-rank
inputs. Singular values that are exactly zero (rank-deficient features, or centering with
N <= D) come out at that floor, ``1e-8 to 2e-8 * sigma_max``, instead of 0; each such ``p_k``
then exceeds ``eps ~ 1.2e-7`` by a few per cent, which moves RankMe by up to ~1e-6 relative
from a float64 SVD (measured 6e-7 to 1e-6 on rank-5 matrices of width 48-96; see
tests/test_rankme.py). A float32 SVD, as in the paper's code, has a larger floor
(``~1e-7 * sigma_max``).

Memory and speed: the Gram matrix is accumulated with BLAS ``dsyrk`` (the upper triangle only,
in place) from one reusable float64 batch buffer, and its eigenvalues are computed in place
(LAPACK ``dsyevd``). With the default ``batch_size`` (1,024 rows, the feature cache's HDF5
chunk) the peak at D = 2,048 is about 80 MiB (Gram 32 MiB, batch 16 MiB, the reader's float32
copy, BLAS buffers), measured on 51,200 x 2,048 from HDF5; 4,096-row batches use ~150 MiB and
are no faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dsyr, dsyrk

from modedrop.validation import positive_int

__all__ = [
    "DEFAULT_EPSILON",
    "gram_matrix",
    "gram_singular_values",
    "rankme",
    "rankme_from_singular_values",
    "symmetrize_upper",
]

#: Default ``eps`` added to every normalised singular value (float32 machine epsilon).
DEFAULT_EPSILON: float = float(np.finfo(np.float32).eps)

#: Default rows per batch of :func:`gram_singular_values` (see its ``batch_size``).
DEFAULT_BATCH_SIZE: int = 1024


def _check_features(features: Any) -> tuple[Any, int, int]:
    """Validate the container (not the values) and return ``(features, N, D)``."""
    if not hasattr(features, "shape") or not hasattr(features, "__getitem__"):
        features = np.asarray(features)
    shape = tuple(features.shape)
    if len(shape) != 2:
        hint = (
            " Reshape your data with features.reshape(-1, 1) if it has a single feature, or"
            " features.reshape(1, -1) if it is a single sample."
            if len(shape) == 1
            else " Flatten each sample to one row: features.reshape(len(features), -1)."
        )
        raise ValueError(
            f"Expected a 2-D features array of shape (n_samples, n_features), "
            f"got {len(shape)}-D array with shape {shape}.{hint}"
        )
    n, d = int(shape[0]), int(shape[1])
    if n < 1 or d < 1:
        raise ValueError(
            f"Found a features array with shape {shape}; RankMe needs at least 1 sample and "
            "1 feature. Check that the subset / feature file is not empty."
        )
    dtype = getattr(features, "dtype", None)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in "fiub":
            raise ValueError(
                f"Expected a real numeric features array (float32/float64), got dtype {dtype}. "
                "Convert it with features.astype(numpy.float32)."
            )
    return features, n, d


def _read_rows(features: Any, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
    """Rows ``start:stop`` as a finite float64 C-ordered array (written into ``out`` if given).

    ``out`` is a reusable float64 buffer of at least ``stop - start`` rows: filling it instead
    of allocating a new array per batch keeps the peak memory at one batch.
    """
    if out is None:
        block = np.array(features[start:stop], dtype=np.float64, order="C")
    else:
        block = out[: stop - start]
        np.copyto(block, features[start:stop], casting="unsafe")
    if not np.isfinite(block).all():
        bad = start + int(np.flatnonzero(~np.all(np.isfinite(block), axis=1))[0])
        raise ValueError(
            f"Features contain NaN or infinity (first at row {bad}). RankMe needs finite "
            "values: drop or re-embed the affected samples (e.g. features[np.isfinite("
            "features).all(axis=1)])."
        )
    return block


def symmetrize_upper(gram: np.ndarray, block: int = 256) -> np.ndarray:
    """Copy the upper triangle of a square matrix onto its lower one, in place.

    Works on ``block``-wide column strips so that no full-size temporary is made (a D x D
    float64 copy is 32 MiB at D = 2048).
    """
    size = gram.shape[0]
    for lo in range(0, size, block):
        hi = min(lo + block, size)
        gram[lo:hi, :lo] = gram[:lo, lo:hi].T
        tile = gram[lo:hi, lo:hi]
        lower = np.tril_indices(hi - lo, -1)
        tile[lower] = tile.T[lower]
    return gram


def _feature_gram(features: Any, n: int, d: int, *, center: bool, batch_size: int) -> np.ndarray:
    """``Z^T Z`` (D x D, float64), of the centered ``Z`` if ``center``, streamed in row batches.

    Each batch adds ``Z_b^T Z_b`` with a symmetric rank-k update (BLAS ``dsyrk``, accumulated
    in place into the Fortran-ordered Gram matrix, which ``Z_b.T`` of a C-ordered batch feeds
    without a copy). Only the upper triangle is formed. numpy's ``Z_b.T @ Z_b`` already calls
    syrk, so the gain is the D x D temporary and the addition per batch it saves, not flops.
    With ``center`` the batches are shifted by the first batch's mean ``c`` and the result
    corrected by ``- N (mu - c)(mu - c)^T`` (see :func:`gram_singular_values`).
    """
    gram = np.zeros((d, d), dtype=np.float64, order="F")
    buffer = np.empty((min(batch_size, n), d), dtype=np.float64)
    total = np.zeros(d, dtype=np.float64)
    shift = None
    for start in range(0, n, batch_size):
        block = _read_rows(features, start, min(start + batch_size, n), out=buffer)
        if center:
            if shift is None:
                shift = block.mean(axis=0)
            block -= shift
            total += block.sum(axis=0)
        gram = dsyrk(1.0, block.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
    if center:
        delta = total / n  # = mu - shift
        gram = dsyr(-float(n), delta, a=gram, lower=0, overwrite_a=1)
    return gram


def _sample_gram(features: Any, n: int, d: int, *, center: bool, batch_size: int) -> np.ndarray:
    """``Z Z^T`` (N x N, float64; for N < D), of the centered ``Z`` if ``center``, block by block.

    Only blocks on and above the diagonal are formed (upper triangle), so row batch ``i`` is
    read once for each ``j >= i``; with ``center`` the mean is computed in a first pass.
    """
    mean = None
    if center:
        total = np.zeros(d, dtype=np.float64)
        for start in range(0, n, batch_size):
            total += _read_rows(features, start, min(start + batch_size, n)).sum(axis=0)
        mean = total / n
    gram = np.zeros((n, n), dtype=np.float64, order="F")
    starts = range(0, n, batch_size)
    for si in starts:
        ei = min(si + batch_size, n)
        bi = _read_rows(features, si, ei)
        if mean is not None:
            bi -= mean
        gram[si:ei, si:ei] = bi @ bi.T
        for sj in range(ei, n, batch_size):
            ej = min(sj + batch_size, n)
            bj = _read_rows(features, sj, ej)
            if mean is not None:
                bj -= mean
            gram[si:ei, sj:ej] = bi @ bj.T
    return gram


def gram_matrix(
    features: Any, *, center: bool = False, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """The symmetric float64 Gram matrix used by :func:`gram_singular_values`.

    ``Z^T Z`` (D x D) when N >= D, else ``Z Z^T`` (N x N), of the centered ``Z`` if
    ``center``, streamed in row batches of ``batch_size``; Fortran-ordered, so LAPACK can
    overwrite it in place.
    """
    features, n, d = _check_features(features)
    batch_size = positive_int(batch_size, "batch_size")
    build = _feature_gram if n >= d else _sample_gram
    gram = build(features, n, d, center=center, batch_size=batch_size)
    return symmetrize_upper(gram)


def gram_singular_values(
    features: Any, *, center: bool = False, batch_size: int = DEFAULT_BATCH_SIZE
) -> np.ndarray:
    """Singular values of an N x D matrix from its float64 Gram matrix, streamed in row batches.

    Parameters
    ----------
    features
        N x D array (float32/float64 numpy array, or anything with ``.shape`` that supports
        ``features[i:j]`` row slicing, e.g. an ``h5py.Dataset``, so features can be streamed from
        HDF5 without loading them at once).
    center
        Subtract the column mean before computing the singular values.
    batch_size
        Rows read per batch. Does not change the result beyond floating-point rounding; the
        memory held is the D x D float64 Gram matrix plus one ``batch_size`` x D float64 batch
        (plus the reader's own copy of the batch, e.g. float32 from HDF5).

    Returns
    -------
    numpy.ndarray
        Exactly ``min(N, D)`` singular values, float64, in descending order.

    Method: ``sigma = sqrt(clip(eigvalsh(G), 0))`` with ``G = Z^T Z`` (D x D) when N >= D and
    ``G = Z Z^T`` (N x N) when N < D. With ``center=True`` and N >= D the Gram matrix of the
    centered data is accumulated in one pass around a shift ``c`` (the mean of the first batch),
    ``sum_b (Z_b - c)^T (Z_b - c) - N (mu - c)(mu - c)^T``, which equals ``Z^T Z - N mu mu^T``
    but avoids cancellation when the mean is large; for N < D the mean is computed in a first
    pass and each row block is centered before forming ``Z_i Z_j^T``. The eigenvalues come
    from LAPACK's divide-and-conquer ``dsyevd`` (eigenvalues only), which overwrites the Gram
    matrix instead of copying it.
    """
    gram = gram_matrix(features, center=center, batch_size=batch_size)
    # Inputs were checked finite batch by batch, so the finiteness scan of eigh is skipped.
    eigenvalues = scipy.linalg.eigh(
        gram, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evd"
    )  # ascending
    return np.sqrt(np.clip(eigenvalues, 0.0, None))[::-1].copy()


def rankme_from_singular_values(sigma: Any, epsilon: float | None = None) -> float:
    """RankMe from precomputed singular values: ``exp(-sum_k p_k log p_k)``.

    ``p_k = sigma_k / ||sigma||_1 + epsilon`` (Garrido et al. 2023, Eq. 1); ``epsilon`` defaults
    to :data:`DEFAULT_EPSILON` (float32 machine epsilon). Pass all ``min(N, D)`` singular values,
    zeros included: the ``epsilon`` terms of zero singular values are part of the definition.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.ndim != 1:
        raise ValueError(
            f"Expected a 1-D array of singular values, got shape {sigma.shape}. Pass "
            "numpy.linalg.svd(Z, compute_uv=False) or gram_singular_values(Z), not Z itself "
            "(use rankme(Z) for a feature matrix)."
        )
    if sigma.size == 0:
        raise ValueError("Got an empty array of singular values; RankMe needs at least one.")
    if not np.all(np.isfinite(sigma)):
        raise ValueError("Singular values contain NaN or infinity; check the feature matrix.")
    if np.any(sigma < 0):
        raise ValueError(
            "Singular values must be non-negative; got negative values (did you pass "
            "eigenvalues or a signed spectrum? take their absolute value / sqrt first)."
        )
    norm = float(sigma.sum())
    if norm <= 0.0:
        raise ValueError(
            "All singular values are zero (the feature matrix is all zeros, or constant rows "
            "with center=True); RankMe is undefined. Check the features."
        )
    eps = DEFAULT_EPSILON if epsilon is None else float(epsilon)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"epsilon must be a finite non-negative number, got {epsilon!r}.")
    p = sigma / norm + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return float(np.exp(-terms.sum()))


def rankme(
    features: Any,
    *,
    epsilon: float | None = None,
    center: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> float:
    """RankMe of an N x D feature matrix (Garrido et al. 2023).

    ``RankMe(Z) = exp(-sum_{k <= min(N, D)} p_k log p_k)``, ``p_k = sigma_k(Z)/||sigma(Z)||_1 +
    epsilon``. It lies in ``(0, min(N, D)]`` up to the ``epsilon`` terms; higher means the
    embeddings spread over more directions. The singular values come from
    :func:`gram_singular_values` (batched, exact, O(D^2) memory); ``features`` may be an
    ``h5py.Dataset``.
    """
    sigma = gram_singular_values(features, center=center, batch_size=batch_size)
    return rankme_from_singular_values(sigma, epsilon=epsilon)
