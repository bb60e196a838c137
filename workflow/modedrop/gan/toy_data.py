"""Toy 2-D data sets with known modes, and the mode-tracking metrics of a GAN trained on them.

Three data sets (Martina-Perez, *Addressing mode collapse in GANs*, Section 4, and the mixtures
of the unrolled-GAN / VEEGAN papers):

* ``moons``: scikit-learn's two moons with ``noise=0`` (Martina-Perez's data). ``make_moons`` draws
  ``x = cos t, y = sin t`` (outer moon) and ``x = 1 - cos t, y = 0.5 - sin t`` (inner moon) for
  ``t`` *evenly spaced* in ``[0, pi]``. A GAN needs i.i.d. draws, so :meth:`ArcModes.sample`
  draws ``t ~ U(0, pi)`` itself on the same two curves (the tests check that every
  ``make_moons`` point lies on them). Modes: the outer half circle (centre (0, 0), radius 1,
  angles ``[0, pi]``) and the inner one (centre (1, 0.5), radius 1, angles ``[pi, 2 pi]``, the
  lower half).
* ``ring``: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02 (Metz et al. 2017,
  "Unrolled generative adversarial networks", ICLR).
* ``grid``: 25 Gaussians at ``{-4, -2, 0, 2, 4}^2``, std 0.05 (Srivastava et al. 2017, "VEEGAN",
  NeurIPS).

All modes have equal weight. The metrics follow the unrolled-GAN / VEEGAN protocol: a generated
point is *high quality* when it lies within ``k_sigma`` (3) standard deviations of its nearest
mode, and a mode is *covered* when enough high-quality points fall on it (see
:meth:`ToyDataset.modes_covered`). The noise-free moons have no std; their ``sigma`` is a
tolerance (``moons_sigma``, default 0.05).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from modedrop.metrics.ndb import NDBBins
from modedrop.metrics.rankme import rankme
from modedrop.validation import feature_matrix, generator

__all__ = [
    "DATASETS",
    "MOONS_SIGMA",
    "TRACK_METRICS",
    "ArcModes",
    "GaussianModes",
    "ToyDataset",
    "get_dataset",
]

#: Default tolerance (the "sigma") of the noise-free moons.
MOONS_SIGMA = 0.05

#: The parameters of every data set, by name (``get_dataset`` builds them).
DATASETS: dict[str, dict[str, Any]] = {
    "moons": {"kind": "arcs", "sigma": MOONS_SIGMA},
    "ring": {"kind": "gaussians", "n_modes": 8, "radius": 2.0, "std": 0.02},
    "grid": {"kind": "gaussians", "values": (-4.0, -2.0, 0.0, 2.0, 4.0), "std": 0.05},
}

#: The keys of :meth:`ToyDataset.track`, in display order.
TRACK_METRICS: tuple[str, ...] = (
    "modes_covered",
    "n_modes",
    "high_quality_share",
    "ndb",
    "ndb_fraction",
    "jsd",
    "rankme",
)


def _points(points: Any, name: str = "points") -> np.ndarray:
    """``points`` as a checked float64 (n, 2) array."""
    x = feature_matrix(points, name, dtype=np.float64)
    if x.shape[1] != 2:
        raise ValueError(
            f"{name} must have 2 columns (x, y) for a 2-D toy data set, got shape {x.shape}."
        )
    return x


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer number of samples, got {n!r}.")
    return int(n)


class ToyDataset(ABC):
    """A 2-D data distribution made of ``n_modes`` equally weighted modes.

    Subclasses define :meth:`sample` and :meth:`distance_to_modes`; the quality metrics here
    only use those two and ``sigma``.

    Attributes
    ----------
    name : str
    n_modes : int
    sigma : float
        The scale a "within ``k_sigma`` sigma" test uses: the Gaussian std, or for noise-free
        curves a tolerance.
    weights : (n_modes,) array of equal mode weights.
    limits : ((x_min, x_max), (y_min, y_max)), the axis limits plots use for this data set.
    """

    name: str
    n_modes: int
    sigma: float
    limits: tuple[tuple[float, float], tuple[float, float]]

    @property
    def weights(self) -> np.ndarray:
        return np.full(self.n_modes, 1.0 / self.n_modes)

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` i.i.d. draws, float32 (n, 2)."""

    @abstractmethod
    def distance_to_modes(self, points: Any) -> np.ndarray:
        """Euclidean distance of every point to every mode, float64 (n, n_modes)."""

    def nearest_mode(self, points: Any) -> tuple[np.ndarray, np.ndarray]:
        """Index of every point's nearest mode and the distance to it."""
        distances = self.distance_to_modes(points)
        index = np.argmin(distances, axis=1)
        return index, distances[np.arange(len(index)), index]

    def high_quality(self, points: Any, k_sigma: float = 3.0) -> np.ndarray:
        """Bool per point: within ``k_sigma * sigma`` of its nearest mode."""
        k_sigma = _positive(k_sigma, "k_sigma")
        _, distance = self.nearest_mode(points)
        return distance <= k_sigma * self.sigma

    def mode_counts(self, points: Any, k_sigma: float = 3.0) -> np.ndarray:
        """Number of high-quality points assigned to each mode (its nearest), (n_modes,)."""
        k_sigma = _positive(k_sigma, "k_sigma")
        index, distance = self.nearest_mode(points)
        good = distance <= k_sigma * self.sigma
        return np.bincount(index[good], minlength=self.n_modes)

    def modes_covered(
        self, points: Any, k_sigma: float = 3.0, coverage_fraction: float = 0.25
    ) -> int:
        """Number of modes that receive their share of high-quality points.

        A mode is covered when the high-quality points assigned to it (nearest mode, within
        ``k_sigma`` sigma) number at least ``coverage_fraction * n * weight``, i.e. a quarter
        (by default) of what ``n`` draws from the data would put there. The literature counts a
        mode as captured when generated points fall "within 3 standard deviations" of it
        (Metz et al. 2017; Srivastava et al. 2017, VEEGAN); with no minimum count a handful of
        stray points near a mode would make it covered, so a generator that drops a mode but
        sprays a few points across the plane would still score full coverage. Requiring a
        fraction of the expected count keeps the rule about where the mass goes.
        """
        fraction = _positive(coverage_fraction, "coverage_fraction")
        if fraction > 1:
            raise ValueError(
                f"coverage_fraction must lie in (0, 1], got {coverage_fraction!r}; it is the "
                "share of the expected count a mode needs (0.25 = a quarter)."
            )
        x = _points(points)
        expected = len(x) * self.weights  # what n draws from the data put on each mode
        return int(np.sum(self.mode_counts(x, k_sigma) >= fraction * expected))

    def track(
        self,
        samples: Any,
        real_bins: NDBBins,
        *,
        alpha: float = 0.05,
        k_sigma: float = 3.0,
        coverage_fraction: float = 0.25,
    ) -> dict[str, float]:
        """All tracking metrics of one generated set, as Python numbers (keys
        :data:`TRACK_METRICS`).

        ``modes_covered`` / ``n_modes`` and ``high_quality_share`` (share of points within
        ``k_sigma`` sigma of a mode) as above; ``ndb``, ``ndb_fraction`` (NDB/K) and ``jsd``
        from ``real_bins.evaluate`` on the 2-D points (bins built on real draws of this data
        set); ``rankme`` of the centered 2-D points, in ``(0, 2]``: about 2 when the points
        spread in both directions, 1 when they lie on a line. A generator whose points are all
        identical has no direction at all; its RankMe is undefined and reported as NaN.
        """
        x = _points(samples, "samples")
        if not isinstance(real_bins, NDBBins) or real_bins.n_features != 2:
            raise ValueError(
                "real_bins must be an NDBBins built on real 2-D points of this data set, e.g. "
                "NDBBins(dataset.sample(n_real, rng), n_bins=25)."
            )
        result = real_bins.evaluate(x, alpha=alpha)
        constant = bool(np.all(x == x[0]))
        return {
            "modes_covered": float(self.modes_covered(x, k_sigma, coverage_fraction)),
            "n_modes": float(self.n_modes),
            "high_quality_share": float(np.mean(self.high_quality(x, k_sigma))),
            "ndb": float(result.ndb),
            "ndb_fraction": float(result.ndb_fraction),
            "jsd": float(result.jsd),
            "rankme": math.nan if constant else float(rankme(x, center=True)),
        }


def _positive(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    return number


class GaussianModes(ToyDataset):
    """Equal-weight isotropic Gaussians with std ``std`` at ``centers`` (K, 2)."""

    def __init__(self, name: str, centers: Any, std: float) -> None:
        self.name = str(name)
        self.centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
        self.centers.setflags(write=False)
        self.n_modes = len(self.centers)
        self.std = _positive(std, "std")
        self.sigma = self.std
        lo = float(self.centers.min()) - 2.0
        hi = float(self.centers.max()) + 2.0
        self.limits = ((lo, hi), (lo, hi))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        n, rng = _check_n(n), generator(rng)
        mode = rng.integers(self.n_modes, size=n)
        noise = rng.standard_normal((n, 2))
        return (self.centers[mode] + self.std * noise).astype(np.float32)

    def distance_to_modes(self, points: Any) -> np.ndarray:
        x = _points(points)
        return np.linalg.norm(x[:, None, :] - self.centers[None, :, :], axis=2)


class ArcModes(ToyDataset):
    """Equal-weight circular arcs (noise-free): arc k is ``centers[k] + radius * (cos a,
    sin a)`` for ``a`` in ``angles[k] = (start, end)``, ``start < end``, radians.

    Drawing a point picks an arc uniformly, then ``a ~ U(start, end)`` (uniform along the arc).
    ``sigma`` is the tolerance used by the quality metrics.
    """

    def __init__(
        self,
        name: str,
        centers: Any,
        radius: float,
        angles: Any,
        sigma: float,
        limits: tuple[tuple[float, float], tuple[float, float]],
    ) -> None:
        self.name = str(name)
        self.centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
        self.angles = np.asarray(angles, dtype=np.float64).reshape(-1, 2)
        if len(self.angles) != len(self.centers) or np.any(self.angles[:, 1] <= self.angles[:, 0]):
            raise ValueError("angles must hold one (start, end) pair with start < end per centre.")
        if np.any(self.angles[:, 1] - self.angles[:, 0] > 2 * math.pi):
            raise ValueError("An arc spans at most 2 pi radians.")
        for array in (self.centers, self.angles):
            array.setflags(write=False)
        self.radius = _positive(radius, "radius")
        self.n_modes = len(self.centers)
        self.sigma = _positive(sigma, "sigma (moons_sigma)")
        self.limits = limits

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        n, rng = _check_n(n), generator(rng)
        mode = rng.integers(self.n_modes, size=n)
        start, end = self.angles[mode, 0], self.angles[mode, 1]
        angle = start + (end - start) * rng.random(n)
        offset = self.radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return (self.centers[mode] + offset).astype(np.float32)

    def distance_to_modes(self, points: Any) -> np.ndarray:
        """Distance to each arc: ``| |p - c| - r |`` where the direction of ``p - c`` falls
        inside the arc's angular range, else the distance to the nearer endpoint."""
        x = _points(points)
        rel = x[:, None, :] - self.centers[None, :, :]  # (n, K, 2)
        rho = np.linalg.norm(rel, axis=2)
        theta = np.arctan2(rel[..., 1], rel[..., 0])
        start, end = self.angles[:, 0], self.angles[:, 1]
        # Angle past the start, taken in [0, 2 pi): inside the arc when it is <= the span.
        past_start = np.mod(theta - start[None, :], 2 * math.pi)
        inside = past_start <= (end - start)[None, :]
        radial = np.abs(rho - self.radius)
        ends = [
            self.centers + self.radius * np.stack([np.cos(a), np.sin(a)], axis=1)
            for a in (start, end)
        ]
        endpoint = np.minimum(*(np.linalg.norm(x[:, None, :] - e[None], axis=2) for e in ends))
        return np.where(inside, radial, endpoint)


def _moons(sigma: float) -> ArcModes:
    # Same curves as sklearn.datasets.make_moons (see the module docstring).
    return ArcModes(
        "moons",
        centers=[(0.0, 0.0), (1.0, 0.5)],
        radius=1.0,
        angles=[(0.0, math.pi), (math.pi, 2 * math.pi)],
        sigma=sigma,
        limits=((-1.6, 2.6), (-1.1, 1.6)),
    )


def _ring(n_modes: int, radius: float, std: float) -> GaussianModes:
    angle = 2 * math.pi * np.arange(n_modes) / n_modes
    centers = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return GaussianModes("ring", centers, std)


def _grid(values: tuple[float, ...], std: float) -> GaussianModes:
    gx, gy = np.meshgrid(np.asarray(values), np.asarray(values), indexing="ij")
    return GaussianModes("grid", np.stack([gx.ravel(), gy.ravel()], axis=1), std)


def get_dataset(name: str, *, moons_sigma: float | None = None) -> ToyDataset:
    """The registered data set ``name`` (one of :data:`DATASETS`).

    ``moons_sigma`` replaces the tolerance of the noise-free moons (default
    :data:`MOONS_SIGMA`); the Gaussian mixtures ignore it, their sigma is their std.
    """
    if name not in DATASETS:
        raise ValueError(
            f"Unknown toy data set {name!r}; known data sets: {sorted(DATASETS)}. Check the "
            "spelling in the config."
        )
    params = {k: v for k, v in DATASETS[name].items() if k != "kind"}
    if name == "moons":
        return _moons(params["sigma"] if moons_sigma is None else moons_sigma)
    if name == "ring":
        return _ring(**params)
    return _grid(**params)
