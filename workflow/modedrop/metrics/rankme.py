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
values down to about ``1e-8 * sigma_max``; RankMe is insensitive below that because every ``p_k``
already carries ``eps ~ 1.2e-7``. Results agree with a float64 SVD to ~1e-12 relative on
well-conditioned inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modedrop.metrics._checks import positive_int

__all__ = ["gram_singular_values", "rankme", "rankme_from_singular_values", "DEFAULT_EPSILON"]

#: Default ``eps`` added to every normalised singular value (float32 machine epsilon).
DEFAULT_EPSILON: float = float(np.finfo(np.float32).eps)


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


def _read_rows(features: Any, start: int, stop: int) -> np.ndarray:
    """Read rows ``start:stop`` as a float64 array and check they are finite."""
    block = np.asarray(features[start:stop], dtype=np.float64)
    if not np.all(np.isfinite(block)):
        bad = start + int(np.flatnonzero(~np.all(np.isfinite(block), axis=1))[0])
        raise ValueError(
            f"Features contain NaN or infinity (first at row {bad}). RankMe needs finite "
            "values: drop or re-embed the affected samples (e.g. features[np.isfinite("
            "features).all(axis=1)])."
        )
    return block


def gram_singular_values(
    features: Any, *, center: bool = False, batch_size: int = 4096
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
        Rows read per batch. Does not change the result beyond floating-point rounding.

    Returns
    -------
    numpy.ndarray
        Exactly ``min(N, D)`` singular values, float64, in descending order.

    Method: ``sigma = sqrt(clip(eigvalsh(G), 0))`` with ``G = Z^T Z`` (D x D) when N >= D and
    ``G = Z Z^T`` (N x N) when N < D. With ``center=True`` and N >= D the Gram matrix of the
    centered data is accumulated in one pass around a shift ``c`` (the mean of the first batch),
    ``sum_b (Z_b - c)^T (Z_b - c) - N (mu - c)(mu - c)^T``, which equals ``Z^T Z - N mu mu^T``
    but avoids cancellation when the mean is large; for N < D the mean is computed in a first
    pass and each row block is centered before forming ``Z_i Z_j^T``.
    """
    features, n, d = _check_features(features)
    batch_size = positive_int(batch_size, "batch_size")

    if n >= d:
        gram = np.zeros((d, d), dtype=np.float64)
        total = np.zeros(d, dtype=np.float64)
        shift = np.zeros(d, dtype=np.float64)
        for start in range(0, n, batch_size):
            block = _read_rows(features, start, min(start + batch_size, n))
            if center:
                if start == 0:
                    shift = block.mean(axis=0)
                block = block - shift
                total += block.sum(axis=0)
            gram += block.T @ block
        if center:
            delta = total / n  # = mu - shift
            gram -= n * np.outer(delta, delta)
    else:
        mean = None
        if center:
            total = np.zeros(d, dtype=np.float64)
            for start in range(0, n, batch_size):
                total += _read_rows(features, start, min(start + batch_size, n)).sum(axis=0)
            mean = total / n
        starts = list(range(0, n, batch_size))
        gram = np.zeros((n, n), dtype=np.float64)
        for i, si in enumerate(starts):
            ei = min(si + batch_size, n)
            bi = _read_rows(features, si, ei)
            if mean is not None:
                bi = bi - mean
            gram[si:ei, si:ei] = bi @ bi.T
            for sj in starts[i + 1 :]:
                ej = min(sj + batch_size, n)
                bj = _read_rows(features, sj, ej)
                if mean is not None:
                    bj = bj - mean
                block = bi @ bj.T
                gram[si:ei, sj:ej] = block
                gram[sj:ej, si:ei] = block.T

    gram = 0.5 * (gram + gram.T)  # exact symmetry for eigvalsh
    eigenvalues = np.linalg.eigvalsh(gram)  # ascending
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
    batch_size: int = 4096,
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
