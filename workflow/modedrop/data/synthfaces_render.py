"""Rendering one ``synthfaces`` image: canvas, face parts, blur, downsampling and lighting."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from modedrop.data.synthfaces_appearance import IdentityParams, Jitter, resolve_look, sample_jitter
from modedrop.data.synthfaces_canvas import Face
from modedrop.data.synthfaces_metadata import check_int
from modedrop.data.synthfaces_parts import draw_face_parts

__all__ = ["DEFAULT_HEIGHT", "DEFAULT_WIDTH", "MIN_SIZE", "render_face"]

#: CelebA's aligned crops are 178×218; the default keeps that aspect at a cheap size.
DEFAULT_WIDTH = 96
DEFAULT_HEIGHT = 118
MIN_SIZE = 32


@functools.lru_cache(maxsize=8)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return x / width - 0.5, y / height - 0.5


def _lighting(img: Image.Image, jit: Jitter) -> Image.Image:
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
    :data:`~modedrop.data.synthfaces_metadata.VISIBLE_ATTRIBUTES` are read. ``rng`` supplies the
    per-image variation (pose, lighting, background, expression) and is consumed identically
    whatever the attributes, so toggling one attribute changes only what it draws. Drawn at 2×
    and downsampled with Lanczos for anti-aliasing.
    """
    width = check_int("width", width, MIN_SIZE)
    height = check_int("height", height, MIN_SIZE)
    jit = sample_jitter(rng)
    look = resolve_look(attrs, identity, jit)
    size = (2 * width, 2 * height)
    img = Image.new("RGB", size, jit.background)
    fw = 0.215 * size[0] * identity.face_width * (1.18 if "Chubby" in look.on else 1.0)
    fw *= 1.04 if "Male" in look.on else 1.0
    f = Face(img, fw, 0.215 * size[0] * identity.face_ratio, jit)
    draw_face_parts(f, identity, look, jit)
    if "Blurry" in look.on:
        img = img.filter(ImageFilter.GaussianBlur(radius=2.2 * f.unit))
    return _lighting(img.resize((width, height), Image.Resampling.LANCZOS), jit)
