"""Known-rank sanity check for RankMe (re-implementation of Figure S11 of Garrido et al. 2023).

For each true rank r, draw ``Z = G W`` with ``G ~ N(0, 1)`` of shape n x r and ``W`` an r x dim
matrix with orthonormal rows (a Haar-random r-dimensional subspace of R^dim). Z has rank exactly
r; as n grows the r non-zero singular values of Z concentrate around sqrt(n), so RankMe -> r.
For small n, RankMe underestimates r (the singular values of G are spread out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from modedrop.metrics.rankme import rankme

__all__ = ["known_rank_study"]


def _random_orthonormal_rows(rng: np.random.Generator, rank: int, dim: int) -> np.ndarray:
    """rank x dim matrix with orthonormal rows, Haar-distributed (QR with sign correction)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, rank)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return q.T


def _positive_ints(name: str, values: Sequence[int]) -> list[int]:
    out = [int(v) for v in values]
    if not out:
        raise ValueError(f"{name} must not be empty.")
    if any(v < 1 for v in out) or any(int(v) != v for v in values):
        raise ValueError(f"{name} must contain positive integers, got {list(values)!r}.")
    return out


def known_rank_study(
    *,
    ranks: Sequence[int],
    dim: int,
    n_samples: Sequence[int],
    repeats: int,
    seed: int,
) -> pd.DataFrame:
    """RankMe of random rank-r matrices versus the number of samples.

    Returns a long DataFrame with columns ``true_rank, n_samples, repeat, rankme`` (one row per
    rank x n x repeat). For each (rank, repeat) one ``W`` and one ``G`` with ``max(n_samples)``
    rows are drawn from ``numpy.random.Generator(PCG64(SeedSequence([seed, rank, repeat])))``; the
    smaller n use the first n rows, so each curve follows a single growing sample. Results are
    deterministic for a given ``seed`` and do not depend on the order of ``ranks``/``n_samples``.
    """
    ranks_ = _positive_ints("ranks", ranks)
    ns = _positive_ints("n_samples", n_samples)
    if int(dim) < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}.")
    dim = int(dim)
    if any(r > dim for r in ranks_):
        raise ValueError(f"Every true rank must be <= dim={dim}, got ranks={ranks_}.")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}.")
    if int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")

    n_max = max(ns)
    rows = []
    for rank in ranks_:
        for repeat in range(int(repeats)):
            ss = np.random.SeedSequence([int(seed), rank, repeat])
            rng = np.random.Generator(np.random.PCG64(ss))
            w = _random_orthonormal_rows(rng, rank, dim)
            g = rng.standard_normal((n_max, rank))
            for n in ns:
                z = g[:n] @ w
                rows.append(
                    {"true_rank": rank, "n_samples": n, "repeat": repeat, "rankme": rankme(z)}
                )
    return pd.DataFrame(rows, columns=["true_rank", "n_samples", "repeat", "rankme"])
