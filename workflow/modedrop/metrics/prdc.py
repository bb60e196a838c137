"""Precision, recall, density and coverage (k-NN manifold estimates), blocked.

Formulas (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models",
ICML, k = 5; precision and recall from Kynkäänniemi et al. 2019, "Improved Precision and Recall
Metric for Assessing Generative Models", NeurIPS, whose default is k = 3). "real" is the
reference set R (N rows), "fake" the evaluated set F (M rows); ``d`` is the Euclidean distance
and ``rho_k(x)`` the distance from ``x`` to its k-th nearest neighbour *within its own set*,
the point itself excluded::

    precision = 1/M sum_j [ exists i: d(r_i, f_j) < rho_k(r_i) ]
    recall    = 1/N sum_i [ exists j: d(r_i, f_j) < rho_k(f_j) ]
    density   = 1/(k M) sum_j #{ i: d(r_i, f_j) < rho_k(r_i) }
    coverage  = 1/N sum_i [ min_j d(r_i, f_j) < rho_k(r_i) ]

Semantics match the ``prdc`` 0.2 package (``prdc/prdc.py``, ``compute_prdc``) exactly: strict
``<`` everywhere; ``rho_k(x)`` is the (k+1)-th smallest of the distances from ``x`` to every row
of its set *including itself* (its self-distance is set to exactly 0), so duplicates of ``x``
count as neighbours at distance 0 and only the point itself is excluded. (The original improved
precision/recall code uses ``<=``; the two differ only on exact distance ties.)

Blocking and precision: distances are never held as an N x M matrix. Both sets are processed in
``block_size`` x ``block_size`` tiles of squared distances ``|x|^2 + |y|^2 - 2 x.y`` in float64
(clipped at 0), the arithmetic of sklearn's ``euclidean_distances`` that ``prdc`` calls, so
exactly representable inputs (e.g. small integers) give identical counts, ties and duplicates
included. k-NN radii are kept as a running (k+1)-smallest per row, and every statistic above is
a tile-wise count / OR / min. Beyond the inputs themselves (never copied whole), memory is
O(block_size * (block_size + D) + (N + M) k): 2 MB per tile at the default 512 (faster here
than 1024 or 2048: the tiles stay in cache), whatever N and M. Radii
and distances are compared squared (``prdc`` compares their square roots; the two differ only
when two squares are within one rounding step).
``prdc`` works in the input dtype (sklearn returns float32 distances for float32 inputs), so on
float32 features a distance within ~1e-7 relative of a radius can be counted differently (one
sample, rarely); on float64 inputs the counts agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = ["PRDCReference", "improved_precision_recall", "prdc"]


def _knn_features(features: Any, name: str, k: int) -> np.ndarray:
    """Checked features (dtype unchanged) with the k + 1 rows that k-NN radii need."""
    return feature_matrix(
        features,
        name,
        min_rows=k + 1,
        size_message=(
            f"with k={k} nearest neighbours each set needs at least k + 1 = {k + 1} samples "
            "(rows) and 1 feature. Pass more samples or a smaller k."
        ),
    )


def _squared_norms(x: np.ndarray, block_size: int) -> np.ndarray:
    squared = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], block_size):
        block = x[start : start + block_size].astype(np.float64)
        squared[start : start + block_size] = np.einsum("ij,ij->i", block, block)
    return squared


def _tiles(
    x: np.ndarray,
    x_squared: np.ndarray,
    y: np.ndarray,
    y_squared: np.ndarray,
    block_size: int,
    *,
    upper: bool = False,
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(rows, cols, squared_distances)`` tiles of ``block_size`` x ``block_size``.

    Each tile is one float64 matrix product, ``[x, |x|^2, 1] @ [-2 y, 1, |y|^2]^T =
    |x|^2 + |y|^2 - 2 x.y``, so no elementwise passes are needed (the arithmetic of sklearn's
    ``euclidean_distances``, summed inside the GEMM); the augmented blocks are built per tile,
    so the inputs are never copied whole. Tiles are *not* clipped at 0: rounding can leave tiny
    negatives, which callers clip where it matters (clipping commutes with min and order
    statistics). With ``upper`` (``x`` is ``y``, so the distance matrix is symmetric) only the
    tiles on and right of the diagonal are formed, each row block starting with its diagonal
    tile; a tile right of it stands for its mirror image too.
    """
    for r0 in range(0, x.shape[0], block_size):
        rows = slice(r0, r0 + block_size)
        block = x[rows].astype(np.float64)
        ones = np.ones((block.shape[0], 1))
        left = np.hstack([block, x_squared[rows, None], ones])
        for c0 in range(r0 if upper else 0, y.shape[0], block_size):
            cols = slice(c0, c0 + block_size)
            other = -2.0 * y[cols].astype(np.float64)
            ones = np.ones((other.shape[0], 1))
            yield rows, cols, left @ np.hstack([other, ones, y_squared[cols, None]]).T


def _merge_smallest(smallest: np.ndarray, tile: np.ndarray, k: int) -> None:
    """Fold the rows of ``tile`` into ``smallest`` (same rows), the running (k+1)-smallest.

    Only rows with a tile entry below their current (k+1)-th smallest are re-selected
    (``numpy.partition``), which after the first tiles is a small fraction of them.
    """
    improves = np.flatnonzero((tile < smallest.max(axis=1)[:, None]).any(axis=1))
    if improves.size:
        candidates = np.concatenate([smallest[improves], tile[improves]], axis=1)
        candidates.partition(k, axis=1)
        smallest[improves] = candidates[:, : k + 1]


def _squared_knn_radii(
    x: np.ndarray, squared: np.ndarray, ks: Sequence[int], block_size: int
) -> dict[int, np.ndarray]:
    """Squared distance of each row to its k-th nearest other row (prdc's ``rho_k``), per k.

    Taken as the (k+1)-th smallest squared distance including the row's own distance, set to
    exactly 0 (as sklearn does for ``pairwise_distances(X)``), by a running (K+1)-smallest per
    row for the largest K of ``ks``; every smaller k reads its (k+1)-th smallest from the same
    candidates (an order statistic does not depend on which other values are kept). The
    distance matrix is symmetric, so only its upper tiles are formed: an off-diagonal tile
    updates its rows and, transposed, its columns (half the distance products of a full pass;
    the order statistics do not depend on the order the candidates arrive in).
    """
    k_max = max(ks)
    smallest = np.full((x.shape[0], k_max + 1), np.inf)
    for rows, cols, tile in _tiles(x, squared, x, squared, block_size, upper=True):
        if rows.start == cols.start:
            np.fill_diagonal(tile, 0.0)
        _merge_smallest(smallest[rows], tile, k_max)
        if rows.start != cols.start:
            _merge_smallest(smallest[cols], np.ascontiguousarray(tile.T), k_max)
    smallest.sort(axis=1)
    return {k: np.maximum(smallest[:, k], 0.0) for k in ks}


def _strict_bounds(squared_radii: np.ndarray) -> np.ndarray:
    """Bounds ``b`` with ``t < b`` iff ``max(t, 0) < r^2``, for unclipped squared distances ``t``.

    For ``r > 0`` the bound is ``r^2`` itself; a zero radius (``k`` duplicates) contains no
    point under the strict ``<``, so its bound is ``-inf``.
    """
    return np.where(squared_radii > 0.0, squared_radii, -np.inf)


class PRDCReference:
    """The real (reference) set with its k-NN radii, computed once, for many fake sets.

    ``PRDCReference(real, k, block_size).evaluate(fake)`` equals ``prdc(real, fake, k=k,
    block_size=block_size)``. ``radii`` holds ``rho_k`` of every real row. ``also_k`` adds
    further neighbour counts scored in the same pass by :meth:`evaluate_each_k` (the distances
    are computed once for all of them; each k's scores equal its own ``prdc`` call's). ``real``
    is kept as given (no float64 copy; float32 stays float32), so do not modify it in place.
    """

    def __init__(
        self, real: Any, k: int = 5, block_size: int = 512, *, also_k: Sequence[int] = ()
    ) -> None:
        self.k = positive_int(k, "k")
        self.ks = tuple(dict.fromkeys([self.k, *(positive_int(j, "also_k") for j in also_k)]))
        self.block_size = positive_int(block_size, "block_size")
        self.real = _knn_features(real, "real", max(self.ks))
        self._real_squared = _squared_norms(self.real, self.block_size)
        self._squared_radii = _squared_knn_radii(
            self.real, self._real_squared, self.ks, self.block_size
        )

    @property
    def radii(self) -> np.ndarray:
        return np.sqrt(self._squared_radii[self.k])

    def evaluate(self, fake: Any) -> dict[str, float]:
        """Precision, recall, density and coverage of ``fake`` (M x D) against the real set."""
        return self.evaluate_each_k(fake)[self.k]

    def evaluate_each_k(self, fake: Any) -> dict[int, dict[str, float]]:
        """:meth:`evaluate` at every k of ``ks`` (``k`` and ``also_k``), from one distance pass."""
        fake = _knn_features(fake, "fake", max(self.ks))
        n, m = self.real.shape[0], fake.shape[0]
        same_width(fake, self.real, ("fake", "real"))
        fake_squared = _squared_norms(fake, self.block_size)
        fake_radii = _squared_knn_radii(fake, fake_squared, self.ks, self.block_size)
        real_bounds = {k: _strict_bounds(self._squared_radii[k]) for k in self.ks}
        fake_bounds = {k: _strict_bounds(fake_radii[k]) for k in self.ks}

        real_is_close = {k: np.zeros(n, dtype=bool) for k in self.ks}  # in a fake ball (recall)
        real_balls_hit = {k: np.zeros(m, dtype=np.int64) for k in self.ks}  # per fake (density)
        nearest_fake = np.full(n, np.inf)  # squared distance to the nearest fake (coverage)
        tiles = _tiles(self.real, self._real_squared, fake, fake_squared, self.block_size)
        for rows, cols, tile in tiles:
            for k in self.ks:
                real_balls_hit[k][cols] += (tile < real_bounds[k][rows, None]).sum(axis=0)
                real_is_close[k][rows] |= (tile < fake_bounds[k][None, cols]).any(axis=1)
            np.minimum(nearest_fake[rows], tile.min(axis=1), out=nearest_fake[rows])

        return {
            k: {
                "precision": float((real_balls_hit[k] > 0).mean()),  # inside some real ball
                "recall": float(real_is_close[k].mean()),
                "density": float(real_balls_hit[k].sum() / (k * m)),
                "coverage": float((nearest_fake < real_bounds[k]).mean()),
            }
            for k in self.ks
        }


def prdc(real: Any, fake: Any, *, k: int = 5, block_size: int = 512) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (evaluated) against ``real`` (reference).

    Naeem et al. 2020 with ``k`` nearest neighbours (their default 5), ``prdc`` 0.2 semantics
    (see module docstring). Returns ``{"precision", "recall", "density", "coverage"}``;
    precision/recall/coverage lie in [0, 1], density in [0, N/k]. Both sets need at least
    ``k + 1`` rows. Blocked in ``block_size`` x ``block_size`` tiles (results do not depend on
    it). For several fake sets against one real set, use :class:`PRDCReference`.
    """
    return PRDCReference(real, k=k, block_size=block_size).evaluate(fake)


def improved_precision_recall(
    real: Any, fake: Any, *, k: int = 3, block_size: int = 512
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), default ``k = 3``.

    Precision: fraction of fake (evaluated) samples inside the union of real k-NN balls;
    recall: fraction of real (reference) samples inside the union of fake k-NN balls. These are
    :func:`prdc`'s precision and recall at the same ``k``. Returns ``{"precision", "recall"}``.
    """
    result = prdc(real, fake, k=k, block_size=block_size)
    return {"precision": result["precision"], "recall": result["recall"]}
