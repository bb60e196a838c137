"""Fréchet distance between Gaussian fits of two feature sets (FID, or FD_<encoder>).

Formula (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
Nash Equilibrium", NeurIPS; Dowson & Landau 1982 for the Gaussian Fréchet distance)::

    FD = ||mu_e - mu_r||^2 + Tr(S_e + S_r - 2 (S_e S_r)^{1/2})

with ``mu`` the column means and ``S`` the sample covariances (``ddof=1``), as in torch-fidelity
0.4.0 (``torch_fidelity/metric_fid.py``: ``fid_features_to_statistics`` uses ``numpy.cov`` and
``fid_statistics_to_metric`` turns two ``(mu, sigma)`` pairs into the value). With Inception-v3
pool features this is FID; with another encoder it is "FD_<encoder>" and not comparable with
published FID values.

The trace of the matrix square root is computed without ``scipy.linalg.sqrtm``: with any
factor ``F`` of the reference covariance, ``S_r = F F^T`` (computed once per reference),
``S_e S_r = (S_e F) F^T`` has the eigenvalues of ``F^T S_e F`` (``AB`` and ``BA`` share their
eigenvalues), a symmetric PSD matrix, so::

    Tr((S_e S_r)^{1/2}) = sum_i sqrt(max(lambda_i(F^T S_e F), 0))

``F`` is the Cholesky factor of ``S_r`` (a fraction of the cost of an eigendecomposition); when
``S_r`` is not numerically positive definite (e.g. fewer rows than features) Cholesky fails and
``F`` is the symmetric PSD square root from ``eigh``. Both are exact for singular covariances too
(the identity only needs ``S_r = F F^T``), and the evaluated side needs one symmetric
eigenvalue computation instead of a non-symmetric one (torch-fidelity uses
``numpy.linalg.eigvals(S_e S_r)``, Mathiassen & Pedersen's speed-up of the ``sqrtm`` in TTUR's
``fid.py``). Everything is float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = ["FrechetReference", "frechet_distance", "gaussian_statistics"]


#: Why a feature set needs 2 rows here, for the size error of ``feature_matrix``.
_TOO_FEW_ROWS = (
    "the Fréchet distance needs at least 2 samples (rows) and 1 feature for a sample "
    "covariance. Pass more samples."
)


def gaussian_statistics(features: Any, *, block_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (``ddof=1``, as ``numpy.cov(features, rowvar=False)``).

    The D x D scatter matrix is accumulated in float64 over row blocks of ``block_size`` around
    a shift ``c`` (the mean of the first block), ``sum_b (X_b - c)^T (X_b - c) - N dc dc^T``
    with ``dc = mu - c``, so memory is O(D^2 + block_size * D) and large means do not cancel.
    """
    x = feature_matrix(features, "features", min_rows=2, size_message=_TOO_FEW_ROWS)
    block_size = positive_int(block_size, "block_size")
    n, d = x.shape
    shift = x[:block_size].astype(np.float64).mean(axis=0)
    total = np.zeros(d, dtype=np.float64)
    scatter = np.zeros((d, d), dtype=np.float64)
    for start in range(0, n, block_size):
        block = x[start : start + block_size].astype(np.float64) - shift
        total += block.sum(axis=0)
        scatter += block.T @ block
    delta = total / n  # = mean - shift
    scatter -= n * np.outer(delta, delta)
    cov = 0.5 * (scatter + scatter.T) / (n - 1)  # exact symmetry for eigh/eigvalsh
    return shift + delta, cov


def _check_statistics(mean: Any, cov: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    d = mean.shape[0] if mean.ndim == 1 else -1
    if mean.ndim != 1 or cov.shape != (d, d):
        raise ValueError(
            f"{name}: expected a mean of shape (D,) and a covariance of shape (D, D), got "
            f"{mean.shape} and {cov.shape}. Use gaussian_statistics(features)."
        )
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise ValueError(f"{name}: mean or covariance contains NaN or infinity.")
    return mean, 0.5 * (cov + cov.T)


def _factor(cov: np.ndarray) -> np.ndarray:
    """A factor ``F`` with ``F F^T = cov``: Cholesky's lower triangle, else the PSD square root.

    Cholesky fails on a covariance that is not numerically positive definite (singular, e.g.
    fewer samples than features); then ``F`` is the symmetric square root from ``eigh`` with
    rounding-negative eigenvalues set to 0. Either factor gives the same ``F^T S_e F`` spectrum.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eigenvalues, eigenvectors = np.linalg.eigh(cov)
        root = np.sqrt(np.clip(eigenvalues, 0.0, None))
        return (eigenvectors * root) @ eigenvectors.T


class FrechetReference:
    """A reference set's Gaussian statistics and a factor of ``S_r``, for many evaluated sets.

    ``FrechetReference(reference).distance(evaluated)`` equals
    ``frechet_distance(evaluated, reference)``; the reference's mean, covariance and covariance
    factor ``F`` (``S_r = F F^T``, see module docstring) are computed once, in the constructor.
    :meth:`from_statistics` builds one from a precomputed ``(mean, cov)`` pair.
    """

    def __init__(self, reference: Any, *, block_size: int = 4096) -> None:
        reference = feature_matrix(reference, "reference", min_rows=2, size_message=_TOO_FEW_ROWS)
        mean, cov = gaussian_statistics(reference, block_size=block_size)
        self._set_statistics(mean, cov)

    @classmethod
    def from_statistics(cls, mean: Any, cov: Any) -> FrechetReference:
        """Reference from its mean (D,) and covariance (D, D), e.g. precomputed statistics."""
        self = cls.__new__(cls)
        self._set_statistics(*_check_statistics(mean, cov, "reference statistics"))
        return self

    def _set_statistics(self, mean: np.ndarray, cov: np.ndarray) -> None:
        self.mean = mean
        self.cov = cov
        self._factor = _factor(cov)
        self._trace = float(np.trace(cov))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def distance_from_statistics(self, mean: Any, cov: Any) -> float:
        """Fréchet distance of the Gaussian ``(mean, cov)`` to the reference's Gaussian."""
        mean, cov = _check_statistics(mean, cov, "evaluated statistics")
        if mean.shape[0] != self.dim:
            raise ValueError(
                f"Evaluated features have {mean.shape[0]} dimensions but the reference has "
                f"{self.dim}; both sets must come from the same encoder layer."
            )
        diff = mean - self.mean
        # F^T S_e F has the eigenvalues of S_e S_r (see module docstring); symmetrise against
        # rounding.
        product = self._factor.T @ cov @ self._factor
        eigenvalues = np.linalg.eigvalsh(0.5 * (product + product.T))
        trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
        return float(diff @ diff + np.trace(cov) + self._trace - 2.0 * trace_sqrt)

    def distance(self, evaluated: Any, *, block_size: int = 4096) -> float:
        """Fréchet distance between ``evaluated`` (N_e x D) and the reference."""
        x = feature_matrix(evaluated, "evaluated", min_rows=2, size_message=_TOO_FEW_ROWS)
        same_width(x, self.dim, ("evaluated", "the reference"))
        return self.distance_from_statistics(*gaussian_statistics(x, block_size=block_size))


def frechet_distance(evaluated: Any, reference: Any, *, block_size: int = 4096) -> float:
    """Fréchet distance between two N x D feature sets (FID on Inception-v3 pool features).

    ``FD = ||mu_e - mu_r||^2 + Tr(S_e + S_r - 2 (S_e S_r)^{1/2})``, covariances with ``ddof=1``;
    symmetric in its two arguments up to rounding. Both sets need at least 2 rows; with fewer
    rows than features the covariances are singular, which is allowed but makes the value a
    poor estimate. For several evaluated sets against one reference, use
    :class:`FrechetReference`.
    """
    return FrechetReference(reference, block_size=block_size).distance(
        evaluated, block_size=block_size
    )
