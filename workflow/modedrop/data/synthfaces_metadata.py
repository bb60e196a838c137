"""Attributes, identities and split of ``synthfaces``, sampled from CelebA's statistics.

A Gaussian copula fitted to CelebA (``celeba_stats.json``, see
:mod:`modedrop.data.fit_celeba_stats`) gives CelebA's attribute prevalences, correlations and
identity persistence. Also holds the seeded random streams and argument checks that the other
``synthfaces_*`` modules share.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    IDENTITY_FILE,
    PARTITION_FILE,
    write_attributes,
    write_identities,
    write_partition,
)

__all__ = [
    "NONVISUAL_ATTRIBUTES",
    "SPLIT_FRACTIONS",
    "STREAM_IDENTITY",
    "STREAM_IMAGE",
    "STREAM_METADATA",
    "VISIBLE_ATTRIBUTES",
    "CelebAStats",
    "SynthMetadata",
    "check_counts",
    "check_int",
    "image_rng",
    "load_celeba_stats",
    "sample_metadata",
    "stream_rng",
    "write_metadata",
]

#: Attributes that change the drawing (see ``docs/synthfaces.md`` for how each is drawn).
VISIBLE_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Attractive",
    "Bald",
    "Bangs",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Pale_Skin",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Smiling",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Young",
)

#: Attributes present in the attribute file (correlated as in CelebA) but never drawn.
NONVISUAL_ATTRIBUTES: tuple[str, ...] = tuple(
    a for a in ATTRIBUTE_NAMES if a not in VISIBLE_ATTRIBUTES
)

#: CelebA's train/valid/test image fractions (162,770 / 19,867 / 19,962 of 202,599).
SPLIT_FRACTIONS: tuple[float, float, float] = (162770 / 202599, 19867 / 202599, 19962 / 202599)

#: Spawn keys of the independent random streams derived from the user's seed (metadata,
#: identity, image), so the bytes written do not depend on how the work is split.
STREAM_METADATA = 0
STREAM_IDENTITY = 1
STREAM_IMAGE = 2


@dataclass(frozen=True)
class CelebAStats:
    """The embedded CelebA attribute statistics, arrays in :data:`ATTRIBUTE_NAMES` order."""

    attributes: tuple[str, ...]
    prevalence: np.ndarray
    correlation: np.ndarray
    identity_persistence: np.ndarray
    source: dict


@functools.cache
def load_celeba_stats() -> CelebAStats:
    """Load ``celeba_stats.json`` shipped with the package (fitted once from real CelebA)."""
    text = resources.files("modedrop.data").joinpath("celeba_stats.json").read_text()
    raw = json.loads(text)
    names = tuple(raw["attributes"])
    if names != ATTRIBUTE_NAMES:
        raise ValueError("celeba_stats.json lists other attributes; regenerate it.")
    corr = np.asarray(raw["correlation"], dtype=np.float64)
    corr.setflags(write=False)
    prevalence = np.array([raw["prevalence"][a] for a in names])
    persistence = np.array([raw["identity_persistence"][a] for a in names])
    for arr in (prevalence, persistence):
        arr.setflags(write=False)
    return CelebAStats(names, prevalence, corr, persistence, raw["source"])


@dataclass(frozen=True)
class SynthMetadata:
    """Metadata of a synthetic set, in exactly the layouts of the ``celeba_format`` readers.

    ``attributes``: int8 ±1 frame (index ``image``, columns :data:`ATTRIBUTE_NAMES`);
    ``identities``: int64 Series (1-based); ``partition``: int8 Series (0/1/2).
    """

    attributes: pd.DataFrame
    identities: pd.Series
    partition: pd.Series


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """The independent PCG64 stream of ``seed`` with spawn key ``key`` (a ``STREAM_*`` first)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` (0-based) of the set made with ``seed``."""
    return stream_rng(seed, STREAM_IMAGE, index)


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int; TypeError/ValueError naming ``name`` unless an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}; increase it.")
    return int(value)


def check_counts(n_images: object, n_identities: object, seed: object) -> tuple[int, int, int]:
    """Validate the size and seed of a set: 1 <= n_identities <= n_images <= 999,999, seed >= 0."""
    n_images = check_int("n_images", n_images, 1)
    n_identities = check_int("n_identities", n_identities, 1)
    seed = check_int("seed", seed, 0)
    if n_identities > n_images:
        raise ValueError(
            f"n_identities ({n_identities}) exceeds n_images ({n_images}); every identity needs "
            "at least one image. Lower n_identities (CelebA has ~20 images per identity)."
        )
    if n_images > 999_999:
        raise ValueError(f"n_images must be <= 999999 (six-digit file names), got {n_images}.")
    return n_images, n_identities, seed


def _identity_sizes(n_images: int, n_identities: int, rng: np.random.Generator) -> np.ndarray:
    """Images per identity: at least one each, the rest spread with CelebA-like variability."""
    weights = rng.gamma(shape=5.0, size=n_identities)
    extra = rng.multinomial(n_images - n_identities, weights / weights.sum())
    return 1 + extra


def _identity_splits(sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split (0/1/2) per identity so the image fractions approach CelebA's, identity-disjoint."""
    order = rng.permutation(len(sizes))
    cum = np.cumsum(sizes[order])
    middle = (cum - sizes[order] / 2) / cum[-1]
    splits = np.empty(len(sizes), np.int8)
    bounds = np.cumsum(SPLIT_FRACTIONS)[:2]
    splits[order] = np.searchsorted(bounds, middle)
    return splits


def _latent_normals(rng: np.random.Generator, n: int, chol: np.ndarray) -> np.ndarray:
    return rng.standard_normal((n, chol.shape[0])) @ chol.T


#: Attributes CelebA essentially never gives a woman (< 0.03 % of Male = -1 images); the
#: copula alone leaks a few per cent into women's images, so they are forced off there.
#: No_Beard counts as "beard" when -1, so it is forced to +1.
_MALE_ONLY: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Bald",
    "Goatee",
    "Mustache",
    "Sideburns",
    "Wearing_Necktie",
)


def _solve_increasing(fn, target: float, lo: float = -8.0, hi: float = 8.0) -> float:
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fn(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


@functools.cache
def _thresholds() -> np.ndarray:
    """Latent thresholds giving CelebA's prevalences *after* :func:`_apply_exclusions`.

    Plain Φ⁻¹(1-p) everywhere except the male-only attributes, whose thresholds are lowered
    so that P(z_j > t_j, male) = p_j, and No_Beard, where P(z_j <= t_j, male) = 1 - p_j. The
    image-level latent correlation is R_jk·(a_j a_k + b_j b_k), which the bivariate normal
    uses exactly.
    """
    from modedrop.data.fit_celeba_stats import bivariate_normal_cdf

    stats = load_celeba_stats()
    t = ndtri(1.0 - stats.prevalence)
    col = {name: j for j, name in enumerate(ATTRIBUTE_NAMES)}
    m = col["Male"]
    a, b = np.sqrt(stats.identity_persistence), np.sqrt(1.0 - stats.identity_persistence)
    for name in (*_MALE_ONLY, "No_Beard"):
        j = col[name]
        rho = stats.correlation[j, m] * (a[j] * a[m] + b[j] * b[m])
        if name == "No_Beard":  # P(z <= t, male) = Φ(t) - Φ2(t, t_m), increasing in t
            t[j] = _solve_increasing(
                lambda x, rho=rho: ndtr(x) - bivariate_normal_cdf(x, t[m], rho),
                1.0 - stats.prevalence[j],
            )
        else:  # P(z > t, male) = Φ2(-t, -t_m), decreasing in t
            t[j] = _solve_increasing(
                lambda x, rho=rho: -bivariate_normal_cdf(-x, -t[m], rho), -stats.prevalence[j]
            )
    t.setflags(write=False)
    return t


def _apply_exclusions(values: np.ndarray) -> None:
    """Enforce CelebA's structural zeros in place (the latent model cannot reach them)."""
    col = {name: j for j, name in enumerate(ATTRIBUTE_NAMES)}
    female = values[:, col["Male"]] < 0
    for name in _MALE_ONLY:
        values[female, col[name]] = -1
    values[female, col["No_Beard"]] = 1


def sample_metadata(n_images: int, n_identities: int, seed: int) -> SynthMetadata:
    """Sample attributes, identities and partition of a synthetic set (no images; cheap).

    Each identity gets a latent z_id ~ N(0, R); each image z = a·z_id + sqrt(1-a²)·ε with
    ε ~ N(0, R) and a_j = sqrt(ρ_id_j), so two images of one identity have latent correlation
    ρ_id_j and attribute j is +1 where z_j > Φ⁻¹(1-p_j) (CelebA's prevalence); facial hair,
    baldness and neckties are then switched off for women, as in CelebA. Image files are
    ordered like CelebA's: train identities first, then valid, then test. Called at Snakemake
    parse time to check experiment feasibility, so it is pure numpy (~10 ms for 8,000 images).
    """
    n_images, n_identities, seed = check_counts(n_images, n_identities, seed)
    stats = load_celeba_stats()
    rng = stream_rng(seed, STREAM_METADATA)
    sizes = _identity_sizes(n_images, n_identities, rng)
    splits = _identity_splits(sizes, rng)
    identity = np.repeat(np.arange(1, n_identities + 1), sizes)
    order = np.argsort(splits[identity - 1] + rng.random(n_images), kind="stable")
    identity = identity[order]

    chol = np.linalg.cholesky(stats.correlation)
    a = np.sqrt(stats.identity_persistence)
    b = np.sqrt(1.0 - stats.identity_persistence)
    z = a * _latent_normals(rng, n_identities, chol)[identity - 1]
    z += b * _latent_normals(rng, n_images, chol)
    values = np.where(z > _thresholds(), 1, -1).astype(np.int8)
    _apply_exclusions(values)

    index = pd.Index([f"{i:06d}.jpg" for i in range(1, n_images + 1)], dtype=str, name="image")
    return SynthMetadata(
        attributes=pd.DataFrame(values, index=index, columns=pd.Index(ATTRIBUTE_NAMES)),
        identities=pd.Series(identity.astype(np.int64), index=index, name="identity"),
        partition=pd.Series(splits[identity - 1], index=index, name="partition"),
    )


def write_metadata(meta: SynthMetadata, out_dir: str | os.PathLike[str]) -> None:
    """Write the three CelebA metadata files of ``meta`` into ``out_dir``."""
    out_dir = Path(out_dir)
    write_attributes(out_dir / ATTRIBUTE_FILE, meta.attributes)
    write_partition(out_dir / PARTITION_FILE, meta.partition)
    write_identities(out_dir / IDENTITY_FILE, meta.identities)
