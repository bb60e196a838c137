"""Black-box diagnosis and calibration of intra-mode collapse by reshaping the latent prior.

Wu, Wang, Yuan, Zhang, Wang & Jin 2021, "Black-Box Diagnosis and Calibration on GAN Intra-Mode
Collapse: A Pilot Study", ACM TOMM, doi:10.1145/3472768 (seed document 004, Sec. 3.1-3.2 and
4.4). Only samples are used: latent codes ``z`` and the identity features of their images, never
the network's weights or its training data.

**Diagnosis** (:func:`diagnose`). One generated set is split into disjoint anchors ``A`` and
samples ``C`` (:func:`modedrop.metrics.mccs.split_anchors`); MCCS (Eq. 7) of every anchor, the
population ``mu``, ``sigma`` (Eq. 8) and the worst-case dense mode ``I_w`` (Eq. 9: the anchor with
the most samples within ``r``) come from :mod:`modedrop.metrics.mccs`. Distances are
``d = arccos(<u, v>) / pi`` on L2-normalised rows, the same as MCCS; :func:`within_radius` and
:func:`neighbour_counts` count neighbours with them, in row blocks to bound memory.

**Algorithm 1, Gaussian mixture** (:func:`gaussian_mixture_prior`). K-means on the latents ``Z``
of ``C``; cluster ``k`` gets the weight ``w_k = 1 / (n_k + 1)``, normalised, where ``n_k`` is the
number of (dense mode, sample of cluster k) pairs within ``r0``. The new prior is
``sum_k w_k N(mu_k, Sigma)``. Deviations from the paper, both deliberate:

* the paper's ``w_k = 1 / n_k`` is infinite for a cluster with no neighbour of the dense mode
  (most clusters); ``1 / (n_k + 1)`` keeps such clusters finite and equal, and still shrinks a
  cluster in proportion to its neighbour count once that count is large;
* the paper writes one shared ``Sigma`` without saying which. ``covariance="pooled"`` (default)
  is the pooled within-cluster diagonal covariance, ``sum_k sum_{i in k} (z_i - mu_k)^2 /
  (n - K)``: the mixture then has about the spread of the prior it replaces (between-cluster +
  within-cluster variance), so mainly the re-weighting changes the latent distribution.
  ``covariance="identity"`` uses ``Sigma = I``, which adds the between-cluster spread on top of
  the prior's and so widens the latent distribution (more latents far from where the generator
  was trained). Either way the components are Gaussian, also when the generator was trained on
  a uniform prior; such a generator then sees latents outside its box.

"About" the spread: the paper's weights ignore cluster sizes, and K-means clusters of a Gaussian
differ in size (35 to 128 latents in 4-d with K = 30), so even with no dense neighbour anywhere
the mixture is wider than the prior (variance 1.09-1.17 instead of 1 in that 4-d example, 1.01
in 8-d). ``base_weights="size"`` (not the paper's) multiplies ``w_k`` by the cluster's share of
the latents: with no neighbour the mixture then has exactly the latents' mean and (up to the
``n - K`` divisor) their variance, and a dense cluster is still shrunk by ``1 / (n_k + 1)``.

**Algorithm 2, rejection ("importance") sampling** (:func:`rejection_prior`). ``H`` = the latents
of ``C`` whose images lie within ``r0`` of the dense mode; the high-density region is the convex
hull of ``H``. Latents drawn from the base prior are always accepted outside the region and with
probability ``p = reference_count / |H|`` inside it (the paper: ``p`` = neighbours of a random
image ``I_r`` / neighbours of the dense mode; clipped at 1). Practical readings, documented:

* a hull of ``|H|`` points in ``d`` dimensions has zero volume when ``|H| <= d`` (e.g. 100-d
  latents and a few dozen neighbours), so nothing would ever fall inside it. Membership is
  therefore tested in ``hull_dims`` leading principal directions of ``H`` (4 by default): the
  region is the hull of the projected ``H``, extended as a cylinder along all other directions.
  The directions are those of largest mean squared deviation of ``H`` *from the mean of all the
  latents* (``pca_centre="latents"``, default), so the direction in which the dense region sits
  away from the rest of latent space comes first. Ordinary PCA about ``H``'s own mean
  (``pca_centre="hull"``) ranks directions by ``H``'s internal spread and can drop exactly that
  direction: for latents ``z_0 > 1`` (a slab, 16 % of N(0, I)) in 8-d with 4 hull directions,
  ``H`` varies least along ``z_0``, the cylinder then covers most of latent space (82 % of all
  draws rejected) and the dense share stays at 15 %; centred on the latents it falls to 2.5 %
  with 15 % of draws rejected (100-d: 17 % -> 1.4 % with 44 % rejected, against no change);
* a single random image often has no neighbour at all, which would give ``p = 0`` and reject the
  whole region, so ``reference_count`` is the *median* neighbour count of the anchors, floored at
  1 (:attr:`Diagnosis.reference_count`); called without it, :func:`rejection_prior` takes the
  same median over the samples themselves (each sample's neighbours among the others).

**Priors.** Both algorithms return priors of :mod:`modedrop.priors`
(:class:`~modedrop.priors.GaussianMixturePrior`, :class:`~modedrop.priors.RejectionPrior` with
its :class:`~modedrop.priors.HullRegion`): ``latent_dim``, ``sample(n, rng) -> float32 (n, d)``,
``to_dict()`` and ``save(path)`` a ``.npz`` that :func:`~modedrop.priors.load_prior_file` (and
so :func:`~modedrop.priors.load_prior`) turns back into a prior.

**Evaluation** (:func:`evaluate_generator_set`): worst-case MCCS, ``mu``, ``sigma`` and the
Fréchet distance to a reference - one row of the before/after table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from modedrop.metrics._checks import feature_matrix, positive_int, same_width, unit_rows
from modedrop.metrics.frechet import frechet_distance
from modedrop.metrics.mccs import (
    LogBase,
    mccs_population_from_split,
    mccs_scores,
    split_anchors,
)
from modedrop.priors import GaussianMixturePrior, HullRegion, RejectionPrior, latent_rows

__all__ = [
    "Diagnosis",
    "diagnose",
    "evaluate_generator_set",
    "gaussian_mixture_prior",
    "hull_region",
    "neighbour_counts",
    "rejection_prior",
    "within_radius",
]

Covariance = Literal["pooled", "identity"]
PCACentre = Literal["latents", "hull"]
BaseWeights = Literal["uniform", "size"]

# Anchor rows per float64 distance block (1,024 x 50,000 x 8 bytes = 410 MB at most).
_BLOCK_ROWS = 1024
# Cosines this close to cos(pi r) are decided by the exact arccos (see _within_blocks).
_COS_WINDOW = 1e-6
# Singular values below this share of the largest mean H spans fewer directions than asked.
_RANK_TOLERANCE = 1e-9


# ----- validation ------------------------------------------------------------------------------


def _unit_features(features: Any, name: str) -> np.ndarray:
    x = feature_matrix(
        features, name, dtype=np.float64, size_message="at least 1 image (row) is needed."
    )
    return unit_rows(x, name)


def _modes(modes: Any, name: str) -> np.ndarray:
    """One mode (a 1-D feature vector) or several (rows), as unit rows."""
    array = np.asarray(modes)
    if array.ndim == 1:
        array = array[None, :]
    return _unit_features(array, name)


def _radius(radius: Any, name: str = "radius") -> float:
    value = float(radius)
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(
            f"{name} must lie in [0, 1] (distances d = arccos(cos) / pi lie there), got {radius}. "
            "Use modedrop.metrics.mccs.calibrate_radius to choose it."
        )
    return value


def _paired(latents: np.ndarray, features: np.ndarray) -> None:
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
    m = _modes(modes, "modes")
    c = _unit_features(features, "features")
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
    radius = _radius(radius)
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
    radius = _radius(radius)
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
    x = _unit_features(features, "features")
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


# ----- Algorithm 1 -----------------------------------------------------------------------------


def _cluster_latents(z: np.ndarray, n_clusters: int, seed: int, n_init: int) -> np.ndarray:
    """K-means labels of ``z``; one OpenMP thread for bitwise-reproducible results (as NDB)."""
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    with threadpool_limits(limits=1, user_api="openmp"):
        return kmeans.fit_predict(z)


def _pooled_variances(z: np.ndarray, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Pooled within-cluster variance per dimension, ``sum (z - mu_label)^2 / (n - K)``."""
    dof = len(z) - len(means)
    if dof < 1:
        raise ValueError(
            f"the pooled covariance needs more latents ({len(z)}) than clusters ({len(means)}); "
            "lower n_clusters or sample more."
        )
    variances = ((z - means[labels]) ** 2).sum(axis=0) / dof
    if np.any(variances <= 0):
        raise ValueError(
            "some latent dimension has no spread within the clusters (zero pooled variance); "
            "the latents must be drawn from a continuous prior."
        )
    return variances


def gaussian_mixture_prior(
    latents: Any,
    sample_features: Any,
    dense_modes: Any,
    radius: float,
    *,
    n_clusters: int,
    seed: int = 0,
    covariance: Covariance = "pooled",
    base_weights: BaseWeights = "uniform",
    n_init: int = 3,
) -> GaussianMixturePrior:
    """Algorithm 1 of seed 004: a Gaussian mixture on K-means clusters of the latents.

    ``latents`` (n x d) are the codes of the samples ``C`` whose identity features are
    ``sample_features`` (n x D, row by row); ``dense_modes`` the features of the dense modes to
    calibrate (one vector, e.g. ``I_w``, or rows). Cluster ``k`` gets ``1 / (n_k + 1)`` with
    ``n_k`` its (mode, sample) pairs within ``radius``, normalised; components are
    ``N(mu_k, Sigma)`` with ``mu_k`` the cluster mean and ``Sigma`` per ``covariance``
    (``"pooled"`` or ``"identity"``; see the module docstring for both and for the ``+ 1``).
    ``base_weights="size"`` multiplies each weight by the cluster's share of the latents (the
    mixture then matches the latents' mean and covariance when no cluster has a neighbour);
    ``"uniform"`` (default) is the paper's ``w_k``.
    """
    z = latent_rows(latents)
    x = _unit_features(sample_features, "sample_features")
    _paired(z, x)
    modes = _modes(dense_modes, "dense_modes")
    same_width(modes, x, ("dense_modes", "sample_features"), source="identity descriptor")
    radius = _radius(radius)
    n_clusters = positive_int(n_clusters, "n_clusters")
    if n_clusters > len(z):
        raise ValueError(
            f"n_clusters={n_clusters} exceeds the number of latents ({len(z)}); K-means needs at "
            "least one latent per cluster. Lower n_clusters or sample more."
        )
    if covariance not in ("pooled", "identity"):
        raise ValueError(f"covariance must be 'pooled' or 'identity', got {covariance!r}.")
    if base_weights not in ("uniform", "size"):
        raise ValueError(f"base_weights must be 'uniform' or 'size', got {base_weights!r}.")
    labels = _cluster_latents(z, n_clusters, seed, positive_int(n_init, "n_init"))
    sizes = np.bincount(labels, minlength=n_clusters)
    means = np.zeros((n_clusters, z.shape[1]))
    np.add.at(means, labels, z)
    means /= sizes[:, None]  # K-means leaves no cluster empty
    hits = within_radius(modes, x, radius).sum(axis=0)  # dense modes near each sample
    counts = np.bincount(labels, weights=hits, minlength=n_clusters).astype(np.int64)
    weights = 1.0 / (counts + 1.0)
    if base_weights == "size":
        weights *= sizes / len(z)
    if covariance == "pooled":
        variances = _pooled_variances(z, labels, means)
    else:
        variances = np.ones(z.shape[1])
    return GaussianMixturePrior(
        weights / weights.sum(),
        means,
        variances,
        covariance=covariance,
        neighbour_counts=counts,
        radius=radius,
        base_weights=base_weights,
    )


# ----- Algorithm 2: the high-density region ----------------------------------------------------


def _affine_rank(points: np.ndarray) -> int:
    """How many directions the points span around their own mean (a hull needs ``k``)."""
    singular = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    return int(np.count_nonzero(singular > _RANK_TOLERANCE * max(singular[0], 1e-300)))


def _principal_basis(points: np.ndarray, center: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading principal directions (rows) of ``points`` about ``center``, signs fixed.

    The directions of largest mean squared deviation from ``center``: about the points' own
    mean this is ordinary PCA; about the prior's centre the direction in which the points sit
    away from the rest of the latents comes first.
    """
    _, _, vt = np.linalg.svd(points - center, full_matrices=False)
    basis = vt[:k]
    # An SVD fixes each direction only up to sign; make the largest entry positive.
    signs = np.sign(basis[np.arange(k), np.abs(basis).argmax(axis=1)])
    return basis * signs[:, None]


def hull_region(points: Any, hull_dims: int = 4, *, center: Any = None) -> HullRegion:
    """The convex hull of ``points`` (h x d) in their leading ``hull_dims`` principal directions.

    The directions are those of the largest second moment about ``center`` (default: the
    points' own mean, i.e. ordinary PCA); :func:`rejection_prior` passes the mean of all
    latents, see there. With ``d <= hull_dims`` the hull is taken in all ``d`` directions.
    Needs ``h >= k + 1`` points that span ``k = min(hull_dims, d)`` directions; otherwise a
    ``ValueError`` says what to change.
    """
    h = latent_rows(points, "points", min_rows=0)  # too few points: the message below
    k = min(positive_int(hull_dims, "hull_dims"), h.shape[1])
    if len(h) < k + 1:
        raise ValueError(
            f"a {k}-d convex hull needs at least {k + 1} latents near the dense mode, got "
            f"{len(h)}; raise the radius, sample more latents or lower hull_dims."
        )
    rank = _affine_rank(h)
    if rank < k:
        raise ValueError(
            f"the {len(h)} latents near the dense mode span only {rank} direction(s), fewer "
            f"than hull_dims={k}; lower hull_dims, raise the radius or sample more latents."
        )
    center = h.mean(axis=0) if center is None else np.asarray(center, dtype=np.float64)
    if center.shape != (h.shape[1],) or not np.all(np.isfinite(center)):
        raise ValueError(f"center must be a finite point of shape ({h.shape[1]},).")
    basis = _principal_basis(h, center, k)
    projected = (h - center) @ basis.T
    if k == 1:
        vertices = np.array([[projected.min()], [projected.max()]])
    else:
        try:
            vertices = projected[ConvexHull(projected).vertices]
        except QhullError as error:
            raise ValueError(
                f"qhull cannot build a {k}-d hull of the {len(h)} latents near the dense mode "
                "(flat in the chosen directions); lower hull_dims or sample more latents."
            ) from error
    return HullRegion(center, basis, vertices)


# ----- Algorithm 2: the prior ------------------------------------------------------------------


def _median_reference_count(features: np.ndarray, radius: float) -> float:
    """Median over the samples of their neighbours among the *other* samples, floored at 1."""
    counts = neighbour_counts(features, features, radius) - 1  # each sample is its own neighbour
    return max(1.0, float(np.median(counts)))


def rejection_prior(
    latents: Any,
    sample_features: Any,
    dense_mode_feature: Any,
    radius: float,
    *,
    reference_count: float | None = None,
    base_prior: Any,
    hull_dims: int = 4,
    pca_centre: PCACentre = "latents",
) -> RejectionPrior:
    """Algorithm 2 of seed 004: thin the base prior inside the hull of the dense mode's latents.

    ``latents`` (n x d) and ``sample_features`` (n x D) describe the samples ``C`` row by row;
    ``H`` = the latents whose features lie within ``radius`` of ``dense_mode_feature``; the
    region is their hull in ``hull_dims`` principal directions (:func:`hull_region`), taken
    about the mean of all ``latents`` (``pca_centre="latents"``, default) or about ``H``'s own
    mean (``"hull"``, ordinary PCA); see the module docstring. Latents inside are kept with
    ``p = min(1, reference_count / |H|)``. Pass
    :attr:`Diagnosis.reference_count` (the anchors' median neighbour count, floored at 1); by
    default the same median is taken over the samples themselves. ``base_prior`` is the prior
    the generator samples from (e.g. ``NormalPrior(d)``).
    """
    z = latent_rows(latents)
    x = _unit_features(sample_features, "sample_features")
    _paired(z, x)
    mode = _modes(dense_mode_feature, "dense_mode_feature")
    if len(mode) != 1:
        raise ValueError(
            f"dense_mode_feature must be one feature vector, got {len(mode)} rows; call "
            "rejection_prior once per dense mode."
        )
    same_width(mode, x, ("dense_mode_feature", "sample_features"), source="identity descriptor")
    radius = _radius(radius)
    if getattr(base_prior, "latent_dim", None) != z.shape[1]:
        raise ValueError(
            f"base_prior must draw {z.shape[1]}-d latents like the samples, e.g. "
            f"NormalPrior({z.shape[1]}); got {base_prior!r}."
        )
    near = within_radius(mode, x, radius)[0]
    dense_count = int(near.sum())
    if reference_count is None:
        reference_count = _median_reference_count(x, radius)
    reference_count = float(reference_count)
    if not (math.isfinite(reference_count) and reference_count > 0):
        raise ValueError(
            f"reference_count must be a positive number of neighbours, got {reference_count}; "
            "pass Diagnosis.reference_count (floored at 1)."
        )
    if pca_centre not in ("latents", "hull"):
        raise ValueError(f"pca_centre must be 'latents' or 'hull', got {pca_centre!r}.")
    centre = z.mean(axis=0) if pca_centre == "latents" else None
    # hull_region raises when too few latents are near the mode or they are flat.
    region = hull_region(z[near], hull_dims, center=centre)
    return RejectionPrior(
        base_prior,
        region,
        min(1.0, reference_count / dense_count),
        dense_count=dense_count,
        reference_count=reference_count,
        radius=radius,
    )


# ----- evaluation ------------------------------------------------------------------------------


def evaluate_generator_set(
    features: Any,
    *,
    anchor_fraction: float = 0.5,
    seed: int = 0,
    theta: float,
    radius: float,
    log: LogBase = "ln",
    reference_features: Any = None,
    dense_mode_feature: Any = None,
) -> dict[str, Any]:
    """One table row for one generator's feature set: worst-case MCCS, ``mu``, ``sigma``, FD.

    The set is split into anchors and samples as in :func:`diagnose`. ``fd`` is the Fréchet
    distance to ``reference_features`` (NaN without them); ``dense_share`` the share of *all*
    rows within ``radius`` of ``dense_mode_feature`` (e.g. the original generator's ``I_w``;
    NaN without it) - how much of the set still falls on the calibrated mode.
    """
    x = _unit_features(features, "features")
    anchor_idx, sample_idx = split_anchors(len(x), anchor_fraction, seed)
    result = mccs_population_from_split(
        x, anchor_idx, sample_idx, theta=theta, radius=radius, log=log
    )
    fd = math.nan
    if reference_features is not None:
        fd = frechet_distance(np.asarray(features), reference_features)
    share = math.nan
    if dense_mode_feature is not None:
        share = float(within_radius(dense_mode_feature, x, radius).mean())
    return {
        "worst_mccs": result.worst_mccs,
        "mccs_mean": result.mean,
        "mccs_std": result.std,
        "worst_neighbours": result.worst_neighbours,
        "n_anchors": result.n_anchors,
        "n_samples": result.n_samples,
        "fd": float(fd),
        "dense_share": share,
    }
