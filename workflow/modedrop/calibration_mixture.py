"""Algorithm 1 of Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*:
a Gaussian-mixture latent prior that shrinks the K-means clusters of latents near the dense mode.

K-means on the latents ``Z`` of the samples ``C`` (:func:`~modedrop.calibration.diagnose`);
cluster ``k`` gets the weight ``w_k = 1 / (n_k + 1)``, normalised, where ``n_k`` is the number of
(dense mode, sample of cluster k) pairs within ``r0``. The new prior is
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
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from modedrop.calibration import check_paired, mccs_radius, mode_rows, within_radius
from modedrop.priors import GaussianMixturePrior, latent_rows
from modedrop.validation import positive_int, same_width, unit_feature_rows

__all__ = ["gaussian_mixture_prior"]

Covariance = Literal["pooled", "identity"]
BaseWeights = Literal["uniform", "size"]


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
    """Algorithm 1 of Wu et al.: a Gaussian mixture on K-means clusters of the latents.

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
    x = unit_feature_rows(sample_features, "sample_features")
    check_paired(z, x)
    modes = mode_rows(dense_modes, "dense_modes")
    same_width(modes, x, ("dense_modes", "sample_features"), source="identity descriptor")
    radius = mccs_radius(radius)
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
