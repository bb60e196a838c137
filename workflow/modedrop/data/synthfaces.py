"""``synthfaces``: a deterministic, embedded stand-in for CelebA (cartoon faces, real statistics).

The study's default data set must exist on every machine without a download, yet behave like
CelebA where the protocol cares: 40 binary attributes with CelebA's prevalences and main
correlations, ~20 images per identity with identity-level attributes that persist, an
identity-disjoint train/valid/test split, and the same on-disk format (``img_align_celeba/``
plus the three metadata files), so every later step runs unchanged on the real data.

Attributes are sampled from a Gaussian copula fitted to CelebA (``celeba_stats.json``, see
:mod:`modedrop.data.fit_celeba_stats`); :data:`VISIBLE_ATTRIBUTES` change what is drawn and
:data:`NONVISUAL_ATTRIBUTES` only exist in the attribute file (negative controls: dropping them
can be noticed only through their correlation with visible ones). ``docs/synthfaces.md`` is the
data set card.

Everything is seeded through :class:`numpy.random.SeedSequence` with a fixed spawn key per
stream (metadata, identity, image), so the bytes written do not depend on ``workers``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter
from scipy.special import ndtr, ndtri

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    write_attributes,
    write_identities,
    write_partition,
)

__all__ = [
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "NONVISUAL_ATTRIBUTES",
    "SPLIT_FRACTIONS",
    "VISIBLE_ATTRIBUTES",
    "CelebAStats",
    "IdentityParams",
    "SynthMetadata",
    "generate",
    "identity_params",
    "image_rng",
    "load_celeba_stats",
    "render_face",
    "sample_metadata",
    "write_metadata",
]

#: CelebA's aligned crops are 178×218; the default keeps that aspect at a cheap size.
DEFAULT_WIDTH = 96
DEFAULT_HEIGHT = 118
MIN_SIZE = 32

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

# Spawn keys of the independent random streams derived from the user's seed.
_STREAM_METADATA = 0
_STREAM_IDENTITY = 1
_STREAM_IMAGE = 2


# --------------------------------------------------------------------------------------------
# Statistics and metadata
# --------------------------------------------------------------------------------------------


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


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator that renders image ``index`` (0-based) of the set made with ``seed``."""
    return _rng(seed, _STREAM_IMAGE, index)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}; increase it.")
    return int(value)


def _check_counts(n_images: object, n_identities: object, seed: object) -> tuple[int, int, int]:
    n_images = _check_int("n_images", n_images, 1)
    n_identities = _check_int("n_identities", n_identities, 1)
    seed = _check_int("seed", seed, 0)
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
    n_images, n_identities, seed = _check_counts(n_images, n_identities, seed)
    stats = load_celeba_stats()
    rng = _rng(seed, _STREAM_METADATA)
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


# --------------------------------------------------------------------------------------------
# Identity and per-image appearance
# --------------------------------------------------------------------------------------------

RGB = tuple[int, int, int]

_SKIN_TONES = np.array(
    [(255, 226, 204), (240, 200, 165), (214, 166, 124), (168, 116, 78), (110, 72, 48)], float
)
_PALE_SKIN = (252, 238, 232)
_EYE_COLOURS: tuple[RGB, ...] = (
    (92, 56, 30),
    (60, 36, 22),
    (70, 110, 160),
    (80, 120, 70),
    (130, 100, 50),
)
_BASE_HAIR: tuple[RGB, ...] = ((150, 62, 32), (120, 84, 56), (176, 110, 60))  # auburn, ash, copper
_HAIR = {
    "Black_Hair": (22, 18, 18),
    "Blond_Hair": (232, 198, 112),
    "Brown_Hair": (104, 62, 34),
    "Gray_Hair": (178, 178, 182),
}
_FRAMES: tuple[RGB, ...] = ((20, 20, 25), (90, 50, 30), (150, 150, 160), (30, 40, 110))
_HATS: tuple[RGB, ...] = ((40, 40, 50), (150, 30, 40), (30, 70, 130), (200, 180, 140), (50, 90, 50))
_SHADOWS: tuple[RGB, ...] = ((120, 60, 140), (70, 90, 150), (120, 80, 60), (180, 80, 120))
_LIPSTICKS: tuple[RGB, ...] = ((200, 20, 50), (170, 20, 70), (220, 60, 90))


@dataclass(frozen=True)
class IdentityParams:
    """Appearance fixed for one person: geometry, colouring, hair style, glasses frame."""

    face_width: float
    face_ratio: float
    jaw: float
    eye_spacing: float
    eye_size: float
    eye_height: float
    nose_length: float
    mouth_width: float
    mouth_height: float
    brow_arch: float
    skin: RGB
    eye_colour: RGB
    hair_colour: RGB
    hair_style: float
    frame_colour: RGB


def _pick(rng: np.random.Generator, options: Sequence[RGB]) -> RGB:
    return options[int(rng.integers(len(options)))]


def identity_params(seed: int, identity: int) -> IdentityParams:
    """The fixed appearance of ``identity`` in the set made with ``seed`` (deterministic)."""
    rng = _rng(_check_int("seed", seed, 0), _STREAM_IDENTITY, _check_int("identity", identity, 0))
    tone = float(np.clip(rng.beta(1.6, 2.4) * (len(_SKIN_TONES) - 1), 0, len(_SKIN_TONES) - 1))
    low = min(int(tone), len(_SKIN_TONES) - 2)
    skin = _SKIN_TONES[low] + (tone - low) * (_SKIN_TONES[low + 1] - _SKIN_TONES[low])
    return IdentityParams(
        face_width=float(rng.uniform(0.92, 1.06)),
        face_ratio=float(rng.uniform(1.22, 1.40)),
        jaw=float(rng.uniform(0.0, 1.0)),
        eye_spacing=float(rng.uniform(0.38, 0.46)),
        eye_size=float(rng.uniform(0.9, 1.1)),
        eye_height=float(rng.uniform(-0.12, -0.04)),
        nose_length=float(rng.uniform(0.85, 1.15)),
        mouth_width=float(rng.uniform(0.85, 1.15)),
        mouth_height=float(rng.uniform(0.50, 0.58)),
        brow_arch=float(rng.uniform(0.0, 1.0)),
        skin=tuple(int(round(c)) for c in skin),
        eye_colour=_pick(rng, _EYE_COLOURS),
        hair_colour=_pick(rng, _BASE_HAIR),
        hair_style=float(rng.uniform(0.0, 1.0)),
        frame_colour=_pick(rng, _FRAMES),
    )


@dataclass(frozen=True)
class _Jitter:
    """Per-image randomness, always drawn in the same order so that attributes (which only
    steer the drawing) never shift the random stream: toggling one attribute changes only
    what it draws."""

    angle: float
    shift: tuple[float, float]
    scale: float
    light: tuple[float, float]
    background: RGB
    clothes: RGB
    hat: RGB
    hat_style: int
    gaze: tuple[float, float]
    brow_raise: float
    mouth_stretch: float
    spots: np.ndarray
    stubble: np.ndarray
    shadow: RGB
    lipstick: RGB
    sunglasses: bool
    hoops: bool


def _sample_jitter(rng: np.random.Generator) -> _Jitter:
    background = _mix(rng.uniform(30, 235, 3), (128, 128, 128), float(rng.uniform(0.2, 0.6)))
    return _Jitter(
        angle=float(rng.normal(0.0, 4.0)),
        shift=(float(rng.normal(0.0, 0.02)), float(rng.normal(0.0, 0.02))),
        scale=float(rng.uniform(0.94, 1.06)),
        light=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.0, 0.35))),
        background=background,
        clothes=tuple(int(c) for c in rng.uniform(20, 220, 3)),
        hat=_pick(rng, _HATS),
        hat_style=int(rng.integers(2)),
        gaze=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.2, 0.2))),
        brow_raise=float(rng.uniform(-0.02, 0.04)),
        mouth_stretch=float(rng.uniform(0.9, 1.1)),
        spots=rng.uniform(0.0, 1.0, (6, 2)),
        stubble=rng.uniform(0.0, 1.0, (90, 2)),
        shadow=_pick(rng, _SHADOWS),
        lipstick=_pick(rng, _LIPSTICKS),
        sunglasses=bool(rng.random() < 0.2),
        hoops=bool(rng.random() < 0.5),
    )


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


def _with_alpha(c: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (*c, alpha)


class _Face:
    """Face-centred coordinates on the 2× canvas: (u, v) in units of the face half-width and
    half-height, (0, 0) at the face centre, v growing downwards.

    The pose (small rotation, scale, translation) is applied to every point here rather than
    by resampling the finished image: it is free, and keeps edges sharp. Ellipses keep their
    axes (only their centres move), which is invisible at the few degrees used.
    """

    def __init__(self, img: Image.Image, fw: float, fh: float, jit: _Jitter):
        self.draw = ImageDraw.Draw(img)
        self.tr = ImageDraw.Draw(img, "RGBA")  # translucent overlays blend into the image
        self.cx = img.width / 2 + jit.shift[0] * img.width
        self.cy = img.height * 0.52 + jit.shift[1] * img.height
        self.fw, self.fh = fw * jit.scale, fh * jit.scale
        angle = math.radians(jit.angle)
        self.cos, self.sin = math.cos(angle), math.sin(angle)
        self.unit = img.width / 192  # line widths are tuned on the default 2× canvas

    def p(self, u: float, v: float) -> tuple[float, float]:
        x, y = u * self.fw, v * self.fh
        return (self.cx + self.cos * x - self.sin * y, self.cy + self.sin * x + self.cos * y)

    def box(self, u: float, v: float, ru: float, rv: float) -> list[float]:
        x, y = self.p(u, v)
        return [x - ru * self.fw, y - rv * self.fh, x + ru * self.fw, y + rv * self.fh]

    def w(self, k: float) -> int:
        return max(1, int(round(k * self.unit)))

    def ellipse(self, u: float, v: float, ru: float, rv: float, **kw) -> None:
        self.draw.ellipse(self.box(u, v, ru, rv), **kw)

    def poly(self, pts: Sequence[tuple[float, float]], **kw) -> None:
        self.draw.polygon([self.p(u, v) for u, v in pts], **kw)

    def rect(self, u0: float, v0: float, u1: float, v1: float, **kw) -> None:
        self.poly([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], **kw)

    def line(self, pts: Sequence[tuple[float, float]], fill, width: float, **kw) -> None:
        self.draw.line([self.p(u, v) for u, v in pts], fill=fill, width=self.w(width), **kw)


@functools.cache
def _superellipse(
    n_upper: float, n_lower: float, k: int = 72, ru: float = 1.0, rv: float = 1.0
) -> tuple[tuple[float, float], ...]:
    """Outline points of the face: elliptic skull, jaw boxier (n > 2) or pointier (n < 2)."""
    pts = []
    for t in np.linspace(0, 2 * np.pi, k, endpoint=False):
        c, s = math.cos(t), math.sin(t)
        n = n_lower if s > 0 else n_upper
        pts.append(
            (ru * math.copysign(abs(c) ** (2 / n), c), rv * math.copysign(abs(s) ** (2 / n), s))
        )
    return tuple(pts)


@dataclass(frozen=True)
class _Look:
    """Everything the drawing needs, resolved from attributes + identity + jitter."""

    on: frozenset[str]
    skin: RGB
    hair: RGB
    lips: RGB
    eye_scale: float
    asym: float


def _resolve(attrs: Mapping[str, int], ident: IdentityParams, jit: _Jitter) -> _Look:
    missing = [a for a in VISIBLE_ATTRIBUTES if a not in attrs]
    if missing:
        raise KeyError(
            f"attrs lacks visible attributes {missing[:5]}; pass a full row of the attribute "
            "frame (e.g. meta.attributes.iloc[i])."
        )
    on = frozenset(a for a in VISIBLE_ATTRIBUTES if int(attrs[a]) > 0)
    skin = ident.skin if "Pale_Skin" not in on else _mix(ident.skin, _PALE_SKIN, 0.75)
    hair = ident.hair_colour
    for name in ("Brown_Hair", "Black_Hair", "Blond_Hair", "Gray_Hair"):  # last one wins
        if name in on:
            hair = _HAIR[name]
    if "Young" not in on:
        skin = _mix(skin, (190, 180, 175), 0.18)
        hair = hair if "Gray_Hair" in on else _mix(hair, (200, 200, 200), 0.45)
    if "Wearing_Lipstick" in on or "Heavy_Makeup" in on:
        lips = jit.lipstick
    else:
        lips = _mix(skin, (175, 70, 75), 0.45)
    eye_scale = ident.eye_size * (1.15 if "Attractive" in on else 0.95)
    return _Look(on, skin, hair, lips, eye_scale, 0.0 if "Attractive" in on else 1.0)


def _draw_body(f: _Face, look: _Look, jit: _Jitter) -> None:
    male = "Male" in look.on
    neck = 0.48 if male else 0.38
    f.rect(-neck, 0.55, neck, 1.9, fill=_mix(look.skin, (0, 0, 0), 0.12))
    f.ellipse(0, 2.1, 2.0, 0.85, fill=jit.clothes)
    if male:  # shirt collar
        white = (235, 235, 235)
        f.poly([(-neck, 1.3), (0, 1.62), (-0.2, 1.75), (-0.65, 1.4)], fill=white)
        f.poly([(neck, 1.3), (0, 1.62), (0.2, 1.75), (0.65, 1.4)], fill=white)


def _hair_length(ident: IdentityParams, look: _Look) -> float:
    """How far the back hair hangs (v units); 0 for short hair."""
    if "Male" in look.on:
        return 0.0 if ident.hair_style < 0.85 else 0.4
    return (0.5, 1.1, 1.55)[min(int(ident.hair_style * 3), 2)]


def _wavy_edge(f: _Face, pts, colour: RGB, radius: float) -> None:
    for u, v in pts:
        f.ellipse(u, v, radius, radius * f.fw / f.fh, fill=colour)


def _draw_back_hair(f: _Face, ident: IdentityParams, look: _Look) -> None:
    length = _hair_length(ident, look)
    if "Bald" in look.on or length == 0.0:
        return
    top = _superellipse(2.0, 2.0, 48, 1.18, 1.16)
    upper = [(u, v) for u, v in top if v <= 0]
    side = 1.18 if length < 1.0 else 1.3
    pts = [*upper, (-side, length), (side, length)]
    pts.sort(key=lambda q: math.atan2(q[1], q[0]))
    f.poly(pts, fill=look.hair)
    if "Wavy_Hair" in look.on:
        edge = [(s * side * 0.98, v) for s in (-1, 1) for v in np.linspace(-0.2, length, 7)]
        _wavy_edge(f, edge, look.hair, 0.12)


def _draw_face_shape(f: _Face, ident: IdentityParams, look: _Look) -> list[tuple[float, float]]:
    male, chubby = "Male" in look.on, "Chubby" in look.on
    n_lower = (2.5 + 0.8 * ident.jaw) if male else (1.7 + 0.4 * ident.jaw)
    n_lower += 0.5 if chubby else 0.0
    outline = _superellipse(2.0, n_lower)
    if "Double_Chin" in look.on:
        f.ellipse(0, 1.0, 0.5, 0.17, fill=_mix(look.skin, (0, 0, 0), 0.04))
        f.draw.arc(
            f.box(0, 1.0, 0.5, 0.17), 15, 165, fill=_mix(look.skin, (0, 0, 0), 0.4), width=f.w(3)
        )
    for s in (-1, 1):  # ears
        f.ellipse(
            s * 0.98, ident.eye_height + 0.12, 0.14, 0.2, fill=_mix(look.skin, (0, 0, 0), 0.08)
        )
    f.poly(outline, fill=look.skin, outline=_mix(look.skin, (0, 0, 0), 0.25))
    return outline


def _draw_skin_marks(f: _Face, ident: IdentityParams, look: _Look, jit: _Jitter) -> None:
    tr = f.tr
    if "High_Cheekbones" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.55, 0.08, 0.2, 0.1), fill=_with_alpha((255, 255, 240), 110))
            f.line([(s * 0.85, 0.05), (s * 0.6, 0.32)], _mix(look.skin, (0, 0, 0), 0.3), 3)
    if "Rosy_Cheeks" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.52, 0.28, 0.2, 0.13), fill=(235, 60, 80, 120))
    if "Heavy_Makeup" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.6, 0.22, 0.18, 0.1), fill=(230, 110, 130, 90))
    if "Young" not in look.on:  # wrinkles
        dark = _mix(look.skin, (60, 40, 30), 0.4)
        for k, v in enumerate((-0.62, -0.53, -0.44)):
            f.line([(-0.4 + 0.05 * k, v), (0, v - 0.025), (0.4 - 0.05 * k, v)], dark, 2)
        e = ident.eye_height
        for s in (-1, 1):
            for dv in (-0.05, 0.0, 0.05):
                f.line([(s * 0.74, e + dv * 0.5), (s * 0.86, e + dv)], dark, 1.6)
            f.line([(s * 0.2, 0.22), (s * 0.38, 0.45), (s * 0.42, 0.62)], dark, 2)
            f.line([(s * 0.28, e + 0.12), (s * 0.5, e + 0.14)], dark, 1.6)
    if "Attractive" not in look.on:  # blemishes
        for x, y in jit.spots:
            u, v = (x - 0.5) * 1.2, -0.45 + y * 0.9
            f.ellipse(u, v, 0.035, 0.028, fill=_mix(look.skin, (120, 40, 30), 0.5))
    if "5_o_Clock_Shadow" in look.on:
        tr.polygon(_beard_region(f, 0.32), fill=(70, 70, 80, 70))
        for x, y in jit.stubble:
            u, v = (x - 0.5) * 1.6, 0.35 + y * 0.6
            if (u / 0.95) ** 2 + (v / 1.0) ** 2 < 0.95:
                f.ellipse(u, v, 0.012, 0.01, fill=_mix(look.skin, (30, 30, 30), 0.6))


def _beard_region(f: _Face, top: float) -> list[tuple[float, float]]:
    lower = [(u * 1.02, v * 1.02) for u, v in _superellipse(2.0, 2.6, 48) if v > top]
    lower.sort(key=lambda q: -q[0])
    inner = [(-0.9, top), (-0.55, top + 0.22), (0.55, top + 0.22), (0.9, top)]
    return [f.p(u, v) for u, v in [*lower, *inner]]


def _draw_eyes(f: _Face, ident: IdentityParams, look: _Look, jit: _Jitter) -> None:
    e = ident.eye_height
    rw, rh = 0.17 * look.eye_scale, 0.075 * look.eye_scale
    if "Narrow_Eyes" in look.on:
        rh *= 0.45
    elif "Smiling" in look.on:
        rh *= 0.8
    tr = f.tr
    dark = (30, 20, 20)
    for s in (-1, 1):
        u = s * ident.eye_spacing
        v = e + (0.035 * look.asym if s < 0 else 0.0)
        if "Heavy_Makeup" in look.on:
            tr.ellipse(f.box(u, v - 0.05, rw * 1.25, rh * 1.6), fill=_with_alpha(jit.shadow, 170))
        f.ellipse(u, v, rw, rh, fill=(248, 248, 245))
        gu, gv = jit.gaze
        r = min(rh * f.fh * 0.95, rw * f.fw * 0.5) / f.fw
        f.ellipse(u + gu * rw * 0.5, v + gv * rh * 0.3, r, r * f.fw / f.fh, fill=ident.eye_colour)
        f.ellipse(u + gu * rw * 0.5, v + gv * rh * 0.3, r * 0.5, r * 0.5 * f.fw / f.fh, fill=dark)
        lid = 3.5 if "Heavy_Makeup" in look.on else 2
        f.draw.arc(f.box(u, v, rw, rh), 180, 360, fill=dark, width=f.w(lid))
        if "Male" not in look.on:  # lashes
            f.line([(u + s * rw * 0.9, v - rh * 0.3), (u + s * rw * 1.25, v - rh * 1.1)], dark, 2)
        _draw_brow(f, ident, look, u, v - 0.15 - rh * 0.6 - jit.brow_raise, s)


def _draw_brow(f: _Face, ident: IdentityParams, look: _Look, u: float, v: float, s: int) -> None:
    colour = _mix(look.hair, (40, 25, 15), 0.55 if "Blond_Hair" in look.on else 0.3)
    width = 6.5 if "Bushy_Eyebrows" in look.on else (3.2 if "Male" in look.on else 2.2)
    arch = 0.02 + 0.04 * ident.brow_arch
    pts = [(u - s * 0.17, v + 0.02), (u, v - arch), (u + s * 0.2, v + 0.03)]
    f.line(pts, colour, width, joint="curve")


def _draw_nose(f: _Face, ident: IdentityParams, look: _Look) -> None:
    big = "Big_Nose" in look.on
    length = 0.36 * ident.nose_length * (1.3 if big else 1.0)
    width = 0.13 * (1.9 if big else 1.0)
    top = ident.eye_height + 0.05
    tip = top + length
    shade = _mix(look.skin, (60, 30, 20), 0.35)
    off = 0.04 * look.asym
    f.line([(off - 0.03, top), (off - 0.05, tip - 0.05)], shade, 2)
    if big:  # nose wings
        for s in (-1, 1):
            f.line([(off + s * 0.05, tip - 0.16), (off + s * width * 0.95, tip - 0.02)], shade, 2.5)
    f.draw.arc(f.box(off, tip - 0.03, width, 0.06), 10, 170, fill=shade, width=f.w(2.5))
    for s in (-1, 1):
        f.ellipse(
            off + s * width * 0.45,
            tip - 0.005,
            width * 0.22,
            0.018,
            fill=_mix(shade, (0, 0, 0), 0.4),
        )


def _draw_facial_hair(f: _Face, ident: IdentityParams, look: _Look) -> None:
    colour = _mix(look.hair, (0, 0, 0), 0.25)
    m = ident.mouth_height
    if "No_Beard" not in look.on:
        f.draw.polygon(_beard_region(f, 0.25), fill=colour)
    if "Goatee" in look.on:
        f.poly([(-0.2, m + 0.08), (0.2, m + 0.08), (0.14, 0.98), (-0.14, 0.98)], fill=colour)
    if "Mustache" in look.on:
        mw = 0.36 * ident.mouth_width
        f.poly(
            [
                (-mw * 1.1, m + 0.04),
                (-mw, m - 0.1),
                (0, m - 0.13),
                (mw, m - 0.1),
                (mw * 1.1, m + 0.04),
                (0, m - 0.05),
            ],
            fill=colour,
        )


def _draw_mouth(f: _Face, ident: IdentityParams, look: _Look, jit: _Jitter) -> None:
    smiling, open_ = "Smiling" in look.on, "Mouth_Slightly_Open" in look.on
    m = ident.mouth_height
    mw = 0.34 * ident.mouth_width * jit.mouth_stretch * (1.2 if smiling else 1.0)
    tilt = 0.04 * look.asym
    lips, dark = look.lips, (80, 20, 30)
    left, right = (-mw, m - tilt), (mw, m + tilt)
    if smiling:
        lift = 0.09
        left, right = (left[0], left[1] - lift), (right[0], right[1] - lift)
        depth = 0.2 if open_ else 0.1
        if open_:
            f.poly(
                [
                    left,
                    (-mw * 0.5, m + 0.02),
                    (0, m + 0.03),
                    (mw * 0.5, m + 0.02),
                    right,
                    (mw * 0.5, m + depth * 0.9),
                    (0, m + depth),
                    (-mw * 0.5, m + depth * 0.9),
                ],
                fill=dark,
            )
            f.poly(
                [
                    left,
                    (-mw * 0.5, m + 0.02),
                    (0, m + 0.03),
                    (mw * 0.5, m + 0.02),
                    right,
                    (mw * 0.5, m + 0.08),
                    (-mw * 0.5, m + 0.08),
                ],
                fill=(250, 250, 245),
            )
            f.line(
                [
                    left,
                    (-mw * 0.5, m + depth * 0.9),
                    (0, m + depth),
                    (mw * 0.5, m + depth * 0.9),
                    right,
                ],
                lips,
                4,
                joint="curve",
            )
            f.line([left, (0, m + 0.0), right], lips, 3.5, joint="curve")
        else:
            f.line(
                [left, (-mw * 0.5, m + 0.06), (0, m + 0.075), (mw * 0.5, m + 0.06), right],
                lips,
                6,
                joint="curve",
            )
            f.line([left, (0, m + 0.06), right], dark, 1.5, joint="curve")
        for s, (u, v) in zip((-1, 1), (left, right), strict=True):
            f.line(
                [(u + s * 0.02, v - 0.03), (u + s * 0.05, v + 0.06)],
                _mix(look.skin, (0, 0, 0), 0.3),
                1.6,
            )
        return
    f.ellipse(0, m + 0.035 + (0.03 if open_ else 0), mw * 0.75, 0.05, fill=lips)
    f.poly(
        [left, (-mw * 0.3, m - 0.045), (0, m - 0.03), (mw * 0.3, m - 0.045), right, (0, m + 0.01)],
        fill=lips,
    )
    if open_:
        f.ellipse(0, m + 0.025, mw * 0.6, 0.05, fill=dark)
        f.rect(-mw * 0.3, m - 0.01, mw * 0.3, m + 0.01, fill=(245, 245, 240))
    else:
        f.line([left, (0, m + 0.01), right], dark, 1.5)


def _draw_front_hair(f: _Face, ident: IdentityParams, look: _Look) -> None:
    on = look.on
    if "Bald" in on:
        f.ellipse(-0.35, -0.78, 0.18, 0.07, fill=_mix(look.skin, (255, 255, 255), 0.45))
        for s in (-1, 1):
            f.poly(
                [(s * 1.02, -0.45), (s * 0.9, -0.55), (s * 0.88, -0.05), (s * 1.0, 0.0)],
                fill=look.hair,
            )
        return
    male = "Male" in on
    outer = _superellipse(2.0, 2.0, 60, 1.1 if not male else 1.06, 1.14 if not male else 1.1)
    cap = [(u, v) for u, v in outer if v <= -0.05 and not (male and v > -0.25)]
    cap.sort(key=lambda q: math.atan2(q[1], q[0]))
    if "Receding_Hairline" in on:
        line = [
            (0.95, -0.45),
            (0.55, -0.98),
            (0.3, -0.82),
            (0.0, -0.9),
            (-0.3, -0.82),
            (-0.55, -0.98),
            (-0.95, -0.45),
        ]
    else:
        part = 0.25 * (ident.hair_style - 0.5)
        line = [
            (0.94, -0.25),
            (0.7, -0.55),
            (part + 0.1, -0.66),
            (part, -0.6),
            (-0.7, -0.55),
            (-0.94, -0.25),
        ]
    f.poly([*cap, *line], fill=look.hair)
    if "Bangs" in on:
        brow = ident.eye_height - 0.2
        zig = [
            (u, brow - (0.06 if k % 2 else 0.0)) for k, u in enumerate(np.linspace(0.85, -0.85, 9))
        ]
        f.poly([(-0.98, -0.45), (-0.6, -0.85), (0.6, -0.85), (0.98, -0.45), *zig], fill=look.hair)
    strand = _mix(look.hair, (0, 0, 0), 0.25)
    if "Wavy_Hair" in on:
        _wavy_edge(f, [(u * 1.0, v * 1.0) for u, v in cap[::5]], look.hair, 0.1)
        for k in (-1, 0, 1):
            pts = [
                (0.25 * k + 0.05 * math.sin(4 * t), -1.02 + 0.33 * t) for t in np.linspace(0, 1, 8)
            ]
            f.line(pts, strand, 1.6)
    else:
        for k in (-1, 0, 1):
            f.line([(0.3 * k, -1.02), (0.35 * k, -0.72)], strand, 1.4)


def _draw_extras(f: _Face, ident: IdentityParams, look: _Look, jit: _Jitter) -> None:
    on = look.on
    if "Wearing_Earrings" in on:
        gold = (235, 190, 40)
        for s in (-1, 1):
            v = ident.eye_height + 0.32
            if jit.hoops:
                f.draw.ellipse(f.box(s * 1.0, v + 0.08, 0.08, 0.08), outline=gold, width=f.w(3))
            else:
                f.ellipse(s * 1.0, v + 0.03, 0.06, 0.045, fill=gold)
    if "Eyeglasses" in on:
        e, frame = ident.eye_height, ident.frame_colour
        tr = f.tr
        lens = (20, 20, 30, 230) if jit.sunglasses else (200, 220, 255, 60)
        for s in (-1, 1):
            box = f.box(s * ident.eye_spacing, e + 0.01, 0.26, 0.12)
            tr.rounded_rectangle(box, radius=f.w(8), fill=lens)
            f.draw.rounded_rectangle(box, radius=f.w(8), outline=frame, width=f.w(3.5))
            f.line([(s * (ident.eye_spacing + 0.26), e - 0.04), (s * 1.0, e - 0.02)], frame, 3)
        f.line(
            [
                (-ident.eye_spacing + 0.26, e - 0.02),
                (0, e - 0.05),
                (ident.eye_spacing - 0.26, e - 0.02),
            ],
            frame,
            3,
        )
    if "Wearing_Hat" in on:
        band = _mix(jit.hat, (0, 0, 0), 0.35)
        if jit.hat_style == 0:  # brimmed hat
            f.poly(
                [
                    (-0.85, -0.62),
                    (-0.8, -1.3),
                    (-0.3, -1.45),
                    (0.3, -1.45),
                    (0.8, -1.3),
                    (0.85, -0.62),
                ],
                fill=jit.hat,
            )
            f.rect(-0.84, -0.8, 0.84, -0.66, fill=band)
            f.ellipse(0, -0.62, 1.45, 0.1, fill=jit.hat)
        else:  # beanie
            f.draw.chord(f.box(0, -0.5, 1.12, 0.72), 180, 360, fill=jit.hat)
            f.rect(-1.12, -0.62, 1.12, -0.45, fill=band)
            f.ellipse(0, -1.24, 0.14, 0.1, fill=band)


@functools.lru_cache(maxsize=8)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return x / width - 0.5, y / height - 0.5


def _lighting(img: Image.Image, jit: _Jitter) -> Image.Image:
    """Multiply by a linear brightness gradient: uneven illumination like photos."""
    x, y = _grid(img.width, img.height)
    angle, strength = jit.light
    gain = 1.0 + (x * math.cos(angle) + y * math.sin(angle)) * (2 * strength)
    out = np.asarray(img, dtype=np.float32) * gain[..., None]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def render_face(
    attrs: Mapping[str, int] | pd.Series,
    identity: IdentityParams,
    rng: np.random.Generator,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
) -> Image.Image:
    """Draw one face (RGB ``width``×``height``) showing the visible attributes of ``attrs``.

    ``attrs`` maps attribute names to ±1 (a row of the attribute frame works); only
    :data:`VISIBLE_ATTRIBUTES` are read. ``rng`` supplies the per-image variation (pose,
    lighting, background, expression) and is consumed identically whatever the attributes,
    so toggling one attribute changes only what it draws. Drawn at 2× and downsampled with
    Lanczos for anti-aliasing.
    """
    width = _check_int("width", width, MIN_SIZE)
    height = _check_int("height", height, MIN_SIZE)
    jit = _sample_jitter(rng)
    look = _resolve(attrs, identity, jit)
    size = (2 * width, 2 * height)
    img = Image.new("RGB", size, jit.background)
    fw = 0.215 * size[0] * identity.face_width * (1.18 if "Chubby" in look.on else 1.0)
    fw *= 1.04 if "Male" in look.on else 1.0
    f = _Face(img, fw, 0.215 * size[0] * identity.face_ratio, jit)
    _draw_body(f, look, jit)
    _draw_back_hair(f, identity, look)
    _draw_face_shape(f, identity, look)
    _draw_skin_marks(f, identity, look, jit)
    _draw_facial_hair(f, identity, look)
    _draw_nose(f, identity, look)
    _draw_mouth(f, identity, look, jit)
    _draw_eyes(f, identity, look, jit)
    _draw_front_hair(f, identity, look)
    _draw_extras(f, identity, look, jit)
    if "Blurry" in look.on:
        img = img.filter(ImageFilter.GaussianBlur(radius=2.2 * f.unit))
    return _lighting(img.resize((width, height), Image.Resampling.LANCZOS), jit)


# --------------------------------------------------------------------------------------------
# Writing a data set
# --------------------------------------------------------------------------------------------

_STATE: dict = {}


def _init_worker(state: dict) -> None:
    _STATE.clear()
    _STATE.update(state)


@functools.lru_cache(maxsize=4096)
def _cached_identity(seed: int, identity: int) -> IdentityParams:
    return identity_params(seed, identity)


def _render_range(bounds: tuple[int, int]) -> int:
    """Render and save images ``bounds[0] .. bounds[1]-1`` (worker side); returns the count."""
    s = _STATE
    names = s["attribute_names"]
    for i in range(*bounds):
        attrs = dict(zip(names, s["values"][i].tolist(), strict=True))
        ident = _cached_identity(s["seed"], int(s["identities"][i]))
        img = render_face(attrs, ident, image_rng(s["seed"], i), s["width"], s["height"])
        img.save(Path(s["img_dir"]) / f"{i + 1:06d}.jpg", "JPEG", quality=s["quality"])
    return bounds[1] - bounds[0]


# Moved into place in this order: the attribute file last, since its presence is what marks
# a finished data set (the workflow reads it at parse time when it exists).
_OUTPUTS = (IMAGE_DIR, PARTITION_FILE, IDENTITY_FILE, ATTRIBUTE_FILE)


def _prepare_target(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another out_dir.")
    existing = [name for name in _OUTPUTS if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds {existing}; delete them, choose another out_dir or pass "
            "overwrite=True."
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the finished entries from ``tmp`` into ``out_dir``, replacing older ones.

    Only the four entries of the data set are touched, so ``out_dir`` may hold other files.
    """
    for name in _OUTPUTS:
        target = out_dir / name
        if target.exists() or target.is_symlink():
            _remove(target)
        (tmp / name).rename(target)
    tmp.rmdir()


def generate(
    out_dir: str | os.PathLike[str],
    *,
    n_images: int = 8000,
    n_identities: int = 400,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    seed: int = 0,
    workers: int = 1,
    jpeg_quality: int = 90,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthMetadata:
    """Write a synthetic set in CelebA's layout: ``out_dir/img_align_celeba/NNNNNN.jpg`` plus
    ``list_attr_celeba.txt``, ``list_eval_partition.txt`` and ``identity_CelebA.txt``.

    Image ``i`` is rendered from a generator derived from ``(seed, i)``, so the bytes are the
    same for any ``workers``. Everything is built in a hidden folder inside ``out_dir`` and
    renamed into place at the end (images first, attribute file last): an interrupted run never
    leaves a half-written image folder or metadata file under the final names. Other files in
    ``out_dir`` are left alone; existing data set entries are replaced only with
    ``overwrite=True``.
    """
    from tqdm import tqdm

    n_images, n_identities, seed = _check_counts(n_images, n_identities, seed)
    width = _check_int("width", width, MIN_SIZE)
    height = _check_int("height", height, MIN_SIZE)
    workers = _check_int("workers", workers, 1)
    jpeg_quality = _check_int("jpeg_quality", jpeg_quality, 1)
    if jpeg_quality > 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}.")
    out_dir = Path(out_dir)
    _prepare_target(out_dir, overwrite)
    meta = sample_metadata(n_images, n_identities, seed)

    tmp = out_dir / f".synthfaces-partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / IMAGE_DIR).mkdir(parents=True)
    state = {
        "seed": seed,
        "width": width,
        "height": height,
        "quality": jpeg_quality,
        "img_dir": str(tmp / IMAGE_DIR),
        "attribute_names": tuple(meta.attributes.columns),
        "values": meta.attributes.to_numpy(),
        "identities": meta.identities.to_numpy(),
    }
    step = 50
    chunks = [(lo, min(lo + step, n_images)) for lo in range(0, n_images, step)]
    bar = tqdm(total=n_images, desc="synthfaces", unit="img", file=sys.stderr, disable=not progress)
    try:
        if workers == 1:
            _init_worker(state)
            for done in map(_render_range, chunks):
                bar.update(done)
        else:
            ctx = get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(state,)) as pool:
                for done in pool.imap_unordered(_render_range, chunks):
                    bar.update(done)
        write_metadata(meta, tmp)
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
        _STATE.clear()
    return meta
