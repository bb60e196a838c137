"""NDB (Number of statistically Different Bins) and the bin-proportion Jensen-Shannon divergence.

Method (Richardson & Weiss 2018, "On GANs and GMMs", NeurIPS, Sec. 3; reference code
github.com/eitanrich/gans-n-gmms, ``utils/ndb.py``):

1. **Bins.** K-means with K clusters (default 100) on the reference ("training") features. Every
   sample, reference or evaluated, belongs to the bin of its nearest centroid (L2). Here the
   bins may be fit on one part of the reference (``fit``) and the reference proportions measured
   on another, disjoint part (``reference``); see "Held-out bins" below.
2. **Per-bin test.** With ``n_r`` reference and ``n_e`` evaluated samples and bin proportions
   ``p_r``, ``p_e``, a two-proportion z-test with the pooled standard error::

       p  = (n_r p_r + n_e p_e) / (n_r + n_e)
       se = sqrt(p (1 - p) (1/n_r + 1/n_e))
       z  = (p_e - p_r) / se,        p-value = 2 (1 - Phi(|z|))   (two-sided)

   A bin is statistically different when its p-value is below ``alpha`` (default 0.05).
3. **Scores.** ``NDB`` = number of different bins, ``NDB/K``, and
   ``JSD(P_r || P_e) = 1/2 KL(P_r || M) + 1/2 KL(P_e || M)``, ``M = (P_r + P_e)/2``, natural log,
   ``0 log 0 = 0`` (so ``0 <= JSD <= log 2``).

Under H0 (same distribution) about ``alpha * K`` bins are flagged by chance, so NDB/K near
``alpha`` means "no detectable difference". Besides the raw count (as in the paper and the
reference code, which apply no multiple-testing correction) the counts after a Holm
(family-wise error) and a Benjamini-Hochberg (false discovery rate) correction over the K bins
are reported; they are near 0 under H0.

Differences from the reference code, all deliberate:

* ``z`` is signed ``evaluated - reference`` (the reference code uses ``reference - evaluated``;
  only the sign differs, p-values are the same). A dropped mode shows as negative ``z``.
* Whitening (``whiten=True``) divides by the per-dimension std of the rows the bins are fit on
  with zero-variance dimensions left unscaled (std 0 -> 1); the reference code adds ``1e-6`` to
  every std instead.
* The reference code clusters on a random ``d // 6`` subset of dimensions when ``d > 1000`` and
  uses unseeded K-means; here all dimensions are used and K-means is seeded and run with one
  OpenMP thread (scikit-learn's multi-threaded Lloyd step reduces thread-local sums in arrival
  order, which can change the last bits of the centroids between runs).
* The reference proportions come from the same nearest-centroid rule as the evaluated ones
  (not from K-means' own labels), so both sets are binned identically.
* Bins are ordered by reference proportion, largest first, as in the reference code.
* **Held-out bins** (``fit=...``, what the study uses; :func:`split_rows` draws the parts).
  Richardson & Weiss ("On GANs and GMMs") fit K-means on the training set and measure the
  training proportions on the same points. K-means places its boundaries to suit those very
  points, so their proportions are not a binomial sample of the bins' mass and the z-test
  loses its level under H0. With many dimensions per row K-means overfits and NDB/K far exceeds
  ``alpha`` (about 0.3 at ``alpha`` 0.05 for 500 rows of a 256-D Gaussian, K = 10); in a few
  dimensions with many rows per bin the bins absorb part of the sampling noise and NDB/K falls
  below ``alpha`` (about 0.04) (``tests/test_ndb_null.py``). Fitting the bins on one part of
  the reference and counting the reference proportions on a disjoint part makes the bins
  independent of both tested samples, so each per-bin test keeps its level and E[NDB/K] is
  about ``alpha`` under H0 (a little below where bins are nearly empty, as the test then rarely
  rejects). ``fit=None`` fits in-sample as in the paper (kept for the GAN training monitors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import false_discovery_control, norm
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from modedrop.stats import holm
from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = [
    "NDBBins",
    "NDBResult",
    "jensen_shannon_divergence",
    "ndb",
    "split_rows",
    "two_proportion_z_test",
]


#: Why a feature set needs a row here, for the size error of ``feature_matrix``.
_TOO_FEW_ROWS = "NDB needs at least 1 sample and 1 feature."


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def split_rows(n: int, fit_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint ``(fit_rows, test_rows)`` of ``range(n)``: a seeded random part to fit bins on.

    ``fit_rows`` holds ``round(n * fit_fraction)`` row indices drawn without replacement with
    ``numpy.random.default_rng(seed)``, ``test_rows`` the other ones; both sorted, both
    non-empty, together ``range(n)``. Fitting the NDB bins on ``fit_rows`` and measuring the
    reference proportions on ``test_rows`` keeps the bins independent of the tested points
    (see the module docstring).
    """
    n = positive_int(n, "n")
    if n < 2:
        raise ValueError(
            f"split_rows needs n >= 2 rows (at least one to fit on and one to measure on), got "
            f"n={n}. Pass more rows."
        )
    if isinstance(fit_fraction, bool) or not isinstance(fit_fraction, int | float | np.number):
        raise ValueError(
            f"fit_fraction must be a number strictly between 0 and 1, got {fit_fraction!r}."
        )
    fit_fraction = float(fit_fraction)
    if not 0.0 < fit_fraction < 1.0:
        raise ValueError(
            f"fit_fraction must lie strictly between 0 and 1, got {fit_fraction!r}; e.g. 0.5 "
            "fits the bins on half of the rows and measures proportions on the other half."
        )
    seed = positive_int(seed, "seed", minimum=0)
    n_fit = round(n * fit_fraction)
    if not 0 < n_fit < n:
        raise ValueError(
            f"fit_fraction={fit_fraction!r} of n={n} rows leaves {n_fit} rows to fit on and "
            f"{n - n_fit} to measure on; both parts need at least one row. Use a fit_fraction "
            f"between {1 / n:.3g} and {1 - 1 / n:.3g}, or more rows."
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[:n_fit]), np.sort(order[n_fit:])


def two_proportion_z_test(
    p_reference: Any, n_reference: int, p_evaluated: Any, n_evaluated: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-proportion z-test per bin; returns ``(z, two_sided_p_values)``.

    ``p = (n_r p_r + n_e p_e)/(n_r + n_e)``, ``se = sqrt(p (1-p) (1/n_r + 1/n_e))``,
    ``z = (p_e - p_r)/se``, ``p-value = 2 * norm.sf(|z|)`` (Richardson & Weiss 2018, Sec. 3;
    gans-n-gmms ``utils/ndb.py``, ``two_proportions_z_test``). A bin whose pooled proportion is
    0 or 1 has ``se = 0`` and then necessarily ``p_e == p_r``: it gets ``z = 0``, p-value 1.
    """
    p_r = np.asarray(p_reference, dtype=np.float64)
    p_e = np.asarray(p_evaluated, dtype=np.float64)
    pooled = (n_reference * p_r + n_evaluated * p_e) / (n_reference + n_evaluated)
    se = np.sqrt(np.clip(pooled * (1.0 - pooled), 0.0, None) * (1 / n_reference + 1 / n_evaluated))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_e - p_r) / np.where(se > 0, se, 1.0), 0.0)
    return z, 2.0 * norm.sf(np.abs(z))


def jensen_shannon_divergence(p: Any, q: Any) -> float:
    """Jensen-Shannon divergence of two discrete distributions, natural log, ``0 log 0 = 0``.

    ``JSD = 1/2 sum_k p_k log(p_k/m_k) + 1/2 sum_k q_k log(q_k/m_k)``, ``m = (p + q)/2``;
    in ``[0, log 2]``, 0 iff ``p == q``.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.ndim != 1 or p.shape != q.shape:
        raise ValueError(
            f"Expected two 1-D proportion vectors of equal length, got shapes {p.shape} and "
            f"{q.shape}."
        )
    for name, v in (("p", p), ("q", q)):
        if not np.all(np.isfinite(v)) or np.any(v < 0) or not np.isclose(v.sum(), 1.0):
            raise ValueError(
                f"{name} must hold finite non-negative proportions summing to 1 (got sum "
                f"{v.sum()!r}); divide bin counts by their total."
            )
    m = 0.5 * (p + q)

    def kl_to_m(v: np.ndarray) -> float:
        mask = v > 0  # m > 0 wherever v > 0, and 0 log 0 = 0 drops the rest
        return float(np.sum(v[mask] * np.log(v[mask] / m[mask])))

    return max(0.0, 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q))


@dataclass(frozen=True, eq=False)
class NDBResult:
    """NDB scores of one evaluated set against fixed reference bins.

    Scalars: ``ndb`` (bins with raw p-value < alpha), ``ndb_fraction`` (NDB/K), ``ndb_holm`` and
    ``ndb_bh`` (bins still significant after a Holm / Benjamini-Hochberg correction over the K
    bins), ``jsd`` (natural log). Per-bin arrays (read-only, length K, bins ordered by reference
    proportion, largest first): proportions, signed ``z`` (evaluated - reference), raw and
    adjusted p-values and the three significance masks.
    """

    n_bins: int
    n_reference: int
    n_evaluated: int
    alpha: float
    ndb: int
    ndb_fraction: float
    ndb_holm: int
    ndb_bh: int
    jsd: float
    reference_proportions: np.ndarray
    evaluated_proportions: np.ndarray
    z: np.ndarray
    p_values: np.ndarray
    p_values_holm: np.ndarray
    p_values_bh: np.ndarray
    significant: np.ndarray
    significant_holm: np.ndarray
    significant_bh: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict: Python scalars and per-bin lists."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


class NDBBins:
    """K-means bins of a reference set, built once and reused for many evaluated sets.

    Parameters
    ----------
    reference
        N x D reference ("training"/real) features: the reference bin proportions and
        ``n_reference = N`` of the z-test come from these rows. Without ``fit`` the bins are
        also fit on them (``n_bins <= N``).
    fit
        M x D rows to fit the K-means bins (and the whitening) on, disjoint from ``reference``
        (e.g. the two parts of :func:`split_rows`); ``n_bins <= M``. ``None`` (default) fits on
        ``reference`` itself: in-sample bins, as in Richardson & Weiss, whose NDB/K misses
        ``alpha`` under H0 (far above it in high dimension) because the bins are fit to the
        points they are tested with.
    n_bins
        K, the number of K-means bins (default 100; the paper suggests N around 500 K or more
        for stable bins, and at least ~10 evaluated samples per bin for the z-test).
    whiten
        Standardise every dimension with the fit set's mean and std (std 0 -> 1) before
        clustering and before assigning reference and evaluated samples.
    seed
        ``random_state`` of K-means (k-means++ initialisation).
    n_init
        K-means restarts; the run with the lowest inertia is kept.
    block_size
        Rows per block in nearest-centroid assignment (memory ``block_size * K`` floats).

    Attributes
    ----------
    centers : (K, D) array, in the (whitened, if ``whiten``) space the distances are taken in.
    mean, scale : (D,) arrays, the whitening transform (zeros / ones when ``whiten=False``).
    n_fit : int, the rows the bins were fit on (``n_reference`` when ``fit`` is None).
    reference_counts, reference_proportions : (K,) arrays of ``reference``, largest bin first
    (with ``fit`` given, a bin may be empty in ``reference``).
    """

    def __init__(
        self,
        reference: Any,
        *,
        fit: Any = None,
        n_bins: int = 100,
        whiten: bool = False,
        seed: int = 0,
        n_init: int = 3,
        block_size: int = 4096,
    ) -> None:
        x = feature_matrix(reference, "reference", dtype=np.float64, size_message=_TOO_FEW_ROWS)
        if fit is None:
            x_fit = x
        else:
            x_fit = feature_matrix(fit, "fit", dtype=np.float64, size_message=_TOO_FEW_ROWS)
            same_width(x_fit, x, ("fit", "reference"))
        self.n_bins = positive_int(n_bins, "n_bins", minimum=2)
        self.n_init = positive_int(n_init, "n_init")
        self.block_size = positive_int(block_size, "block_size")
        self._check_fit_rows(x_fit.shape[0], in_sample=fit is None)
        self.whiten = bool(whiten)
        self.seed = int(seed)
        self.n_reference, self.n_features = x.shape
        self.n_fit = x_fit.shape[0]

        # The whitening is part of the bins' definition, so it comes from the rows they are fit on.
        d = self.n_features
        self.mean = np.zeros(d) if not self.whiten else x_fit.mean(axis=0)
        scale = np.ones(d) if not self.whiten else x_fit.std(axis=0)
        scale[scale == 0] = 1.0  # constant dimension: nothing to standardise
        self.scale = scale
        _read_only(self.mean)
        _read_only(self.scale)

        z_fit = self._transform(x_fit)
        kmeans = KMeans(n_clusters=self.n_bins, n_init=self.n_init, random_state=self.seed)
        with threadpool_limits(limits=1, user_api="openmp"):  # bitwise-reproducible centroids
            kmeans.fit(z_fit)
        centers = np.asarray(kmeans.cluster_centers_, dtype=np.float64)

        counts = np.bincount(self._nearest(self._transform(x), centers), minlength=self.n_bins)
        order = np.argsort(-counts, kind="stable")
        self.centers = _read_only(centers[order].copy())
        self.reference_counts = _read_only(counts[order].copy())
        self.reference_proportions = _read_only(self.reference_counts / self.n_reference)

    def _check_fit_rows(self, rows: int, *, in_sample: bool) -> None:
        if self.n_bins <= rows:
            return
        if in_sample:
            raise ValueError(
                f"n_bins={self.n_bins} exceeds the {rows} reference rows; K-means needs at "
                f"least one row per bin. Use n_bins <= {rows} (ideally far fewer)."
            )
        raise ValueError(
            f"n_bins={self.n_bins} exceeds the {rows} rows of fit; K-means needs at least one "
            f"row per bin. Use n_bins <= {rows} (ideally far fewer) or fit on more rows (a "
            "larger fit_fraction or reference)."
        )

    def _transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale if self.whiten else x

    def _nearest(self, z: np.ndarray, centers: np.ndarray) -> np.ndarray:
        # argmin_k ||x - c_k||^2 = argmin_k (||c_k||^2 - 2 x.c_k); ||x||^2 is the same for all k.
        center_sq = np.einsum("kd,kd->k", centers, centers)
        labels = np.empty(z.shape[0], dtype=np.int64)
        for start in range(0, z.shape[0], self.block_size):
            block = z[start : start + self.block_size]
            labels[start : start + len(block)] = np.argmin(center_sq - 2.0 * block @ centers.T, 1)
        return labels

    def assign(self, samples: Any) -> np.ndarray:
        """Bin index (0 .. K-1, largest reference bin first) of every row of ``samples``."""
        x = feature_matrix(samples, "samples", dtype=np.float64, size_message=_TOO_FEW_ROWS)
        if x.shape[1] != self.n_features:
            raise ValueError(
                f"samples have {x.shape[1]} features but the reference bins were built on "
                f"{self.n_features}. Embed both sets with the same encoder."
            )
        return self._nearest(self._transform(x), self.centers)

    def evaluate(self, samples: Any, *, alpha: float = 0.05) -> NDBResult:
        """NDB, NDB/K, corrected counts and JSD of ``samples`` against the reference bins."""
        alpha = float(alpha)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}.")
        labels = self.assign(samples)
        n_e = labels.size
        p_e = np.bincount(labels, minlength=self.n_bins) / n_e
        p_r = np.asarray(self.reference_proportions)

        z, p_values = two_proportion_z_test(p_r, self.n_reference, p_e, n_e)
        p_holm = holm(p_values)
        p_bh = np.asarray(false_discovery_control(p_values, method="bh"), dtype=np.float64)
        significant = p_values < alpha
        significant_holm = p_holm < alpha
        significant_bh = p_bh < alpha
        ndb_count = int(significant.sum())
        return NDBResult(
            n_bins=self.n_bins,
            n_reference=self.n_reference,
            n_evaluated=int(n_e),
            alpha=alpha,
            ndb=ndb_count,
            ndb_fraction=ndb_count / self.n_bins,
            ndb_holm=int(significant_holm.sum()),
            ndb_bh=int(significant_bh.sum()),
            jsd=jensen_shannon_divergence(p_r, p_e),
            reference_proportions=_read_only(p_r.copy()),
            evaluated_proportions=_read_only(p_e),
            z=_read_only(z),
            p_values=_read_only(p_values),
            p_values_holm=_read_only(p_holm),
            p_values_bh=_read_only(p_bh),
            significant=_read_only(significant),
            significant_holm=_read_only(significant_holm),
            significant_bh=_read_only(significant_bh),
        )


def ndb(
    reference: Any,
    samples: Any,
    *,
    fit: Any = None,
    n_bins: int = 100,
    whiten: bool = False,
    seed: int = 0,
    n_init: int = 3,
    alpha: float = 0.05,
) -> NDBResult:
    """One-off NDB/JSD of ``samples`` against ``reference`` (Richardson & Weiss 2018).

    Same as ``NDBBins(reference, fit=fit, ...).evaluate(samples, alpha=alpha)``; build
    :class:`NDBBins` once instead when several sets are compared with the same reference.
    ``fit=None`` fits the bins in-sample on ``reference`` (NDB/K off ``alpha`` under H0).
    """
    bins = NDBBins(reference, fit=fit, n_bins=n_bins, whiten=whiten, seed=seed, n_init=n_init)
    return bins.evaluate(samples, alpha=alpha)
