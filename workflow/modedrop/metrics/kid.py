"""Kernel distance (KID with Inception-v3 features): unbiased MMD^2 averaged over subsets.

Formula (Bińkowski et al. 2018, "Demystifying MMD GANs", ICLR; reference code
github.com/mbinkowski/MMD-GAN, ``gan/compute_scores.py``), with the polynomial kernel
``k(x, y) = (gamma * x.y + coef0)^degree`` (default ``gamma = 1/D``, ``coef0 = 1``,
``degree = 3``). For each of ``subsets`` draws of ``m = subset_size`` rows without replacement,
``a`` from the evaluated set E and ``b`` from the reference R::

    MMD^2 = (sum_{i!=j in a} k(e_i, e_j) + sum_{i!=j in b} k(r_i, r_j)) / (m (m - 1))
            - 2 / m^2 * sum_{i in a, j in b} k(e_i, r_j)

and the result is ``(mean, std)`` of the ``subsets`` values with ``numpy.std`` (``ddof=0``).

Conventions are those of torch-fidelity 0.4.0 (``torch_fidelity/metric_kid.py``,
``kid_features_to_metric`` with ``mmd2(..., mmd_est="unbiased")`` and ``kernel_poly``), so the
numbers are reproduced on identical features: the RNG is ``numpy.random.RandomState(seed)``
(default seed 2020, torch-fidelity's ``rng_seed``), and for every subset it draws
``rng.choice(n_e, m, replace=False)`` for the evaluated set *first* (torch-fidelity's input 1,
the generated images) and then ``rng.choice(n_r, m, replace=False)`` for the reference (input 2).
A set with fewer than ``subset_size`` rows is an error, as in torch-fidelity (which raises
rather than clamps); pass a smaller ``subset_size``.

Speed: instead of forming three m x m kernel matrices per subset, every subset sum is a
quadratic form of the full kernel matrix with the subset's 0/1 indicator vector ``w``:
``sum_{i,j in a} K_ij = w^T K w``. Stacking the indicators of all subsets as columns of
``W`` (n x subsets) gives all sums from ``K W``, accumulated over ``block_size`` x
``block_size`` tiles of ``K`` (so no n x n matrix is held: beyond the inputs, which are not
copied whole, memory is O(block_size^2 + n * subsets)). The reference-only sums depend on the reference
draws, which depend on ``n_e`` through the shared RNG; :class:`KernelReference` caches them per
``(n_e, subsets, subset_size, seed, kernel parameters)``, so the reference kernel is evaluated
once for all evaluated sets of one size. All arithmetic is float64 (torch-fidelity keeps the
features' dtype, so on float32 features it differs from this by float32 rounding: ~1e-7
relative to the kernel sums, about 1e-6 relative to a KID of 0.01 on 1,280-d features).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = ["DEFAULT_SEED", "KernelReference", "kernel_distance"]

#: torch-fidelity's default ``rng_seed``.
DEFAULT_SEED: int = 2020


#: Why a feature set needs 2 rows here, for the size error of ``feature_matrix``.
_TOO_FEW_ROWS = "the kernel distance needs at least 2 samples (rows) and 1 feature."


def _draw_subsets(
    n_evaluated: int, n_reference: int, subsets: int, subset_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 indicator matrices (n x subsets) of torch-fidelity's subset draws, in its order."""
    rng = np.random.RandomState(seed)
    evaluated = np.zeros((n_evaluated, subsets), dtype=np.float64)
    reference = np.zeros((n_reference, subsets), dtype=np.float64)
    for s in range(subsets):
        evaluated[rng.choice(n_evaluated, subset_size, replace=False), s] = 1.0
        reference[rng.choice(n_reference, subset_size, replace=False), s] = 1.0
    return evaluated, reference


@dataclass(frozen=True)
class _PolynomialKernel:
    """``k(x, y) = (gamma x.y + coef0)^degree`` (torch-fidelity's ``kernel_poly``)."""

    degree: int
    gamma: float
    coef0: float

    @classmethod
    def checked(cls, degree: Any, gamma: Any, coef0: Any, dim: int) -> _PolynomialKernel:
        degree = positive_int(degree, "degree")
        gamma_value = 1.0 / dim if gamma is None else float(gamma)
        if not (np.isfinite(gamma_value) and gamma_value > 0 and np.isfinite(float(coef0))):
            raise ValueError(
                f"gamma must be a positive finite number (or None for 1/D) and coef0 finite; "
                f"got gamma={gamma!r}, coef0={coef0!r}."
            )
        return cls(degree, gamma_value, float(coef0))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Kernel matrix of two float64 row blocks."""
        base = x @ y.T
        base *= self.gamma
        base += self.coef0
        # Repeated products: several times faster than numpy's generic ``**`` for degree 3.
        out = base.copy()
        for _ in range(self.degree - 1):
            out *= base
        return out

    def diagonal(self, x: np.ndarray) -> np.ndarray:
        return (np.einsum("ij,ij->i", x, x) * self.gamma + self.coef0) ** self.degree


def _blocks(x: np.ndarray, block_size: int, first: int = 0) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, float64 copy of those rows)`` for the row blocks from block ``first`` on."""
    for start in range(first * block_size, x.shape[0], block_size):
        rows = slice(start, start + block_size)
        yield rows, x[rows].astype(np.float64)


def _offdiagonal_sums(
    kernel: _PolynomialKernel, x: np.ndarray, indicators: np.ndarray, block_size: int
) -> np.ndarray:
    """Per subset ``s``: ``sum_{i != j in s} k(x_i, x_j)``, i.e. ``w^T K w - w . diag K``.

    ``K`` is symmetric, so only the tiles on and right of the diagonal are formed; those right
    of it stand for their mirror images too (factor 2).
    """
    sums = np.zeros(indicators.shape[1], dtype=np.float64)
    for i, (rows, left) in enumerate(_blocks(x, block_size)):
        weighted = kernel(left, left) @ indicators[rows]
        for cols, right in _blocks(x, block_size, first=i + 1):
            weighted += 2.0 * (kernel(left, right) @ indicators[cols])
        sums += np.einsum("is,is->s", indicators[rows], weighted)
        sums -= indicators[rows].T @ kernel.diagonal(left)
    return sums


def _cross_sums(
    kernel: _PolynomialKernel,
    x: np.ndarray,
    y: np.ndarray,
    x_indicators: np.ndarray,
    y_indicators: np.ndarray,
    block_size: int,
) -> np.ndarray:
    """Per subset ``s``: ``u_s^T k(X, Y) v_s``, over ``block_size`` x ``block_size`` tiles."""
    sums = np.zeros(x_indicators.shape[1], dtype=np.float64)
    for rows, left in _blocks(x, block_size):
        weighted = np.zeros((left.shape[0], x_indicators.shape[1]), dtype=np.float64)
        for cols, right in _blocks(y, block_size):
            weighted += kernel(left, right) @ y_indicators[cols]  # block x subsets
        sums += np.einsum("is,is->s", x_indicators[rows], weighted)
    return sums


class KernelReference:
    """A reference feature set and its cached kernel sums, for the KID of many evaluated sets.

    ``KernelReference(reference).distance(evaluated, ...)`` equals
    ``kernel_distance(evaluated, reference, ...)``. The reference-only kernel sums are computed
    on the first call for each ``(n_e, subsets, subset_size, seed, kernel)`` (the evaluated-set
    size ``n_e`` shapes the reference draws, see module docstring) and reused afterwards.
    ``reference`` is kept as given (no float64 copy), so do not modify it in place.
    """

    def __init__(self, reference: Any, *, block_size: int = 1024) -> None:
        self.features = feature_matrix(
            reference, "reference", min_rows=2, size_message=_TOO_FEW_ROWS
        )
        self.block_size = positive_int(block_size, "block_size")
        self._reference_sums: dict[tuple, np.ndarray] = {}

    def distance(
        self,
        evaluated: Any,
        *,
        subsets: int = 100,
        subset_size: int = 1000,
        degree: int = 3,
        coef0: float = 1.0,
        gamma: float | None = None,
        seed: int = DEFAULT_SEED,
    ) -> tuple[float, float]:
        """KID ``(mean, std)`` of ``evaluated`` against the reference (see :func:`kernel_distance`)."""
        x = feature_matrix(evaluated, "evaluated", min_rows=2, size_message=_TOO_FEW_ROWS)
        n_e, (n_r, d) = x.shape[0], self.features.shape
        same_width(x, d, ("evaluated", "the reference"))
        kernel = _PolynomialKernel.checked(degree, gamma, coef0, d)
        subsets = positive_int(subsets, "subsets")
        m = positive_int(subset_size, "subset_size", minimum=2)
        seed = positive_int(seed, "seed", minimum=0)
        if n_e < m or n_r < m:
            raise ValueError(
                f"subset_size={m} is larger than a feature set (evaluated: {n_e} rows, "
                f"reference: {n_r} rows); subsets are drawn without replacement. Pass "
                f"subset_size <= {min(n_e, n_r)}."
            )

        w_e, w_r = _draw_subsets(n_e, n_r, subsets, m, seed)
        key = (n_e, subsets, m, seed, kernel)
        if key not in self._reference_sums:
            self._reference_sums[key] = _offdiagonal_sums(
                kernel, self.features, w_r, self.block_size
            )
        within = _offdiagonal_sums(kernel, x, w_e, self.block_size) + self._reference_sums[key]
        between = _cross_sums(kernel, x, self.features, w_e, w_r, self.block_size)
        mmd2 = within / (m * (m - 1)) - 2.0 * between / (m * m)
        return float(np.mean(mmd2)), float(np.std(mmd2))


def kernel_distance(
    evaluated: Any,
    reference: Any,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    coef0: float = 1.0,
    gamma: float | None = None,
    seed: int = DEFAULT_SEED,
    block_size: int = 1024,
) -> tuple[float, float]:
    """Kernel (Inception) Distance of ``evaluated`` (N_e x D) to ``reference`` (N_r x D).

    Mean and population std (``ddof=0``) over ``subsets`` random subsets of ``subset_size`` rows
    of the unbiased MMD^2 with kernel ``(gamma x.y + coef0)^degree`` (``gamma=None``: 1/D);
    defaults and RNG as torch-fidelity 0.4.0, where ``evaluated`` is its input 1 and
    ``reference`` its input 2. Values near 0 (slightly negative is possible) mean the two
    sets are alike. Needs ``subset_size <= min(N_e, N_r)``; the kernel matrices are formed
    in ``block_size`` x ``block_size`` tiles (this does not change the result). For several evaluated sets
    against one reference, use :class:`KernelReference`.
    """
    return KernelReference(reference, block_size=block_size).distance(
        evaluated,
        subsets=subsets,
        subset_size=subset_size,
        degree=degree,
        coef0=coef0,
        gamma=gamma,
        seed=seed,
    )
