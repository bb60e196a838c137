"""NDB bin proportions: the reference's share of each K-means bin against each evaluated
condition's, significantly different bins marked (Richardson & Weiss, *On GANs and GMMs*, 2018;
the bins of :mod:`modedrop.metrics.ndb`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from modedrop.figure_style import save_figure, study_style

__all__ = ["plot_ndb_bins"]

_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">")


def _proportions(values, name: str, size: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one value per bin).")
    if size is not None and array.size != size:
        raise ValueError(
            f"{name} has {array.size} bins but reference_proportions has {size}; both must "
            "come from the same NDB binning."
        )
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must be finite and non-negative (bin proportions).")
    return array


def _checked_series(evaluated: Mapping[str, tuple], k: int) -> dict[str, tuple]:
    """``evaluated`` as {condition: (proportions, significant)}, each checked to have k bins."""
    if not evaluated:
        raise ValueError("evaluated is empty; pass {condition: (proportions, significant)}.")
    if len(evaluated) > len(_MARKERS):
        raise ValueError(
            f"At most {len(_MARKERS)} conditions fit one figure; got {len(evaluated)}."
        )
    series = {}
    for condition, pair in evaluated.items():
        if len(pair) != 2:
            raise ValueError(f"evaluated[{condition!r}] must be a (proportions, significant) pair.")
        proportions = _proportions(pair[0], f"proportions of {condition!r}", k)
        significant = np.asarray(pair[1])
        if significant.dtype != bool or significant.shape != (k,):
            raise ValueError(
                f"significant of {condition!r} must be a boolean array of {k} bins; got dtype "
                f"{significant.dtype}, shape {significant.shape}."
            )
        series[str(condition)] = (proportions, significant)
    return series


def _draw_condition(ax, x, p, sig, color, marker, label: str) -> None:
    """One condition's proportions: a thin line, small open markers where they match the
    reference, large filled ones where they differ significantly."""
    ax.plot(x, p, color=color, linewidth=0.7, alpha=0.6, zorder=2)
    ax.scatter(
        x[~sig],
        p[~sig],
        s=14,
        marker=marker,
        facecolors="none",
        edgecolors=color,
        linewidths=0.8,
        zorder=3,
    )
    ax.scatter(
        x[sig],
        p[sig],
        s=34,
        marker=marker,
        color=color,
        edgecolors="black",
        linewidths=0.5,
        zorder=4,
        label=label,
    )


def _label_axes(ax, x: np.ndarray, k: int, title: str) -> None:
    tick_step = 1 if k <= 30 else 5 if k <= 100 else 10
    ax.set_xticks(x[tick_step - 1 :: tick_step] if tick_step > 1 else x)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlim(0.3, k + 0.7)
    ax.set_xlabel("bin (K-means cell of the reference), sorted by reference proportion")
    ax.set_ylabel("proportion of images in the bin")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"{title}\nfilled marker: proportion significantly different from the reference; open: not",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=8, frameon=True)


def plot_ndb_bins(
    reference_proportions,
    evaluated: Mapping[str, tuple],
    *,
    title: str,
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
) -> None:
    """NDB bin proportions: reference as bars, each evaluated condition as a marker series.

    Bins (K of them, as binned by :mod:`modedrop.metrics.ndb`, Richardson & Weiss 2018) are
    sorted by reference proportion, largest first. ``evaluated`` maps a condition name to
    ``(proportions, significant)``, two length-K arrays; bins whose proportion differs
    significantly from the reference are drawn as large filled markers, the others as small
    open ones, and the legend counts them. The width grows with K (100 bins stay readable).
    """
    reference = _proportions(reference_proportions, "reference_proportions")
    k = reference.size
    series = _checked_series(evaluated, k)
    order = np.argsort(-reference, kind="stable")
    x = np.arange(1, k + 1)
    palette = sns.color_palette("colorblind", len(series))
    with study_style(font_scale=0.85):
        fig, ax = plt.subplots(figsize=(max(7.0, 2.0 + 0.13 * k), 4.8))
        ax.bar(x, reference[order], width=0.8, color="#bdbdbd", label="reference", zorder=1)
        for (condition, (proportions, significant)), color, marker in zip(
            series.items(), palette, _MARKERS, strict=False
        ):
            sig = significant[order]
            label = f"{condition} ({int(sig.sum())}/{k} bins differ)"
            _draw_condition(ax, x, proportions[order], sig, color, marker, label)
        _label_axes(ax, x, k, title)
        fig.tight_layout()
    save_figure(fig, png_path, pdf_path)
