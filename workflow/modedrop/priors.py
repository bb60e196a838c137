"""Latent priors: the distributions a generator draws its latent codes from, and their files.

A prior has ``latent_dim``, ``sample(n, rng) -> float32 (n, latent_dim)`` and ``to_dict()``
(recorded in a sample set's description by :mod:`modedrop.generators`). The built-in priors are
:class:`NormalPrior` (N(0, I), the usual GAN prior) and :class:`UniformPrior` (U(-1, 1)^d).

The calibrated priors reshape the latent distribution to calibrate intra-mode collapse, after
Wu, Wang, Yuan, Zhang, Wang & Jin 2021, "Black-Box Diagnosis and Calibration on GAN Intra-Mode
Collapse: A Pilot Study", ACM TOMM, doi:10.1145/3472768 (Sec. 3.2), fitted and documented by
:mod:`modedrop.calibration_mixture` and :mod:`modedrop.calibration_rejection`:

* :class:`GaussianMixturePrior` - Algorithm 1, ``sum_k w_k N(mu_k, diag(variances))``;
* :class:`RejectionPrior` - Algorithm 2, latents of a base prior thinned inside a
  :class:`HullRegion` (the hull of the dense mode's latents in a few principal directions).

Both ``save(path)`` a ``.npz`` (key ``kind`` = ``"gmm"`` or ``"rejection"``, the parameters and
``format_version``; only numeric and string arrays, so ``numpy.load(path, allow_pickle=False)``
reads it), which :func:`load_prior_file` turns back into a prior. :func:`load_prior` reads a
generator's ``prior`` setting: ``"normal"``, ``"uniform"`` or the path of such a file.

Only numpy and scipy are needed (no torch): the calibration code and the generator interface
both import this module, and neither is imported here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from modedrop.validation import feature_matrix, generator, positive_int

__all__ = [
    "BUILTIN_PRIORS",
    "PRIOR_FORMAT_VERSION",
    "GaussianMixturePrior",
    "GeneratorSpecError",
    "HullRegion",
    "NormalPrior",
    "RejectionPrior",
    "UniformPrior",
    "checked_latent_dim",
    "latent_rows",
    "load_prior",
    "load_prior_file",
]

#: Names of the built-in priors (a prior may also be the path of a calibrated ``.npz`` prior).
BUILTIN_PRIORS = ("normal", "uniform")
#: Version of the .npz prior layout, stored in every file.
PRIOR_FORMAT_VERSION = 1
# Slack of the hull's facet inequalities, relative to the hull's extent (rounding only).
_HULL_SLACK = 1e-9
# Latents tested for hull membership at once (a rows x facets float64 block).
_MEMBERSHIP_ROWS = 1 << 14
# Rejection sampling gives up after this many base draws per requested latent (+ a floor).
_MAX_DRAWS_PER_LATENT = 1000
_MIN_MAX_DRAWS = 100_000
# Largest base-prior batch drawn at once.
_MAX_BATCH = 1 << 20


class GeneratorSpecError(ValueError):
    """A generator's configuration block cannot be turned into a working generator.

    Raised for its ``latent_dim`` and ``prior`` here and for its network by
    :mod:`modedrop.generators`.
    """


# ----- validation ------------------------------------------------------------------------------


def checked_latent_dim(value: Any) -> int:
    """``value`` as the length of one latent code (a positive int), or a GeneratorSpecError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise GeneratorSpecError(
            f"latent_dim must be a positive integer (the length of one latent code), got {value!r}."
        )
    return int(value)


def latent_rows(latents: Any, name: str = "latents", *, min_rows: int = 1) -> np.ndarray:
    """Latent codes as a finite float64 (n, latent_dim) matrix with at least ``min_rows`` rows."""
    return feature_matrix(
        latents,
        name,
        min_rows=min_rows,
        dtype=np.float64,
        size_message="latent codes are rows of shape (n, latent_dim); at least 1 is needed.",
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _count_n(n: Any) -> int:
    return positive_int(n, "n", minimum=0)


def _write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` (must end in .npz) under a temporary name, then rename."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(
            f"a prior file must end in .npz (modedrop.priors.load_prior dispatches on it), "
            f"got {path}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:  # a file handle: numpy adds no second suffix
        np.savez(handle, format_version=np.int64(PRIOR_FORMAT_VERSION), **arrays)
    os.replace(tmp, path)
    return path


# ----- built-in priors ---------------------------------------------------------------------------


class NormalPrior:
    """The standard normal prior N(0, I) on ``latent_dim`` dimensions."""

    kind = "normal"

    def __init__(self, latent_dim: int) -> None:
        self.latent_dim = checked_latent_dim(latent_dim)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.latent_dim), dtype=np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "latent_dim": self.latent_dim}


class UniformPrior(NormalPrior):
    """The uniform prior U(-1, 1)^d."""

    kind = "uniform"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, (n, self.latent_dim)).astype(np.float32)


# ----- Algorithm 1: Gaussian mixture -----------------------------------------------------------


class GaussianMixturePrior:
    """``sum_k w_k N(mu_k, diag(variances))``: Algorithm 1's reshaped latent prior.

    ``neighbour_counts`` (per component: dense-mode neighbours in its cluster) and ``radius``
    record how the weights were made; they do not affect sampling.
    """

    kind = "gmm"

    def __init__(
        self,
        weights: Any,
        means: Any,
        variances: Any,
        *,
        covariance: str = "pooled",
        neighbour_counts: Any = None,
        radius: float = math.nan,
        base_weights: str = "uniform",
    ) -> None:
        means = feature_matrix(means, "means", dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        variances = np.asarray(variances, dtype=np.float64)
        k, d = means.shape
        if weights.shape != (k,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"weights must be {k} finite non-negative numbers (one per row of means), got "
                f"shape {weights.shape}."
            )
        if not math.isclose(weights.sum(), 1.0, rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1, got {weights.sum()}; normalise them.")
        if variances.shape != (d,) or not np.all(np.isfinite(variances)) or np.any(variances <= 0):
            raise ValueError(
                f"variances must be {d} finite positive numbers (the shared diagonal covariance), "
                f"got shape {variances.shape}."
            )
        counts = np.zeros(k, dtype=np.int64) if neighbour_counts is None else neighbour_counts
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (k,):
            raise ValueError(f"neighbour_counts must have one entry per component ({k}).")
        self.weights = _read_only(weights)
        self.means = _read_only(means)
        self.variances = _read_only(variances)
        self.neighbour_counts = _read_only(counts)
        self.covariance = str(covariance)
        self.base_weights = str(base_weights)
        self.radius = float(radius)

    @property
    def latent_dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` latent codes, float32 (n, latent_dim): a component by weight, then its Gaussian."""
        n, rng = _count_n(n), generator(rng)
        component = rng.choice(self.n_components, size=n, p=self.weights)
        noise = rng.standard_normal((n, self.latent_dim))
        return (self.means[component] + noise * np.sqrt(self.variances)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "n_components": self.n_components,
            "covariance": self.covariance,
            "base_weights": self.base_weights,
            "weights": self.weights.tolist(),
            "neighbour_counts": self.neighbour_counts.tolist(),
            "mean_variance": float(self.variances.mean()),
            "radius": self.radius,
        }

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {
            f"{prefix}kind": np.array(self.kind),
            f"{prefix}weights": self.weights,
            f"{prefix}means": self.means,
            f"{prefix}variances": self.variances,
            f"{prefix}neighbour_counts": self.neighbour_counts,
            f"{prefix}covariance": np.array(self.covariance),
            f"{prefix}base_weights": np.array(self.base_weights),
            f"{prefix}radius": np.float64(self.radius),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the prior to a ``.npz`` (no pickles) that :func:`load_prior_file` reads."""
        return _write_npz(path, self._arrays())

    @classmethod
    def _from_arrays(cls, data: Any, prefix: str = "") -> GaussianMixturePrior:
        return cls(
            data[f"{prefix}weights"],
            data[f"{prefix}means"],
            data[f"{prefix}variances"],
            covariance=str(data[f"{prefix}covariance"]),
            base_weights=str(data[f"{prefix}base_weights"]),
            neighbour_counts=data[f"{prefix}neighbour_counts"],
            radius=float(data[f"{prefix}radius"]),
        )


# ----- Algorithm 2: rejection sampling ---------------------------------------------------------


class HullRegion:
    """The convex hull of points in ``k`` principal directions, a cylinder along the others.

    ``z`` is inside when its projection ``(z - center) @ basis.T`` lies in the hull of
    ``vertices`` (k-dimensional; for k = 1 the interval between the two vertices).
    """

    def __init__(self, center: Any, basis: Any, vertices: Any) -> None:
        center = np.asarray(center, dtype=np.float64)
        basis = feature_matrix(basis, "basis", dtype=np.float64)
        vertices = feature_matrix(vertices, "vertices", dtype=np.float64)
        k, d = basis.shape
        if center.shape != (d,) or vertices.shape[1] != k:
            raise ValueError(
                f"a hull region needs center (d,), basis (k, d) and vertices (v, k); got "
                f"{center.shape}, {basis.shape} and {vertices.shape}."
            )
        if len(vertices) < k + 1:
            raise ValueError(f"a {k}-d hull needs at least {k + 1} vertices, got {len(vertices)}.")
        self.center = _read_only(center)
        self.basis = _read_only(basis)
        self.vertices = _read_only(vertices)
        self._slack = _HULL_SLACK * max(1.0, float(np.abs(vertices).max()))
        if k == 1:
            self._facets = None
            self._interval = (float(vertices.min()), float(vertices.max()))
        else:
            try:
                self._facets = ConvexHull(vertices).equations  # normal . x + offset <= 0 inside
            except QhullError as error:
                raise ValueError(
                    f"qhull cannot build a {k}-d hull of these {len(vertices)} points (they are "
                    "degenerate: flat or repeated); lower hull_dims."
                ) from error

    @property
    def latent_dim(self) -> int:
        return self.basis.shape[1]

    @property
    def hull_dims(self) -> int:
        return self.basis.shape[0]

    def project(self, z: Any) -> np.ndarray:
        z = latent_rows(z, "z")
        if z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z has {z.shape[1]} columns but the region lives in {self.latent_dim}-d latent "
                "space."
            )
        return (z - self.center) @ self.basis.T

    def contains(self, z: Any) -> np.ndarray:
        """Boolean (n,): is each latent row inside the region (its boundary included)?"""
        y = self.project(z)
        if self._facets is None:
            low, high = self._interval
            return (y[:, 0] >= low - self._slack) & (y[:, 0] <= high + self._slack)
        inside = np.empty(len(y), dtype=bool)
        normals, offsets = self._facets[:, :-1], self._facets[:, -1]
        for start in range(0, len(y), _MEMBERSHIP_ROWS):
            block = y[start : start + _MEMBERSHIP_ROWS] @ normals.T + offsets
            inside[start : start + _MEMBERSHIP_ROWS] = (block <= self._slack).all(axis=1)
        return inside


def _base_arrays(prior: Any) -> dict[str, np.ndarray]:
    """A base prior as .npz arrays (``base_`` keys); Normal, Uniform or Gaussian mixture."""
    if isinstance(prior, GaussianMixturePrior):
        return prior._arrays("base_")
    if type(prior) in (NormalPrior, UniformPrior):
        return {"base_kind": np.array(prior.kind), "base_latent_dim": np.int64(prior.latent_dim)}
    raise ValueError(
        f"cannot save a rejection prior whose base prior is a {type(prior).__name__}; only "
        "NormalPrior, UniformPrior and GaussianMixturePrior bases can be written to a file."
    )


def _base_from_arrays(data: Any) -> Any:
    kind = str(data["base_kind"])
    if kind == "gmm":
        return GaussianMixturePrior._from_arrays(data, "base_")
    if kind in ("normal", "uniform"):
        cls = NormalPrior if kind == "normal" else UniformPrior
        return cls(int(data["base_latent_dim"]))
    raise ValueError(f"unknown base prior kind {kind!r} in the prior file.")


class RejectionPrior:
    """Algorithm 2's sampler: base-prior latents, thinned inside the dense-mode region.

    A latent outside ``region`` is always kept; one inside is kept with probability
    ``acceptance`` (``reference_count / dense_count``, at most 1). :meth:`sample` draws from
    ``base_prior`` in batches until ``n`` latents are kept and records the share kept in
    :attr:`last_acceptance_rate` (``None`` before the first call).
    """

    kind = "rejection"

    def __init__(
        self,
        base_prior: Any,
        region: HullRegion,
        acceptance: float,
        *,
        dense_count: int = 0,
        reference_count: float = math.nan,
        radius: float = math.nan,
    ) -> None:
        if not (hasattr(base_prior, "sample") and hasattr(base_prior, "latent_dim")):
            raise ValueError(
                "base_prior must be a prior (latent_dim and sample(n, rng)), e.g. "
                "modedrop.priors.NormalPrior(latent_dim)."
            )
        if base_prior.latent_dim != region.latent_dim:
            raise ValueError(
                f"base_prior draws {base_prior.latent_dim}-d latents but the region lives in "
                f"{region.latent_dim}-d latent space."
            )
        acceptance = float(acceptance)
        if not 0 <= acceptance <= 1:
            raise ValueError(f"acceptance must be a probability in [0, 1], got {acceptance}.")
        self.base_prior = base_prior
        self.region = region
        self.acceptance = acceptance
        self.dense_count = int(dense_count)
        self.reference_count = float(reference_count)
        self.radius = float(radius)
        self.last_acceptance_rate: float | None = None

    @property
    def latent_dim(self) -> int:
        return self.region.latent_dim

    def _keep(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        inside = self.region.contains(z)
        return ~inside | (rng.random(len(z)) < self.acceptance)

    def sample(
        self, n: int, rng: np.random.Generator, *, max_draws: int | None = None
    ) -> np.ndarray:
        """``n`` kept latents, float32 (n, latent_dim), in the order they were drawn.

        Raises when more than ``max_draws`` base latents (default ``1000 n``, at least 100,000)
        are needed: the region then holds nearly all of the base prior's mass.
        """
        n, rng = _count_n(n), generator(rng)
        limit = max(_MAX_DRAWS_PER_LATENT * n, _MIN_MAX_DRAWS) if max_draws is None else max_draws
        limit = positive_int(limit, "max_draws")
        kept: list[np.ndarray] = []
        n_kept = drawn = 0
        while n_kept < n:
            rate = n_kept / drawn if n_kept else 1.0
            batch = min(max(1024, math.ceil(1.2 * (n - n_kept) / rate)), _MAX_BATCH)
            if drawn + batch > limit:
                batch = limit - drawn
            if batch <= 0:
                raise RuntimeError(
                    f"rejection sampling drew {drawn} latents from the base prior and kept only "
                    f"{n_kept} of the {n} asked for (acceptance inside the region "
                    f"{self.acceptance:.3g}); the region holds nearly all of the prior's mass. "
                    "Use a smaller radius or hull_dims, a larger reference_count, or raise "
                    "max_draws."
                )
            z = np.asarray(self.base_prior.sample(batch, rng), dtype=np.float32)
            keep = self._keep(z, rng)
            kept.append(z[keep])
            n_kept += int(keep.sum())
            drawn += batch
        self.last_acceptance_rate = n_kept / drawn if drawn else None
        return np.concatenate(kept or [np.empty((0, self.latent_dim), np.float32)])[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "acceptance": self.acceptance,
            "dense_count": self.dense_count,
            "reference_count": self.reference_count,
            "radius": self.radius,
            "hull_dims": self.region.hull_dims,
            "hull_vertices": len(self.region.vertices),
            "base_prior": self.base_prior.to_dict(),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the sampler (region, acceptance, base prior) to a ``.npz`` without pickles."""
        arrays = {
            "kind": np.array(self.kind),
            "acceptance": np.float64(self.acceptance),
            "dense_count": np.int64(self.dense_count),
            "reference_count": np.float64(self.reference_count),
            "radius": np.float64(self.radius),
            "center": self.region.center,
            "basis": self.region.basis,
            "vertices": self.region.vertices,
            **_base_arrays(self.base_prior),
        }
        return _write_npz(path, arrays)

    @classmethod
    def _from_arrays(cls, data: Any) -> RejectionPrior:
        region = HullRegion(data["center"], data["basis"], data["vertices"])
        return cls(
            _base_from_arrays(data),
            region,
            float(data["acceptance"]),
            dense_count=int(data["dense_count"]),
            reference_count=float(data["reference_count"]),
            radius=float(data["radius"]),
        )


# ----- files -----------------------------------------------------------------------------------


def load_prior_file(path: str | os.PathLike) -> GaussianMixturePrior | RejectionPrior:
    """The prior saved by :meth:`GaussianMixturePrior.save` or :meth:`RejectionPrior.save`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"prior file {path} does not exist; write it with GaussianMixturePrior.save or "
            "RejectionPrior.save (the calibration rule)."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, OSError) as error:
        raise ValueError(
            f"{path} is not a readable .npz prior file without pickles ({error}); write it again "
            "with the calibration rule."
        ) from error
    kind = str(arrays.get("kind", ""))
    version = int(arrays.get("format_version", -1))
    if version != PRIOR_FORMAT_VERSION:
        raise ValueError(
            f"{path} has prior format version {version}, this code reads "
            f"{PRIOR_FORMAT_VERSION}; write it again with the calibration rule."
        )
    try:
        if kind == "gmm":
            return GaussianMixturePrior._from_arrays(arrays)
        if kind == "rejection":
            return RejectionPrior._from_arrays(arrays)
    except KeyError as error:
        raise ValueError(
            f"{path} lacks the key {error} of a {kind!r} prior; write it again with the "
            "calibration rule."
        ) from error
    raise ValueError(f"{path} holds an unknown prior kind {kind!r}; expected 'gmm' or 'rejection'.")


def load_prior(spec: str | os.PathLike, latent_dim: int):
    """A prior from its config value: ``"normal"``, ``"uniform"`` or a calibrated ``.npz`` file."""
    if str(spec) == "normal":
        return NormalPrior(latent_dim)
    if str(spec) == "uniform":
        return UniformPrior(latent_dim)
    path = Path(spec)
    if path.suffix != ".npz":
        raise GeneratorSpecError(
            f"unknown prior {str(spec)!r}: use one of {', '.join(BUILTIN_PRIORS)} or the path of a "
            ".npz prior written by the calibration rule (modedrop.calibration_*)."
        )
    if not path.exists():
        raise GeneratorSpecError(
            f"prior file {path} does not exist; run the calibration rule that writes it "
            "(snakemake calibration) or point `prior` at an existing .npz file."
        )
    prior = load_prior_file(path)
    if prior.latent_dim != latent_dim:
        raise GeneratorSpecError(
            f"prior {path} draws {prior.latent_dim}-d latent codes but the generator takes "
            f"latent_dim={latent_dim}; calibrate this generator again or fix latent_dim."
        )
    return prior
