"""Vendi score: the exponential of the entropy of a similarity matrix's eigenvalues.

Formula (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation Metric for Machine
Learning", TMLR), with the cosine-similarity kernel of L2-normalised features ``x_i``::

    K = X X^T / N   (unit rows, so Tr K = 1),   lambda_i = eigenvalues of K
    VS_q = exp( log(sum_i lambda_i^q) / (1 - q) )     (order q >= 0, q != 1)
    VS_1 = exp( -sum_i lambda_i log lambda_i )        (q = 1, Shannon; 0 log 0 = 0)
    VS_inf = 1 / max_i lambda_i                        (q = inf)

It ranges from 1 (all samples identical up to scale) to ``min(N, D)`` (mutually orthogonal).
Reference implementation: the ``vendi_score`` package 0.0.3 (``vendi_score/vendi.py``:
``score_X`` for q = 1 and ``score_dual`` for any q; the former ignores its ``q`` argument).

``K`` (N x N) and ``X^T X / N`` (D x D) have the same non-zero eigenvalues, so when N > D the
D x D matrix is accumulated over row blocks (memory O(D^2), as ``score_dual``) and no N x N
matrix is formed; when N <= D the N x N matrix is the small one. Everything is float64.
Eigenvalues below ``max(N, D) * eps * lambda_max`` (rounding noise, as in ``numpy.linalg.
matrix_rank``) count as 0; this changes nothing for q >= 1 but makes q = 0 the numerical rank
(the package counts every rounding-positive eigenvalue there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modedrop.validation import feature_matrix, positive_int

__all__ = ["vendi_score", "vendi_score_from_eigenvalues"]


def _check_order(q: Any) -> float:
    try:
        order = float(q)  # also accepts the package's q="inf"
    except (TypeError, ValueError):
        order = float("nan")
    if np.isnan(order) or order < 0:
        raise ValueError(f"q must be a number >= 0 or infinity, got {q!r}.")
    return order


def _unit_rows(block: np.ndarray, start: int) -> np.ndarray:
    """Rows of ``block`` (rows ``start:`` of the features) scaled to unit norm, in float64."""
    block = block.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", block, block))
    if np.any(norms == 0):
        bad = start + int(np.flatnonzero(norms == 0)[0])
        raise ValueError(
            f"Row {bad} of features is all zeros; cosine similarity is undefined for it. Drop "
            "zero rows (features[numpy.any(features != 0, axis=1)]) or check the encoder."
        )
    return block / norms[:, None]


def _similarity_spectrum(x: np.ndarray, block_size: int) -> np.ndarray:
    """Eigenvalues of ``K = X X^T / N`` (unit rows) from the smaller of the two Gram matrices."""
    n, d = x.shape
    if n > d:
        gram = np.zeros((d, d), dtype=np.float64)
        for start in range(0, n, block_size):
            block = _unit_rows(x[start : start + block_size], start)
            gram += block.T @ block
    else:
        unit = _unit_rows(x, 0)
        gram = unit @ unit.T
    gram /= n
    eigenvalues = np.linalg.eigvalsh(0.5 * (gram + gram.T))
    # Rounding noise of a Gram matrix summed over max(N, D) terms, as numpy.linalg.matrix_rank.
    noise = max(n, d) * np.finfo(np.float64).eps * eigenvalues.max()
    return np.where(eigenvalues > noise, eigenvalues, 0.0)


def vendi_score_from_eigenvalues(eigenvalues: Any, *, q: float = 1.0) -> float:
    """``exp`` of the order-``q`` Rényi entropy of non-negative eigenvalues summing to ~1.

    Eigenvalues at or below ``len(eigenvalues) * eps * max`` (negative rounding noise
    included) are treated as 0.
    """
    order = _check_order(q)
    p = np.asarray(eigenvalues, dtype=np.float64).ravel()
    if p.size == 0 or not np.all(np.isfinite(p)) or p.max() <= 0:
        raise ValueError("Expected a non-empty finite spectrum with a positive eigenvalue.")
    p = p[p > p.size * np.finfo(np.float64).eps * p.max()]
    if order == 1.0:
        return float(np.exp(-np.sum(p * np.log(p))))
    if np.isinf(order):
        return float(1.0 / p.max())
    return float(np.exp(np.log(np.sum(p**order)) / (1.0 - order)))


def vendi_score(features: Any, *, q: float = 1.0, block_size: int = 4096) -> float:
    """Vendi score of N x D features with the cosine-similarity kernel (Friedman & Dieng 2023).

    Rows are L2-normalised (an all-zero row is an error); ``q`` is the order (default 1, the
    paper's score; ``float("inf")`` or ``"inf"`` for q = infinity). ``block_size`` rows are
    normalised and accumulated at a time when N > D. Returns a value in ``[1, min(N, D)]``.
    """
    x = feature_matrix(
        features, "features", size_message="the Vendi score needs at least 1 row and 1 feature."
    )
    block_size = positive_int(block_size, "block_size")
    order = _check_order(q)
    return vendi_score_from_eigenvalues(_similarity_spectrum(x, block_size), q=order)
