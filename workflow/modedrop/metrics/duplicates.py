"""Birthday-paradox duplicate test: near-duplicate pairs within one set and the implied support.

Idea (Arora & Zhang 2017, "Do GANs learn the distribution? Some theory and empirics", ICLR 2018,
Sec. 2): if a distribution has support size N (N equally likely items), a sample of n items
contains a duplicate pair with good probability once ``n ~ sqrt(N)``. Turning this around,
counting near-duplicate pairs in a sample estimates the support size. The paper inspects the
closest pairs by eye; here "near-duplicate" is a threshold on the cosine similarity of encoder
features, and the estimate is the moment estimator below.

Statistics of one set of n feature rows (rows L2-normalised, cosine similarity
``s_ij = <x_i, x_j> / (||x_i|| ||x_j||)`` over the ``C(n, 2)`` unordered pairs ``i < j``):

* ``n_duplicate_pairs`` D: pairs with ``s_ij >= threshold``; ``duplicate_fraction = D / C(n, 2)``.
* ``top_pairs``: the ``top`` most similar pairs ``(i, j, s_ij)``, sorted by similarity
  descending, then ``i``, then ``j``.
* ``nn_similarity_mean``: mean over rows of ``max_{j != i} s_ij`` (nearest-neighbour similarity).
* ``support_size`` (:func:`support_size_estimate`): n draws from a uniform distribution on N items
  give ``E[D] = C(n, 2) / N`` colliding pairs, so ``N_hat = C(n, 2) / D`` for ``D >= 1``. With
  ``D = 0`` the estimator is infinite; the "rule of three" (a Poisson count of 0 bounds its mean
  by 3 at 95 % confidence) gives the lower bound ``N >= C(n, 2) / 3``, reported with
  ``support_is_lower_bound = True``. The uniform model is the paper's simplification: for a
  non-uniform distribution ``N_hat`` is an "effective" support size (``1 / sum_k p_k^2``).

All pairs are visited in row blocks (``block_size`` x ``block_size`` similarity tiles, upper
triangle only), so memory is O(n D + block_size^2), never n x n. Similarities are computed in
float64 whatever the input dtype and clipped to [-1, 1]; a cosine within ``EXACT_TOLERANCE``
(1e-9) of 1 is an identical direction and counts as exactly 1. Real data sets hold exact
duplicate images: in float32 their cosine lands a few ulp above or below 1, and a threshold
calibrated on them would otherwise exceed 1 or miss the very pairs it was calibrated on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modedrop.validation import feature_matrix, positive_int, unit_rows

#: Cosines within this of 1 are identical directions (rounding of float64 dot products of unit
#: rows is ~1e-13 at D = 2048); they count as exactly 1.
EXACT_TOLERANCE = 1e-9

__all__ = [
    "EXACT_TOLERANCE",
    "DuplicateResult",
    "calibrate_threshold",
    "duplicate_statistics",
    "nearest_neighbour_similarities",
    "support_size_estimate",
]


@dataclass(frozen=True)
class DuplicateResult:
    """Near-duplicate statistics of one set (see the module docstring for the definitions)."""

    n_images: int
    n_pairs: int
    n_duplicate_pairs: int
    duplicate_fraction: float
    support_size: float
    support_is_lower_bound: bool
    nn_similarity_mean: float
    top_pairs: tuple[tuple[int, int, float], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict; ``top_pairs`` becomes a list of ``[i, j, similarity]``."""
        out = dict(self.__dict__)
        out["top_pairs"] = [list(pair) for pair in self.top_pairs]
        return out


def _unit_rows(features: Any, name: str = "features") -> np.ndarray:
    """Validate an N x D finite matrix with N >= 2 and return its L2-normalised float64 rows."""
    x = feature_matrix(
        features,
        name,
        min_rows=2,
        dtype=np.float64,
        copy=True,  # normalised in place below
        size_message="pairwise similarities need at least 2 rows and 1 feature.",
    )
    return unit_rows(x, name, in_place=True)


def _robust_cosines(tile: np.ndarray) -> np.ndarray:
    """``tile`` (dot products of unit rows) clipped to [-1, 1], identical directions set to 1."""
    np.clip(tile, -1.0, 1.0, out=tile)
    tile[tile >= 1.0 - EXACT_TOLERANCE] = 1.0
    return tile


def _similarity_tiles(unit: np.ndarray, block_size: int):
    """Yield ``(row0, col0, tile)`` over the upper block triangle; pairs ``i >= j`` are -inf.

    Each unordered pair ``i < j`` appears exactly once, at ``tile[i - row0, j - col0]``.
    """
    n = len(unit)
    for row0 in range(0, n, block_size):
        rows = unit[row0 : row0 + block_size]
        for col0 in range(row0, n, block_size):
            tile = _robust_cosines(rows @ unit[col0 : col0 + block_size].T)
            if col0 == row0:  # diagonal tile: keep only the strict upper triangle
                tile[np.tri(*tile.shape, dtype=bool)] = -np.inf
            yield row0, col0, tile


def _update_nearest(nn: np.ndarray, row0: int, col0: int, tile: np.ndarray) -> None:
    # A pair's similarity is the nearest-neighbour candidate of both of its rows.
    rows = slice(row0, row0 + tile.shape[0])
    cols = slice(col0, col0 + tile.shape[1])
    np.maximum(nn[rows], tile.max(axis=1), out=nn[rows])
    np.maximum(nn[cols], tile.max(axis=0), out=nn[cols])


class _RunningTopPairs:
    """The ``k`` largest similarities seen so far, ties broken by ``(i, j)`` ascending."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.i = np.empty(0, dtype=np.int64)
        self.j = np.empty(0, dtype=np.int64)
        self.sim = np.empty(0, dtype=np.float64)

    def cutoff(self) -> float:
        """Tiles' entries below this cannot enter the top ``k``."""
        return -np.inf if self.sim.size < self.k else float(self.sim[-1])

    def update(self, row0: int, col0: int, tile: np.ndarray) -> None:
        if self.k == 0:
            return
        limit = self.cutoff()
        if limit == -np.inf and tile.size > self.k:
            # Not full yet: the tile's own k-th largest value bounds what can still enter.
            limit = np.partition(tile, tile.size - self.k, axis=None)[tile.size - self.k]
        # Entries tied with the k-th value may still win on (i, j), so keep ">=".
        r, c = np.nonzero(tile >= limit)
        values = tile[r, c].astype(np.float64)
        valid = np.isfinite(values)  # the masked lower triangle is -inf
        r, c, values = r[valid], c[valid], values[valid]
        if values.size > self.k:
            # Keep everything tied with the tile's k-th largest value; the exact order is
            # settled by the lexsort below.
            kth = np.partition(values, values.size - self.k)[values.size - self.k]
            keep = values >= kth
            r, c, values = r[keep], c[keep], values[keep]
        i = np.concatenate([self.i, r + row0])
        j = np.concatenate([self.j, c + col0])
        sim = np.concatenate([self.sim, values])
        order = np.lexsort((j, i, -sim))[: self.k]
        self.i, self.j, self.sim = i[order], j[order], sim[order]

    def pairs(self) -> tuple[tuple[int, int, float], ...]:
        return tuple(
            (int(a), int(b), float(s)) for a, b, s in zip(self.i, self.j, self.sim, strict=True)
        )


def nearest_neighbour_similarities(features: Any, *, block_size: int = 1024) -> np.ndarray:
    """Cosine similarity of every row to its most similar other row (blocked, O(block^2) memory).

    Returns a float64 array of length N (``N >= 2``), in [-1, 1] (see ``EXACT_TOLERANCE``).
    """
    block_size = positive_int(block_size, "block_size")
    unit = _unit_rows(features)
    nn = np.full(len(unit), -np.inf)
    for row0, col0, tile in _similarity_tiles(unit, block_size):
        _update_nearest(nn, row0, col0, tile)
    return nn


def support_size_estimate(n: int, n_duplicate_pairs: int) -> tuple[float, bool]:
    """Birthday-paradox support size from ``n`` samples with ``D`` near-duplicate pairs.

    ``N_hat = C(n, 2) / D`` for ``D >= 1`` (``E[D] = C(n, 2) / N`` under a uniform distribution
    on N items); for ``D = 0`` the 95 % "rule of three" lower bound ``C(n, 2) / 3``. Returns
    ``(estimate, is_lower_bound)``.
    """
    n = positive_int(n, "n", minimum=2)
    n_duplicate_pairs = positive_int(n_duplicate_pairs, "n_duplicate_pairs", minimum=0)
    n_pairs = n * (n - 1) // 2
    if n_duplicate_pairs > n_pairs:
        raise ValueError(
            f"n_duplicate_pairs={n_duplicate_pairs} exceeds the C({n}, 2) = {n_pairs} pairs."
        )
    if n_duplicate_pairs == 0:
        return n_pairs / 3.0, True
    return n_pairs / n_duplicate_pairs, False


def duplicate_statistics(
    features: Any, *, threshold: float, top: int = 20, block_size: int = 1024
) -> DuplicateResult:
    """Near-duplicate pairs, top pairs, NN similarity and implied support size of one set.

    Parameters
    ----------
    features
        N x D features of one image set (N >= 2); rows are L2-normalised here (zero rows are an
        error).
    threshold
        Cosine similarity at or above which a pair counts as a near-duplicate, in [-1, 1]; e.g.
        from :func:`calibrate_threshold` on a reference set. 1 counts exact duplicates only
        (identical directions, see ``EXACT_TOLERANCE``).
    top
        How many of the most similar pairs to return (0 for none).
    block_size
        Rows per similarity tile; memory is about ``block_size**2`` floats (8 MiB at
        1024; larger tiles are no faster, the per-tile scans fall out of cache).
    """
    threshold = float(threshold)
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}.")
    top = positive_int(top, "top", minimum=0)
    block_size = positive_int(block_size, "block_size")
    unit = _unit_rows(features)
    n = len(unit)

    nn = np.full(n, -np.inf)
    best = _RunningTopPairs(top)
    n_duplicates = 0
    for row0, col0, tile in _similarity_tiles(unit, block_size):
        n_duplicates += int(np.count_nonzero(tile >= threshold))
        _update_nearest(nn, row0, col0, tile)
        best.update(row0, col0, tile)

    n_pairs = n * (n - 1) // 2
    support, is_bound = support_size_estimate(n, n_duplicates)
    return DuplicateResult(
        n_images=n,
        n_pairs=n_pairs,
        n_duplicate_pairs=n_duplicates,
        duplicate_fraction=n_duplicates / n_pairs,
        support_size=support,
        support_is_lower_bound=is_bound,
        nn_similarity_mean=float(nn.mean()),
        top_pairs=best.pairs(),
    )


def calibrate_threshold(
    reference: Any, *, quantile: float = 0.999, block_size: int = 1024
) -> float:
    """Near-duplicate threshold: the ``quantile`` of the reference's nearest-neighbour similarities.

    Every reference row's cosine similarity to its most similar other reference row is computed
    (:func:`nearest_neighbour_similarities`) and their ``quantile`` (default 0.999) returned.
    With it, "near-duplicate" means "closer than almost every real image is to its nearest real
    neighbour", so a real-like set has very few duplicate pairs and a set of repeated or
    collapsed images has many. Note that nearest-neighbour similarities grow with the set size:
    calibrate on a reference (subset) of about the size of the sets you will test, or compare
    sets of equal size.
    """
    quantile = float(quantile)
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile!r}.")
    nn = nearest_neighbour_similarities(reference, block_size=block_size)
    return float(np.quantile(nn, quantile))
