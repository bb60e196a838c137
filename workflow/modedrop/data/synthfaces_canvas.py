"""The drawing canvas of ``synthfaces``: face-centred coordinates with the pose applied.

:class:`Face` maps (u, v) face units to pixels of the 2x canvas; :func:`superellipse` gives the
outline shapes (skull, jaw, hair cap) that the face parts are drawn from.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from modedrop.data.synthfaces_appearance import Jitter

__all__ = ["Face", "superellipse"]


class Face:
    """Face-centred coordinates on the 2× canvas: (u, v) in units of the face half-width and
    half-height, (0, 0) at the face centre, v growing downwards.

    The pose (small rotation, scale, translation) is applied to every point here rather than
    by resampling the finished image: it is free, and keeps edges sharp. Ellipses keep their
    axes (only their centres move), which is invisible at the few degrees used.
    """

    def __init__(self, img: Image.Image, fw: float, fh: float, jit: Jitter):
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
def superellipse(
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
