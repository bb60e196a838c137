"""MCCS: the Monte Carlo-based Collapse Score of intra-mode collapse on identity features.

Wu, Wang, Yuan, Zhang, Wang & Jin 2021, "Black-Box Diagnosis and Calibration on GAN Intra-Mode
Collapse: A Pilot Study", ACM TOMM, doi:10.1145/3472768 (Sec. 3.1 and 3.2.1). With an identity
descriptor ``F`` (rows L2-normalised here) and ``theta`` the largest distance between two images
of one identity::

    d(a, c)   = arccos(clip(<F_a, F_c>, -1, 1)) / pi                  in [0, 1]      (Eq. 4)
    s(a, c)   = (exp(max(0, theta - d(a, c))) - 1) / (exp(theta) - 1)  in [0, 1]      (Eq. 3)
    mean_s(a) = 1/|C| sum_{c in C} s(a, c)                                          (Eq. 6)
    MCCS(a)   = 1 / (1 - ln(mean_s(a)))                                 in [0, 1]      (Eq. 7)
    mu, sigma = mean and standard deviation (ddof = 1) of MCCS over the anchors A  (Eq. 8)
    I_w       = argmax_{a in A} #{c in C : d(a, c) <= r}  (worst-case dense mode)  (Eq. 9)

with the anchors ``A`` and the samples ``C`` disjoint sets of images. MCCS is 1 when every sample
is identical to the anchor, 0 when none is within ``theta`` (``mean_s = 0``; returned exactly,
without a warning) and grows with the share of same-identity samples: a collapsed identity
has a high MCCS, and a set whose identities repeat has a high ``mu``.

**Which logarithm.** The paper writes ``log`` and states that MCCS ranges in [0, 1], which holds
for ``1 / (1 - log(mean_s))`` with any base; natural log is the default here (``log="ln"``).
The authors' code (VITA-Group/BlackBoxGANCollapse, ``pggan/sampling/monte_carlo_sampling.py``,
``monte_carlo``) computes ``1 / -log10(mean_s)`` instead - without the ``1 -`` - which is *not*
bounded by 1 (it exceeds 1 once ``mean_s > 0.1``) and is infinite at ``mean_s = 1``;
``log="log10"`` reproduces it. The two are monotone in ``mean_s``, so rankings agree.

**theta and r.** The paper: "theta only depends on F_id" - it is a property of the descriptor,
not of the data. The authors used InsightFace with ``theta = 0.3`` (``monte_carlo_sampling.py``)
and neighbour radii 0.08-0.2 (``stylegan/monte_carlo/sampling_neighbors_counting.py``). For
another descriptor they must be re-derived: :func:`calibrate_theta` takes a quantile (0.95)
of the distances between images of one identity (so ~95 % of same-identity pairs get
``s > 0``), :func:`calibrate_radius` their median (so a neighbour is "as close as a typical
second photo of the same person"), on a labelled set such as CelebA's ``identity_CelebA.txt``.
:data:`DEFAULT_THETA` and :data:`DEFAULT_RADIUS` are uncalibrated values for ``dlib_face``
(see their comments); prefer calibrated ones.

Memory and speed: anchors are processed in blocks of ``block_size`` rows against all samples.
A float32 ``block_size x |C|`` product (205 MB for 1,024 x 50,000) finds the pairs within
``max(theta, r)``; only those get float64 cosines, ``arccos`` and ``exp``. When more than 5 %
of a block's pairs are that close (a collapsed set, or a descriptor whose theta is large) the
block is computed densely in float64, 256 anchor rows at a time (100 MB for 50,000 samples).
Peak memory for 50,000 x 50,000 128-d comparisons: about 450 MB (filtered) to 650 MB (dense);
time on 2 CPU cores: ~8 s when few pairs are close, ~3 min when every pair is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from modedrop.validation import positive_int, same_width, unit_feature_rows

__all__ = [
    "DEFAULT_RADIUS",
    "DEFAULT_THETA",
    "MCCSResult",
    "calibrate_radius",
    "calibrate_theta",
    "distance_sums",
    "mccs_population",
    "mccs_population_from_split",
    "mccs_scores",
    "same_identity_distances",
    "split_anchors",
]

LogBase = Literal["ln", "log10"]

#: theta for ``dlib_face`` features, uncalibrated. dlib's same-person rule is a euclidean
#: distance < 0.6 between its (unnormalised) descriptors; for descriptor norms of 1.3-1.45
#: (1.46 on a real face in the tests) that is an angle d = (2/pi) arcsin(0.6 / (2 |F|)) of
#: 0.13-0.15. theta is the *largest* same-identity distance, so the upper end is taken.
DEFAULT_THETA: float = 0.15
#: Neighbour radius r for ``dlib_face``, uncalibrated: deepface's dlib threshold (cosine
#: distance 0.07, i.e. d = arccos(0.93) / pi = 0.12), below theta as in the authors' setting.
DEFAULT_RADIUS: float = 0.12

# Margin of the float32 pre-filter on cosines: float32 dot products of unit vectors err by
# < 1e-5 even in 2048 dimensions (about D * 2**-24), so no pair within reach is missed.
_FLOAT32_MARGIN = 1e-4
# Above this share of close pairs in a block, one dense float64 product is cheaper.
_DENSE_SHARE = 0.05
# Anchor rows per dense float64 product (256 x 50,000 x 8 bytes = 100 MB).
_DENSE_ROWS = 256
# Close pairs whose float64 cosine is recomputed at once (2 x 16,384 x D float64 rows).
_PAIR_CHUNK = 1 << 14


@dataclass(frozen=True)
class MCCSResult:
    """Population statistics of MCCS (Eq. 8) and the worst-case dense mode (Eq. 9).

    ``worst_index`` is a row of ``anchors`` (of ``features`` for
    :func:`mccs_population_from_split`); ``worst_neighbours`` its number of samples within
    ``radius``; ``worst_mccs`` its MCCS.
    """

    mean: float
    std: float
    n_anchors: int
    n_samples: int
    worst_index: int
    worst_neighbours: int
    worst_mccs: float
    theta: float
    radius: float
    log: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----- validation ------------------------------------------------------------------------------


def _check_fraction(value: float, name: str, *, allow_zero: bool) -> float:
    value = float(value)
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= 1):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(
            f"{name} must lie in {interval} (distances d are arccos / pi), got {value}. "
            "Use calibrate_theta / calibrate_radius to choose it."
        )
    return value


def _check_log(log: str) -> str:
    if log not in ("ln", "log10"):
        raise ValueError(
            f"log must be 'ln' (the paper's Eq. 7) or 'log10' (the authors' code), got {log!r}."
        )
    return log


def _check_pair(anchors: Any, samples: Any) -> tuple[np.ndarray, np.ndarray]:
    a = unit_feature_rows(anchors, "anchors")
    c = unit_feature_rows(samples, "samples")
    same_width(a, c, ("anchors", "samples"), source="identity descriptor")
    return a, c


# ----- core ------------------------------------------------------------------------------------


def distance_sums(
    distances: np.ndarray, theta: float, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Over the last axis: sum of ``expm1(max(0, theta - d))`` and count of ``d <= radius``.

    The dense-path kernel of Eq. 7 (the similarity sum) and Eq. 9 (neighbours within ``radius``)
    for a block of MCCS distances ``d``; ``distances`` is overwritten (it is the scratch space).
    """
    counts = (distances <= radius).sum(axis=-1)
    np.subtract(theta, distances, out=distances)
    np.maximum(distances, 0.0, out=distances)
    return np.expm1(distances, out=distances).sum(axis=-1), counts


def _block_sums(
    anchors: np.ndarray,
    samples: np.ndarray,
    samples32: np.ndarray,
    buffer: np.ndarray,
    theta: float,
    radius: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor row of the block: sum of ``expm1(max(0, theta - d))``, count of ``d <= r``.

    Pairs farther than ``max(theta, radius)`` contribute nothing. A float32 product (2.5x
    faster than float64) into ``buffer`` finds the other pairs, with a margin far above its
    rounding error; their cosines are then recomputed in float64, so the result does not depend
    on the filter. When many pairs are that close (a collapsed set) the rows that have any are
    computed densely in float64.
    """
    sums = np.zeros(len(anchors))
    counts = np.zeros(len(anchors), dtype=np.int64)
    reach = max(theta, radius)
    threshold = math.cos(math.pi * reach) - _FLOAT32_MARGIN if reach < 1 else -np.inf
    approx = np.matmul(anchors.astype(np.float32), samples32.T, out=buffer[: len(anchors)])
    hot = np.flatnonzero(approx.max(axis=1) >= threshold)  # rows with any close sample
    if len(hot) == 0:
        return sums, counts
    close = approx[hot] >= threshold
    if np.count_nonzero(close) > _DENSE_SHARE * approx.size:
        del close
        for start in range(0, len(hot), _DENSE_ROWS):  # a few rows at a time: bounded memory
            rows = hot[start : start + _DENSE_ROWS]
            cosines = anchors[rows] @ samples.T
            distances = np.arccos(np.clip(cosines, -1.0, 1.0, out=cosines), out=cosines)
            distances /= math.pi
            sums[rows], counts[rows] = distance_sums(distances, theta, radius)
        return sums, counts
    hot_row, cols = np.nonzero(close)
    rows = hot[hot_row]
    cosines = np.empty(len(rows))
    for start in range(0, len(rows), _PAIR_CHUNK):
        part = slice(start, start + _PAIR_CHUNK)
        cosines[part] = np.einsum("ij,ij->i", anchors[rows[part]], samples[cols[part]])
    distances = np.arccos(np.clip(cosines, -1.0, 1.0)) / math.pi
    counts += np.bincount(rows, weights=distances <= radius, minlength=len(anchors)).astype(
        np.int64
    )
    sums += np.bincount(
        rows, weights=np.expm1(np.maximum(theta - distances, 0.0)), minlength=len(anchors)
    )
    return sums, counts


def _scan(
    anchors: np.ndarray, samples: np.ndarray, theta: float, radius: float, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``mean_s`` and the neighbour count of every anchor, block by block."""
    mean_s = np.empty(len(anchors))
    counts = np.empty(len(anchors), dtype=np.int64)
    samples32 = samples.astype(np.float32)
    # One buffer for every block's float32 product (reallocating it costs page faults).
    buffer = np.empty((min(block_size, len(anchors)), len(samples)), dtype=np.float32)
    scale = math.expm1(theta) * len(samples)
    for start in range(0, len(anchors), block_size):
        stop = min(start + block_size, len(anchors))
        sums, counts[start:stop] = _block_sums(
            anchors[start:stop], samples, samples32, buffer, theta, radius
        )
        # s <= 1 pairwise; rounding of the sum must not push the mean above 1.
        mean_s[start:stop] = np.minimum(sums / scale, 1.0)
    return mean_s, counts


def _mccs_from_mean_similarity(mean_s: np.ndarray, log: str) -> np.ndarray:
    """Eq. 7 (``ln``) or the authors' ``1 / -log10`` (``log10``); 0 where ``mean_s`` is 0."""
    out = np.zeros_like(mean_s)
    positive = mean_s > 0
    if log == "ln":
        out[positive] = 1.0 / (1.0 - np.log(mean_s[positive]))
        return out
    # abs() turns -log10(1) = -0.0 into +0.0, so that mean_s == 1 gives +inf, not -inf.
    negative_log = np.abs(np.log10(mean_s[positive]))
    with np.errstate(divide="ignore"):  # mean_s == 1: the authors' score is infinite
        out[positive] = 1.0 / negative_log
    return out


def mccs_scores(
    anchors: Any,
    samples: Any,
    *,
    theta: float,
    log: LogBase = "ln",
    block_size: int = 1024,
) -> np.ndarray:
    """MCCS (Eq. 7) of every anchor against the sample set, float64 of length ``len(anchors)``.

    ``anchors`` (m x D) and ``samples`` (n x D) are identity descriptors (rows are normalised
    here); ``theta`` in (0, 1] is the largest same-identity distance; ``log`` is ``"ln"``
    (the paper, values in [0, 1]) or ``"log10"`` (the authors' code, ``1 / -log10(mean_s)``,
    unbounded). See the module docstring for the formulas and the source.
    """
    a, c = _check_pair(anchors, samples)
    theta = _check_fraction(theta, "theta", allow_zero=False)
    mean_s, _ = _scan(a, c, theta, 0.0, positive_int(block_size, "block_size"))
    return _mccs_from_mean_similarity(mean_s, _check_log(log))


def mccs_population(
    anchors: Any,
    samples: Any,
    *,
    theta: float,
    radius: float,
    log: LogBase = "ln",
    block_size: int = 1024,
) -> MCCSResult:
    """Population MCCS (Eq. 8) and the worst-case dense mode (Eq. 9) in one pass.

    ``mean``/``std`` (ddof = 1) of MCCS over the anchors; the worst-case dense mode is the
    anchor with the most samples at distance ``d <= radius`` (ties: the lowest row), reported
    with its neighbour count and MCCS. The anchors and samples must be different images
    (A and C disjoint): an image among its own samples counts as its own neighbour.
    Needs at least 2 anchors (``std`` has ``m - 1`` in its denominator).
    """
    a, c = _check_pair(anchors, samples)
    if len(a) < 2:
        raise ValueError(
            f"mccs_population needs at least 2 anchors for the standard deviation (ddof=1), "
            f"got {len(a)}; use mccs_scores for a single anchor."
        )
    theta = _check_fraction(theta, "theta", allow_zero=False)
    radius = _check_fraction(radius, "radius", allow_zero=True)
    log = _check_log(log)
    mean_s, counts = _scan(a, c, theta, radius, positive_int(block_size, "block_size"))
    scores = _mccs_from_mean_similarity(mean_s, log)
    worst = int(np.argmax(counts))  # argmax returns the first maximum: lowest index on ties
    return MCCSResult(
        mean=float(scores.mean()),
        std=float(scores.std(ddof=1)),
        n_anchors=len(a),
        n_samples=len(c),
        worst_index=worst,
        worst_neighbours=int(counts[worst]),
        worst_mccs=float(scores[worst]),
        theta=theta,
        radius=radius,
        log=log,
    )


def _check_index_set(index: Any, n: int, name: str) -> np.ndarray:
    index = np.asarray(index)
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be a 1-D array of integer row indices, got dtype {index.dtype} and "
            f"shape {index.shape}."
        )
    if len(index) and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"{name} holds indices outside [0, {n}) (the rows of features).")
    if len(np.unique(index)) != len(index):
        raise ValueError(f"{name} holds repeated indices; each image may be used once.")
    return index.astype(np.int64)


def mccs_population_from_split(
    features: Any,
    anchor_idx: Any,
    sample_idx: Any,
    *,
    theta: float,
    radius: float,
    log: LogBase = "ln",
    block_size: int = 1024,
) -> MCCSResult:
    """:func:`mccs_population` on rows ``anchor_idx`` vs rows ``sample_idx`` of one set.

    The index sets must be disjoint (A and C of the paper); :func:`split_anchors` makes such a
    split. ``worst_index`` is returned as a row of ``features``.
    """
    n = len(np.asarray(features))
    anchor_idx = _check_index_set(anchor_idx, n, "anchor_idx")
    sample_idx = _check_index_set(sample_idx, n, "sample_idx")
    shared = np.intersect1d(anchor_idx, sample_idx)
    if len(shared):
        raise ValueError(
            f"anchor_idx and sample_idx share {len(shared)} rows (e.g. {shared[:3].tolist()}); "
            "the anchors and samples must be disjoint (Wu et al., Eq. 8). Use split_anchors."
        )
    features = np.asarray(features)
    result = mccs_population(
        features[anchor_idx],
        features[sample_idx],
        theta=theta,
        radius=radius,
        log=log,
        block_size=block_size,
    )
    return MCCSResult(**{**result.to_dict(), "worst_index": int(anchor_idx[result.worst_index])})


def split_anchors(
    n: int, anchor_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A random disjoint split of ``range(n)`` into (anchor rows, sample rows), each sorted.

    ``round(anchor_fraction * n)`` anchors, at least 1, leaving at least 1 sample.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"split_anchors needs n >= 2 images (an anchor and a sample), got {n!r}.")
    if not 0 < anchor_fraction < 1:
        raise ValueError(f"anchor_fraction must lie in (0, 1), got {anchor_fraction}.")
    n_anchors = min(max(round(anchor_fraction * n), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n_anchors]), np.sort(order[n_anchors:])


# ----- calibration -----------------------------------------------------------------------------


def same_identity_distances(
    features: Any,
    identities: Sequence | np.ndarray,
    *,
    max_pairs: int = 2_000_000,
    seed: int = 0,
) -> np.ndarray:
    """Distances ``d`` (Eq. 4) between the images of each identity, over all their pairs.

    Every same-identity pair when there are at most ``max_pairs`` of them (CelebA: about 1.9
    million); otherwise ``max_pairs`` pairs drawn uniformly (with replacement) from all of them,
    with ``seed``. Identities with one image contribute nothing; raises when none has two.
    """
    unit = unit_feature_rows(features, "features")
    labels = np.asarray(identities)
    if labels.shape != (len(unit),):
        raise ValueError(
            f"identities must hold one label per row of features ({len(unit)}), got shape "
            f"{labels.shape}."
        )
    _, group = np.unique(labels, return_inverse=True)
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    pairs_per_group = sizes * (sizes - 1) // 2
    total = int(pairs_per_group.sum())
    if total == 0:
        raise ValueError(
            "no identity has two images, so there is no same-identity distance to calibrate "
            "on; pass a labelled set with repeated identities (e.g. CelebA's identity file)."
        )
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    if total <= max_pairs:
        parts = []
        for g in np.flatnonzero(sizes >= 2):
            members = unit[order[starts[g] : starts[g] + sizes[g]]]
            upper = np.triu_indices(len(members), k=1)
            parts.append((members @ members.T)[upper])
        cosines = np.concatenate(parts)
    else:
        rng = np.random.default_rng(seed)
        g = rng.choice(len(sizes), size=max_pairs, p=pairs_per_group / total)
        first = rng.integers(0, sizes[g])
        second = (first + rng.integers(1, sizes[g])) % sizes[g]  # a different member
        i, j = order[starts[g] + first], order[starts[g] + second]
        cosines = np.einsum("ij,ij->i", unit[i], unit[j])
    return np.arccos(np.clip(cosines, -1.0, 1.0)) / math.pi


def _quantile(distances: np.ndarray, quantile: float) -> float:
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must lie in [0, 1], got {quantile}.")
    return float(np.quantile(distances, quantile))


def calibrate_theta(
    features: Any,
    identities: Sequence | np.ndarray,
    *,
    quantile: float = 0.95,
    max_pairs: int = 2_000_000,
    seed: int = 0,
) -> float:
    """theta = the ``quantile`` of same-identity distances (numpy's linear interpolation).

    With 0.95, about 95 % of the pairs of one identity get ``s > 0`` (Eq. 3 truncates at
    theta, "the maximum feature distance between two images of the same identity").
    """
    return _quantile(
        same_identity_distances(features, identities, max_pairs=max_pairs, seed=seed), quantile
    )


def calibrate_radius(
    features: Any,
    identities: Sequence | np.ndarray,
    *,
    quantile: float = 0.5,
    max_pairs: int = 2_000_000,
    seed: int = 0,
) -> float:
    """r = the median (``quantile``) same-identity distance: a typical 2nd photo is a neighbour."""
    return _quantile(
        same_identity_distances(features, identities, max_pairs=max_pairs, seed=seed), quantile
    )
