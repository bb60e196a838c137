"""Black-box diagnosis of intra-mode collapse: MCCS neighbours and the worst-case dense mode.

Wu, Wang, Yuan, Zhang, Wang & Jin 2021, "Black-Box Diagnosis and Calibration on GAN Intra-Mode
Collapse: A Pilot Study", ACM TOMM, doi:10.1145/3472768 (Sec. 3.1-3.2 and 4.4). Only samples are
used: latent codes ``z`` and the identity features of their images, never the network's weights
or its training data.

**Diagnosis** (:func:`diagnose`). One generated set is split into disjoint anchors ``A`` and
samples ``C`` (:func:`modedrop.metrics.mccs.split_anchors`); MCCS (Eq. 7) of every anchor, the
population ``mu``, ``sigma`` (Eq. 8) and the worst-case dense mode ``I_w`` (Eq. 9: the anchor with
the most samples within ``r``) come from :mod:`modedrop.metrics.mccs`. Distances are
``d = arccos(<u, v>) / pi`` on L2-normalised rows, the same as MCCS; :func:`within_radius` and
:func:`neighbour_counts` count neighbours with them, in row blocks to bound memory.

**Calibration** reshapes the latent prior around the dense mode found here:
:mod:`modedrop.calibration_mixture` (Algorithm 1, a Gaussian mixture on K-means clusters of the
latents) and :mod:`modedrop.calibration_rejection` (Algorithm 2, rejection sampling inside the
convex hull of the dense mode's latents). Both use this module's neighbour counts and argument
checks. :mod:`modedrop.calibration_evaluation` scores a set before and after.

**Priors.** Both algorithms return priors of :mod:`modedrop.priors`
(:class:`~modedrop.priors.GaussianMixturePrior`, :class:`~modedrop.priors.RejectionPrior` with
its :class:`~modedrop.priors.HullRegion`): ``latent_dim``, ``sample(n, rng) -> float32 (n, d)``,
``to_dict()`` and ``save(path)`` a ``.npz`` that :func:`~modedrop.priors.load_prior_file` (and
so :func:`~modedrop.priors.load_prior`) turns back into a prior.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from modedrop.metrics.mccs import (
    LogBase,
    mccs_population_from_split,
    mccs_scores,
    split_anchors,
)
from modedrop.priors import latent_rows
from modedrop.validation import positive_int, same_width, unit_feature_rows

__all__ = [
    "Diagnosis",
    "check_paired",
    "diagnose",
    "mccs_radius",
    "mode_rows",
    "neighbour_counts",
    "within_radius",
]

# Anchor rows per float64 distance block (1,024 x 50,000 x 8 bytes = 410 MB at most).
_BLOCK_ROWS = 1024
# Cosines this close to cos(pi r) are decided by the exact arccos (see _within_blocks).
_COS_WINDOW = 1e-6


# ----- validation ------------------------------------------------------------------------------


def mode_rows(modes: Any, name: str) -> np.ndarray:
    """One mode (a 1-D feature vector) or several (rows), as float64 unit rows."""
    array = np.asarray(modes)
    if array.ndim == 1:
        array = array[None, :]
    return unit_feature_rows(array, name)


def mccs_radius(radius: Any, name: str = "radius") -> float:
    """``radius`` as a float after checking it is an MCCS distance, i.e. lies in [0, 1]."""
    value = float(radius)
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(
            f"{name} must lie in [0, 1] (distances d = arccos(cos) / pi lie there), got {radius}. "
            "Use modedrop.metrics.mccs.calibrate_radius to choose it."
        )
    return value


def check_paired(latents: np.ndarray, features: np.ndarray) -> None:
    """Raise unless ``latents`` and ``sample_features`` have one row per generated image each."""
    if len(latents) != len(features):
        raise ValueError(
            f"latents has {len(latents)} rows but sample_features has {len(features)}; row i of "
            "both must describe the same generated image (its latent code and its features)."
        )


# ----- neighbours ------------------------------------------------------------------------------


def _distances(modes: np.ndarray, features: np.ndarray) -> np.ndarray:
    """MCCS distances (Eq. 4) between unit rows, ``arccos(clip(cos)) / pi``."""
    cosines = modes @ features.T
    distances = np.arccos(np.clip(cosines, -1.0, 1.0, out=cosines), out=cosines)
    distances /= math.pi
    return distances


def _within_blocks(
    modes: np.ndarray, features: np.ndarray, radius: float, block_size: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """``(rows, d <= radius)`` for row blocks of ``modes`` against every feature row.

    ``d <= r`` is ``cos >= cos(pi r)`` (arccos is decreasing), which skips the arccos (5x the
    cost of the product). Only cosines within ``_COS_WINDOW`` of the threshold get the arccos,
    so rounding decides every pair exactly as ``arccos(cos) / pi <= r`` would (as in MCCS):
    outside the window the two sides differ by at least ``_COS_WINDOW / pi`` in ``d``.
    """
    threshold = math.cos(math.pi * radius)
    for start in range(0, len(modes), block_size):
        rows = slice(start, min(start + block_size, len(modes)))
        cosines = modes[rows] @ features.T
        within = cosines >= threshold + _COS_WINDOW
        borderline = (cosines > threshold - _COS_WINDOW) & (cosines < threshold + _COS_WINDOW)
        if borderline.any():
            close = np.clip(cosines[borderline], -1.0, 1.0)
            within[borderline] = np.arccos(close) / math.pi <= radius
        yield rows, within


def _checked_pair(modes: Any, features: Any) -> tuple[np.ndarray, np.ndarray]:
    m = mode_rows(modes, "modes")
    c = unit_feature_rows(features, "features")
    same_width(m, c, ("modes", "features"), source="identity descriptor")
    return m, c


def within_radius(
    modes: Any, features: Any, radius: float, *, block_size: int = _BLOCK_ROWS
) -> np.ndarray:
    """Boolean (m, n): is feature row j within MCCS distance ``radius`` of mode i?

    ``d = arccos(<u, v>) / pi`` on L2-normalised rows (Eq. 4), ``d <= radius`` as in Eq. 9.
    ``modes`` may be one 1-D feature vector (then m = 1). Cosines are computed ``block_size``
    mode rows at a time, so only the boolean result is m x n.
    """
    m, c = _checked_pair(modes, features)
    radius = mccs_radius(radius)
    out = np.empty((len(m), len(c)), dtype=bool)
    for rows, within in _within_blocks(m, c, radius, positive_int(block_size, "block_size")):
        out[rows] = within
    return out


def neighbour_counts(
    anchors: Any, samples: Any, radius: float, *, block_size: int = _BLOCK_ROWS
) -> np.ndarray:
    """int64 (m,): the number of samples within MCCS distance ``radius`` of each anchor (Eq. 9).

    Memory is one ``block_size x n`` float64 block, not m x n.
    """
    a, c = _checked_pair(anchors, samples)
    radius = mccs_radius(radius)
    counts = np.empty(len(a), dtype=np.int64)
    for rows, within in _within_blocks(a, c, radius, positive_int(block_size, "block_size")):
        counts[rows] = np.count_nonzero(within, axis=1)
    return counts


# ----- diagnosis -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # arrays: element-wise == would make equality ambiguous
class Diagnosis:
    """MCCS diagnosis of one generated set split into anchors ``A`` and samples ``C``.

    Index arrays are rows of the ``features`` / ``latents`` passed to :func:`diagnose`.
    ``anchor_mccs`` and ``anchor_counts`` are per anchor (rows ``anchor_idx``); ``worst_index``
    is the worst-case dense mode ``I_w`` (Eq. 9), ``nearest`` the rows of its nearest samples in
    ``C``, closest first, with ``nearest_distances``. ``sample_latents`` / ``sample_features``
    (unit rows) are ``C``, the input of both calibration algorithms; ``dense_mode_feature`` is
    ``I_w``'s unit feature vector.
    """

    anchor_idx: np.ndarray
    sample_idx: np.ndarray
    mean: float
    std: float
    worst_index: int
    worst_mccs: float
    worst_neighbours: int
    anchor_mccs: np.ndarray
    anchor_counts: np.ndarray
    nearest: np.ndarray
    nearest_distances: np.ndarray
    dense_mode_feature: np.ndarray
    sample_latents: np.ndarray
    sample_features: np.ndarray
    theta: float
    radius: float
    log: str

    @property
    def reference_count(self) -> float:
        """Neighbours of a typical image: the median anchor count, floored at 1 (Algorithm 2)."""
        return max(1.0, float(np.median(self.anchor_counts)))

    @property
    def worst_share(self) -> float:
        """Share of the samples ``C`` within ``radius`` of the dense mode."""
        return self.worst_neighbours / len(self.sample_idx)

    def to_dict(self) -> dict[str, Any]:
        """The scalars (JSON); the per-anchor arrays stay on the object."""
        return {
            "n_anchors": len(self.anchor_idx),
            "n_samples": len(self.sample_idx),
            "mccs_mean": self.mean,
            "mccs_std": self.std,
            "worst_index": self.worst_index,
            "worst_mccs": self.worst_mccs,
            "worst_neighbours": self.worst_neighbours,
            "worst_share": self.worst_share,
            "reference_count": self.reference_count,
            "nearest": self.nearest.tolist(),
            "theta": self.theta,
            "radius": self.radius,
            "log": self.log,
        }


def diagnose(
    features: Any,
    latents: Any,
    *,
    anchor_fraction: float = 0.5,
    seed: int = 0,
    theta: float,
    radius: float,
    log: LogBase = "ln",
    n_nearest: int = 16,
) -> Diagnosis:
    """Split one generated set into anchors and samples and diagnose intra-mode collapse.

    ``features`` (n x D) are identity features of the images made from ``latents`` (n x d), row
    by row. The split (``anchor_fraction``, ``seed``) comes from
    :func:`~modedrop.metrics.mccs.split_anchors`, ``mu``/``sigma``/``I_w`` from
    :func:`~modedrop.metrics.mccs.mccs_population_from_split`, per-anchor MCCS from
    :func:`~modedrop.metrics.mccs.mccs_scores`; ``n_nearest`` samples closest to ``I_w`` are
    listed for the figure.
    """
    x = unit_feature_rows(features, "features")
    z = latent_rows(latents)
    if len(z) != len(x):
        raise ValueError(
            f"features has {len(x)} rows but latents has {len(z)}; row i of both must describe "
            "the same generated image."
        )
    n_nearest = positive_int(n_nearest, "n_nearest")
    anchor_idx, sample_idx = split_anchors(len(x), anchor_fraction, seed)
    result = mccs_population_from_split(
        x, anchor_idx, sample_idx, theta=theta, radius=radius, log=log
    )
    anchors, samples = x[anchor_idx], x[sample_idx]
    scores = mccs_scores(anchors, samples, theta=theta, log=log)
    counts = neighbour_counts(anchors, samples, radius)
    mode = x[result.worst_index]
    distances = _distances(mode[None, :], samples)
    order = np.argsort(distances[0], kind="stable")[:n_nearest]
    return Diagnosis(
        anchor_idx=anchor_idx,
        sample_idx=sample_idx,
        mean=result.mean,
        std=result.std,
        worst_index=result.worst_index,
        worst_mccs=result.worst_mccs,
        worst_neighbours=result.worst_neighbours,
        anchor_mccs=scores,
        anchor_counts=counts,
        nearest=sample_idx[order],
        nearest_distances=distances[0][order],
        dense_mode_feature=mode,
        sample_latents=z[sample_idx],
        sample_features=samples,
        theta=result.theta,
        radius=result.radius,
        log=result.log,
    )
