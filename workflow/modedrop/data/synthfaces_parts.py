"""The parts of a ``synthfaces`` face (body, hair, skin, eyes, nose, mouth, accessories).

Each part is drawn from the resolved :class:`~modedrop.data.synthfaces_appearance.Look`; see
``docs/synthfaces.md`` for how each visible attribute is drawn.
"""

from __future__ import annotations

import math

import numpy as np

from modedrop.data.synthfaces_appearance import RGB, IdentityParams, Jitter, Look, mix
from modedrop.data.synthfaces_canvas import Face, superellipse

__all__ = ["draw_face_parts"]


def _with_alpha(c: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (*c, alpha)


def _draw_body(f: Face, look: Look, jit: Jitter) -> None:
    male = "Male" in look.on
    neck = 0.48 if male else 0.38
    f.rect(-neck, 0.55, neck, 1.9, fill=mix(look.skin, (0, 0, 0), 0.12))
    f.ellipse(0, 2.1, 2.0, 0.85, fill=jit.clothes)
    if male:  # shirt collar
        white = (235, 235, 235)
        f.poly([(-neck, 1.3), (0, 1.62), (-0.2, 1.75), (-0.65, 1.4)], fill=white)
        f.poly([(neck, 1.3), (0, 1.62), (0.2, 1.75), (0.65, 1.4)], fill=white)


def _hair_length(ident: IdentityParams, look: Look) -> float:
    """How far the back hair hangs (v units); 0 for short hair."""
    if "Male" in look.on:
        return 0.0 if ident.hair_style < 0.85 else 0.4
    return (0.5, 1.1, 1.55)[min(int(ident.hair_style * 3), 2)]


def _wavy_edge(f: Face, pts, colour: RGB, radius: float) -> None:
    for u, v in pts:
        f.ellipse(u, v, radius, radius * f.fw / f.fh, fill=colour)


def _draw_back_hair(f: Face, ident: IdentityParams, look: Look) -> None:
    length = _hair_length(ident, look)
    if "Bald" in look.on or length == 0.0:
        return
    top = superellipse(2.0, 2.0, 48, 1.18, 1.16)
    upper = [(u, v) for u, v in top if v <= 0]
    side = 1.18 if length < 1.0 else 1.3
    pts = [*upper, (-side, length), (side, length)]
    pts.sort(key=lambda q: math.atan2(q[1], q[0]))
    f.poly(pts, fill=look.hair)
    if "Wavy_Hair" in look.on:
        edge = [(s * side * 0.98, v) for s in (-1, 1) for v in np.linspace(-0.2, length, 7)]
        _wavy_edge(f, edge, look.hair, 0.12)


def _draw_face_shape(f: Face, ident: IdentityParams, look: Look) -> list[tuple[float, float]]:
    male, chubby = "Male" in look.on, "Chubby" in look.on
    n_lower = (2.5 + 0.8 * ident.jaw) if male else (1.7 + 0.4 * ident.jaw)
    n_lower += 0.5 if chubby else 0.0
    outline = superellipse(2.0, n_lower)
    if "Double_Chin" in look.on:
        f.ellipse(0, 1.0, 0.5, 0.17, fill=mix(look.skin, (0, 0, 0), 0.04))
        f.draw.arc(
            f.box(0, 1.0, 0.5, 0.17), 15, 165, fill=mix(look.skin, (0, 0, 0), 0.4), width=f.w(3)
        )
    for s in (-1, 1):  # ears
        f.ellipse(
            s * 0.98, ident.eye_height + 0.12, 0.14, 0.2, fill=mix(look.skin, (0, 0, 0), 0.08)
        )
    f.poly(outline, fill=look.skin, outline=mix(look.skin, (0, 0, 0), 0.25))
    return outline


def _draw_skin_marks(f: Face, ident: IdentityParams, look: Look, jit: Jitter) -> None:
    tr = f.tr
    if "High_Cheekbones" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.55, 0.08, 0.2, 0.1), fill=_with_alpha((255, 255, 240), 110))
            f.line([(s * 0.85, 0.05), (s * 0.6, 0.32)], mix(look.skin, (0, 0, 0), 0.3), 3)
    if "Rosy_Cheeks" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.52, 0.28, 0.2, 0.13), fill=(235, 60, 80, 120))
    if "Heavy_Makeup" in look.on:
        for s in (-1, 1):
            tr.ellipse(f.box(s * 0.6, 0.22, 0.18, 0.1), fill=(230, 110, 130, 90))
    if "Young" not in look.on:  # wrinkles
        dark = mix(look.skin, (60, 40, 30), 0.4)
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
            f.ellipse(u, v, 0.035, 0.028, fill=mix(look.skin, (120, 40, 30), 0.5))
    if "5_o_Clock_Shadow" in look.on:
        tr.polygon(_beard_region(f, 0.32), fill=(70, 70, 80, 70))
        for x, y in jit.stubble:
            u, v = (x - 0.5) * 1.6, 0.35 + y * 0.6
            if (u / 0.95) ** 2 + (v / 1.0) ** 2 < 0.95:
                f.ellipse(u, v, 0.012, 0.01, fill=mix(look.skin, (30, 30, 30), 0.6))


def _beard_region(f: Face, top: float) -> list[tuple[float, float]]:
    lower = [(u * 1.02, v * 1.02) for u, v in superellipse(2.0, 2.6, 48) if v > top]
    lower.sort(key=lambda q: -q[0])
    inner = [(-0.9, top), (-0.55, top + 0.22), (0.55, top + 0.22), (0.9, top)]
    return [f.p(u, v) for u, v in [*lower, *inner]]


def _draw_eyes(f: Face, ident: IdentityParams, look: Look, jit: Jitter) -> None:
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


def _draw_brow(f: Face, ident: IdentityParams, look: Look, u: float, v: float, s: int) -> None:
    colour = mix(look.hair, (40, 25, 15), 0.55 if "Blond_Hair" in look.on else 0.3)
    width = 6.5 if "Bushy_Eyebrows" in look.on else (3.2 if "Male" in look.on else 2.2)
    arch = 0.02 + 0.04 * ident.brow_arch
    pts = [(u - s * 0.17, v + 0.02), (u, v - arch), (u + s * 0.2, v + 0.03)]
    f.line(pts, colour, width, joint="curve")


def _draw_nose(f: Face, ident: IdentityParams, look: Look) -> None:
    big = "Big_Nose" in look.on
    length = 0.36 * ident.nose_length * (1.3 if big else 1.0)
    width = 0.13 * (1.9 if big else 1.0)
    top = ident.eye_height + 0.05
    tip = top + length
    shade = mix(look.skin, (60, 30, 20), 0.35)
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
            fill=mix(shade, (0, 0, 0), 0.4),
        )


def _draw_facial_hair(f: Face, ident: IdentityParams, look: Look) -> None:
    colour = mix(look.hair, (0, 0, 0), 0.25)
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


def _draw_mouth(f: Face, ident: IdentityParams, look: Look, jit: Jitter) -> None:
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
                mix(look.skin, (0, 0, 0), 0.3),
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


def _draw_front_hair(f: Face, ident: IdentityParams, look: Look) -> None:
    on = look.on
    if "Bald" in on:
        f.ellipse(-0.35, -0.78, 0.18, 0.07, fill=mix(look.skin, (255, 255, 255), 0.45))
        for s in (-1, 1):
            f.poly(
                [(s * 1.02, -0.45), (s * 0.9, -0.55), (s * 0.88, -0.05), (s * 1.0, 0.0)],
                fill=look.hair,
            )
        return
    male = "Male" in on
    outer = superellipse(2.0, 2.0, 60, 1.1 if not male else 1.06, 1.14 if not male else 1.1)
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
    strand = mix(look.hair, (0, 0, 0), 0.25)
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


def _draw_extras(f: Face, ident: IdentityParams, look: Look, jit: Jitter) -> None:
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
        band = mix(jit.hat, (0, 0, 0), 0.35)
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


def draw_face_parts(f: Face, ident: IdentityParams, look: Look, jit: Jitter) -> None:
    """Draw every part of the face onto ``f``, back to front (later parts cover earlier ones)."""
    _draw_body(f, look, jit)
    _draw_back_hair(f, ident, look)
    _draw_face_shape(f, ident, look)
    _draw_skin_marks(f, ident, look, jit)
    _draw_facial_hair(f, ident, look)
    _draw_nose(f, ident, look)
    _draw_mouth(f, ident, look, jit)
    _draw_eyes(f, ident, look, jit)
    _draw_front_hair(f, ident, look)
    _draw_extras(f, ident, look, jit)
