"""Appearance of ``synthfaces`` faces: what is fixed per identity, what varies per image.

:func:`identity_params` draws a person's geometry and colouring, :func:`sample_jitter` the
per-image pose, lighting and accessories, and :func:`resolve_look` combines both with the
attributes of one image into the colours and switches the drawing reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from modedrop.data.synthfaces_metadata import (
    STREAM_IDENTITY,
    VISIBLE_ATTRIBUTES,
    check_int,
    stream_rng,
)

__all__ = [
    "RGB",
    "IdentityParams",
    "Jitter",
    "Look",
    "identity_params",
    "mix",
    "resolve_look",
    "sample_jitter",
]


#: An 8-bit colour (red, green, blue).
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
    rng = stream_rng(
        check_int("seed", seed, 0), STREAM_IDENTITY, check_int("identity", identity, 0)
    )
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
class Jitter:
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


def sample_jitter(rng: np.random.Generator) -> Jitter:
    """Draw the per-image variation from ``rng``, always the same draws in the same order."""
    background = mix(rng.uniform(30, 235, 3), (128, 128, 128), float(rng.uniform(0.2, 0.6)))
    return Jitter(
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


def mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    """The colour a fraction ``t`` of the way from ``a`` to ``b``, rounded per channel."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Look:
    """Everything the drawing needs, resolved from attributes + identity + jitter."""

    on: frozenset[str]
    skin: RGB
    hair: RGB
    lips: RGB
    eye_scale: float
    asym: float


def resolve_look(attrs: Mapping[str, int], ident: IdentityParams, jit: Jitter) -> Look:
    """The :class:`Look` of one image; ``attrs`` must hold every visible attribute (±1)."""
    missing = [a for a in VISIBLE_ATTRIBUTES if a not in attrs]
    if missing:
        raise KeyError(
            f"attrs lacks visible attributes {missing[:5]}; pass a full row of the attribute "
            "frame (e.g. meta.attributes.iloc[i])."
        )
    on = frozenset(a for a in VISIBLE_ATTRIBUTES if int(attrs[a]) > 0)
    skin = ident.skin if "Pale_Skin" not in on else mix(ident.skin, _PALE_SKIN, 0.75)
    hair = ident.hair_colour
    for name in ("Brown_Hair", "Black_Hair", "Blond_Hair", "Gray_Hair"):  # last one wins
        if name in on:
            hair = _HAIR[name]
    if "Young" not in on:
        skin = mix(skin, (190, 180, 175), 0.18)
        hair = hair if "Gray_Hair" in on else mix(hair, (200, 200, 200), 0.45)
    if "Wearing_Lipstick" in on or "Heavy_Makeup" in on:
        lips = jit.lipstick
    else:
        lips = mix(skin, (175, 70, 75), 0.45)
    eye_scale = ident.eye_size * (1.15 if "Attractive" in on else 0.95)
    return Look(on, skin, hair, lips, eye_scale, 0.0 if "Attractive" in on else 1.0)
