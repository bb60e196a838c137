"""The look every figure of the study shares: seaborn style, condition colours and tick labels,
mean +/- 1 s.d. points with one dot per seed, panel grids, image checks, and deterministic PNG +
PDF files (no creation date in their metadata, so re-running gives byte-identical files for a
given matplotlib version). The backend is left to the caller (the workflow's jobs use Agg).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

__all__ = [
    "CONDITION_COLORS",
    "PANEL_COLUMNS",
    "condition_tick_label",
    "draw_mean_sd",
    "draw_seed_dots",
    "ordered_metrics",
    "panel_grid",
    "pretty_attribute",
    "rgb_image",
    "save_figure",
    "seed_count_text",
    "seed_offsets",
    "study_style",
]

_PNG_DPI = 150
_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}

#: Colour of each condition: the Okabe & Ito (2008) colour-blind-safe palette (plus Tol's wine
#: for a fifth extra condition).
CONDITION_COLORS: dict[str, str] = {
    "unbiased": "#4d4d4d",
    "target": "#0072b2",
    "nontarget": "#d55e00",
    "dose25": "#56b4e9",
    "dose50": "#009e73",
    "dose75": "#cc79a7",
    "collapse25": "#e69f00",
    "collapse50": "#882255",
}

#: Panels per row of :func:`panel_grid` before it wraps.
PANEL_COLUMNS = 4


@contextmanager
def study_style(font_scale: float, style: str = "whitegrid") -> Iterator[None]:
    """Seaborn axes ``style`` and the "notebook" context scaled by ``font_scale``, for the
    figures drawn inside the ``with`` block."""
    with sns.axes_style(style), sns.plotting_context("notebook", font_scale=font_scale):
        yield


def save_figure(fig: plt.Figure, png_path: str | os.PathLike, pdf_path: str | os.PathLike) -> None:
    """Write ``fig`` as PNG (150 dpi) and PDF without creation dates (folders created), then
    close it."""
    for path in (png_path, pdf_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=_PNG_DPI, format="png", metadata=_PNG_METADATA)
    fig.savefig(pdf_path, format="pdf", metadata=_PDF_METADATA)
    plt.close(fig)


def pretty_attribute(attribute: str) -> str:
    """A CelebA attribute name as text ("Wearing_Hat" -> "Wearing Hat")."""
    return str(attribute).replace("_", " ")


def condition_tick_label(condition: str, attributes: Sequence[str]) -> str:
    """Two-line x tick label saying what a condition means for the given target attributes."""
    attrs = [pretty_attribute(a) for a in attributes]
    k = len(attrs)
    if condition == "unbiased":
        if k == 0:
            return "unbiased"
        return f"unbiased\n(all $2^{{{k}}}$ = {2**k}\ncombinations)"
    if condition in ("target", "nontarget"):
        sign = "+1" if condition == "target" else "\u22121"
        if k == 0:
            return condition
        if k == 1:
            return f"{condition}\n({attrs[0]} = {sign})"
        return f"{condition}\n(all {k} = {sign})"
    return str(condition)


def ordered_metrics(present, labels: Mapping[str, str]) -> list[str]:
    """Metrics in the order of ``labels``, then the unlabelled ones alphabetically."""
    present = {str(m) for m in present}
    return [m for m in labels if m in present] + sorted(present - set(labels))


def panel_grid(n_panels: int, width: float, height: float, header: float):
    """A wrapping grid of ``n_panels`` axes (at most :data:`PANEL_COLUMNS` per row), with
    ``header`` inches left free at the top; unused axes are hidden."""
    columns = min(n_panels, PANEL_COLUMNS)
    rows = math.ceil(n_panels / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns + 0.4, height * rows + header), squeeze=False
    )
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def seed_offsets(seeds: Sequence) -> dict:
    """x offset of each seed's dot right of its condition's mean point: spread evenly (not
    jittered at random, so that figures are reproducible), 0.16 for a single seed."""
    if len(seeds) == 1:
        return {seeds[0]: 0.16}
    return dict(zip(seeds, np.linspace(-0.14, 0.14, len(seeds)) + 0.16, strict=True))


def seed_count_text(counts: np.ndarray) -> str:
    """The number of seeds behind each mean, or its range: "n = 5" or "n = 3\u20135"."""
    lo, hi = int(counts.min()), int(counts.max())
    return f"n = {lo}" if lo == hi else f"n = {lo}\u2013{hi}"


def draw_mean_sd(ax, x: float, row, color) -> None:
    """One condition's mean over seeds with a +/-1 s.d. bar (``row``: mean, std; std NaN -> 0)."""
    std = 0.0 if pd.isna(row["std"]) else float(row["std"])
    ax.errorbar(
        x,
        float(row["mean"]),
        yerr=std,
        fmt="o",
        color=color,
        markersize=7,
        markeredgecolor="black",
        markeredgewidth=0.6,
        elinewidth=1.6,
        capsize=5,
        zorder=3,
    )


def draw_seed_dots(ax, x: float, values: pd.DataFrame, offsets: Mapping, color) -> None:
    """Each seed's value (``values``: rows with seed, value) as a small dot beside ``x``."""
    values = values.sort_values("seed")
    ax.scatter(
        [x + offsets[s] for s in values["seed"]],
        values["value"].to_numpy(dtype=float),
        s=14,
        color=color,
        alpha=0.65,
        linewidths=0,
        zorder=2,
    )


def rgb_image(image, where: str) -> np.ndarray:
    """``image`` as an array, checked to be uint8 H x W x 3 RGB (ValueError naming ``where``)."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"{where} must be a uint8 H x W x 3 RGB array; got dtype {array.dtype}, shape "
            f"{array.shape}. Convert with np.asarray(PIL.Image.open(path).convert('RGB'))."
        )
    return array
