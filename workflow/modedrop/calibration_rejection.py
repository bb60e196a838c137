"""Algorithm 2 of Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*:
a rejection ("importance") sampling prior that thins the base prior inside the convex hull of
the dense mode's latents.

``H`` = the latents of the samples ``C`` (:func:`~modedrop.calibration.diagnose`) whose images
lie within ``r0`` of the dense mode; the high-density region is the convex hull of ``H``. Latents
drawn from the base prior are always accepted outside the region and with probability
``p = reference_count / |H|`` inside it (the paper: ``p`` = neighbours of a random image ``I_r`` /
neighbours of the dense mode; clipped at 1). Practical readings, documented:

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
  1 (:attr:`~modedrop.calibration.Diagnosis.reference_count`); called without it,
  :func:`rejection_prior` takes the same median over the samples themselves (each sample's
  neighbours among the others).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from modedrop.calibration import (
    check_paired,
    mccs_radius,
    mode_rows,
    neighbour_counts,
    within_radius,
)
from modedrop.priors import HullRegion, RejectionPrior, latent_rows
from modedrop.validation import positive_int, same_width, unit_feature_rows

__all__ = ["hull_region", "rejection_prior"]

PCACentre = Literal["latents", "hull"]

# Singular values below this share of the largest mean H spans fewer directions than asked.
_RANK_TOLERANCE = 1e-9


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
    """Algorithm 2 of Wu et al.: thin the base prior inside the hull of the dense mode's latents.

    ``latents`` (n x d) and ``sample_features`` (n x D) describe the samples ``C`` row by row;
    ``H`` = the latents whose features lie within ``radius`` of ``dense_mode_feature``; the
    region is their hull in ``hull_dims`` principal directions (:func:`hull_region`), taken
    about the mean of all ``latents`` (``pca_centre="latents"``, default) or about ``H``'s own
    mean (``"hull"``, ordinary PCA); see the module docstring. Latents inside are kept with
    ``p = min(1, reference_count / |H|)``. Pass
    :attr:`~modedrop.calibration.Diagnosis.reference_count` (the anchors' median neighbour count,
    floored at 1); by default the same median is taken over the samples themselves.
    ``base_prior`` is the prior the generator samples from (e.g. ``NormalPrior(d)``).
    """
    z = latent_rows(latents)
    x = unit_feature_rows(sample_features, "sample_features")
    check_paired(z, x)
    mode = mode_rows(dense_mode_feature, "dense_mode_feature")
    if len(mode) != 1:
        raise ValueError(
            f"dense_mode_feature must be one feature vector, got {len(mode)} rows; call "
            "rejection_prior once per dense mode."
        )
    same_width(mode, x, ("dense_mode_feature", "sample_features"), source="identity descriptor")
    radius = mccs_radius(radius)
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
