"""The detection heatmap: Hedges' g of every metric (rows) against every biased condition of
every experiment (columns), with the detections and the significant changes in the better
direction marked (the table of :func:`modedrop.stats.detection_table`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from modedrop.figure_style import ordered_metrics, save_figure
from modedrop.stats import condition_sort_key

__all__ = ["plot_detection_heatmap"]

#: Hedges' g beyond this magnitude gets the extreme colour (the annotation keeps the value).
_G_CLIP = 8.0
_DETECTION_REQUIRED = (
    "experiment",
    "encoder",
    "metric",
    "condition",
    "hedges_g",
    "detected",
    "wrong_direction",
)
_CELL_KEYS = ["metric", "encoder", "experiment", "condition"]
# Cell size in inches, kept whatever the number of cells.
_CELL_W, _CELL_H = 0.55, 0.34


def _g_text(g: float) -> str:
    if math.isnan(g):
        return "n/a"
    if math.isinf(g):
        return "+\u221e" if g > 0 else "\u2212\u221e"
    return f"{g:.1f}".replace("-", "\u2212")


def _checked_detection(detection: pd.DataFrame, conditions) -> pd.DataFrame:
    """The rows to draw (of ``conditions`` if given); ValueError when the table is unusable."""
    if not isinstance(detection, pd.DataFrame):
        raise ValueError(f"Expected the detection DataFrame, got {type(detection).__name__}.")
    missing = [c for c in _DETECTION_REQUIRED if c not in detection.columns]
    if missing:
        raise ValueError(
            f"Missing column(s) {missing}; pass the output of modedrop.stats.detection_table()."
        )
    if "dataset" in detection.columns and detection["dataset"].nunique() > 1:
        raise ValueError(
            f"The detection table holds several datasets {sorted(detection['dataset'].unique())};"
            " plot one at a time (filter on 'dataset')."
        )
    if conditions is not None:
        detection = detection[detection["condition"].astype(str).isin([str(c) for c in conditions])]
    if detection.empty:
        raise ValueError(
            "No rows to plot: the detection table is empty (or has none of the requested "
            f"conditions {list(conditions) if conditions is not None else []})."
        )
    if detection.duplicated(subset=_CELL_KEYS).any():
        raise ValueError(
            "Several rows for the same (metric, encoder, experiment, condition) cell; pass one "
            "dataset's detection table without duplicates."
        )
    return detection


def _heatmap_axes(detection: pd.DataFrame, labels: Mapping[str, str], conditions):
    """Row keys (metric, encoder), column keys (experiment, condition) and their labels."""
    encoders = sorted(detection["encoder"].astype(str).unique())
    rows = [
        (metric, encoder)
        for metric in ordered_metrics(detection["metric"], labels)
        for encoder in encoders
        if ((detection["metric"] == metric) & (detection["encoder"] == encoder)).any()
    ]
    row_labels = [
        labels.get(m, m) + (f"  \u00b7  {e}" if len(encoders) > 1 else "") for m, e in rows
    ]
    present = pd.Series(detection["condition"].astype(str).unique())
    order = (
        list(present.sort_values(key=condition_sort_key, kind="stable"))
        if conditions is None
        else [str(c) for c in conditions]
    )
    columns = [
        (experiment, condition)
        for experiment in sorted(detection["experiment"].astype(str).unique())
        for condition in order
        if ((detection["experiment"] == experiment) & (detection["condition"] == condition)).any()
    ]
    return rows, row_labels, columns


def _cell_values(detection: pd.DataFrame, rows, columns):
    """Hedges' g (NaN where no row), detected and wrong-direction flags, rows x columns."""
    cells = detection.set_index(_CELL_KEYS)
    g = np.full((len(rows), len(columns)), np.nan)
    detected = np.zeros(g.shape, dtype=bool)
    wrong = np.zeros(g.shape, dtype=bool)
    for i, (metric, encoder) in enumerate(rows):
        for j, (experiment, condition) in enumerate(columns):
            key = (metric, encoder, experiment, condition)
            if key in cells.index:
                cell = cells.loc[key]
                g[i, j] = float(cell["hedges_g"])
                detected[i, j] = bool(cell["detected"])
                wrong[i, j] = bool(cell["wrong_direction"])
    return g, detected, wrong


def _heatmap_figure(row_labels: Sequence[str], n_columns: int):
    """Figure, heatmap axes and colour-bar axes, laid out in inches around fixed-size cells."""
    n_rows = len(row_labels)
    left = 0.6 + 0.068 * max(len(t) for t in row_labels)
    right, top, bottom = 1.5, 0.85, 1.75
    width = left + _CELL_W * n_columns + right
    height = top + _CELL_H * n_rows + bottom
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes(
        (left / width, bottom / height, _CELL_W * n_columns / width, _CELL_H * n_rows / height)
    )
    cax = fig.add_axes(
        ((width - right + 0.25) / width, bottom / height, 0.18 / width, _CELL_H * n_rows / height)
    )
    return fig, ax, cax


def _draw_g(fig, ax, cax, g: np.ndarray) -> None:
    """The clipped g as a diverging colour map (grey where NaN) with its colour bar."""
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d9d9d9")
    clipped = np.ma.masked_invalid(np.clip(g, -_G_CLIP, _G_CLIP))
    mesh = ax.pcolormesh(clipped, cmap=cmap, vmin=-_G_CLIP, vmax=_G_CLIP)
    colorbar = fig.colorbar(mesh, cax=cax)
    colorbar.set_label(f"Hedges' g (positive = worse), clipped to \u00b1{_G_CLIP:g}")


def _annotate_cells(ax, g: np.ndarray, detected: np.ndarray, wrong: np.ndarray) -> None:
    """Each cell's g as text; a bold box and "*" if detected, a dashed box and "\u2020" if it
    moved significantly in the better direction."""
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            value = g[i, j]
            mark = "*" if detected[i, j] else ("\u2020" if wrong[i, j] else "")
            dark = not math.isnan(value) and abs(max(-_G_CLIP, min(_G_CLIP, value))) > 5
            ax.text(
                j + 0.5,
                i + 0.5,
                _g_text(value) + mark,
                ha="center",
                va="center",
                fontsize=7,
                fontweight="bold" if detected[i, j] else "normal",
                color="white" if dark else "black",
            )
            if detected[i, j] or wrong[i, j]:
                ax.add_patch(
                    Rectangle(
                        (j + 0.06, i + 0.08),
                        0.88,
                        0.84,
                        fill=False,
                        edgecolor="black",
                        linewidth=1.6 if detected[i, j] else 1.0,
                        linestyle="-" if detected[i, j] else "--",
                    )
                )


def _label_axes(ax, row_labels: Sequence[str], columns) -> None:
    """Metric rows on the left, conditions below, each experiment named on top of its group."""
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(row_labels), 0)
    ax.set_yticks(np.arange(len(row_labels)) + 0.5, row_labels, fontsize=8)
    ax.set_xticks(np.arange(len(columns)) + 0.5, [c for _, c in columns], rotation=90, fontsize=8)
    ax.tick_params(length=0)
    experiments = list(dict.fromkeys(e for e, _ in columns))
    for experiment in experiments:
        span = [j for j, (e, _) in enumerate(columns) if e == experiment]
        ax.text(
            (span[0] + span[-1] + 1) / 2,
            -0.25,
            experiment,
            ha="center",
            va="bottom",
            fontsize=8.5,
            fontweight="bold",
            rotation=0 if len(span) * _CELL_W >= 0.08 * len(experiment) else 45,
        )
        if span[0] > 0:
            ax.axvline(span[0], color="black", linewidth=1.2)
    ax.set_xlabel("condition (grouped by experiment, named on top)", fontsize=8.5)


def _title_and_footnote(fig, title: str | None, alpha: float) -> None:
    height = fig.get_figheight()
    fig.suptitle(
        title or "Which metric detects which dropped mode (condition vs unbiased, over seeds)",
        fontsize=11,
        fontweight="bold",
        y=1 - 0.12 / height,
    )
    footnote = (
        f"* / bold box: detected (one-sided Welch test in the worse direction, Holm-adjusted "
        f"over all comparisons of the dataset, p < {alpha:g}, and g > 0).\n"
        f"\u2020 / dashed box: significant change in the better direction (two-sided, Holm "
        f"p < {alpha:g}, g < 0).  Grey n/a: fewer than 2 seeds."
    )
    fig.text(0.01, 0.1 / height, footnote, ha="left", va="bottom", fontsize=7.5, wrap=True)


def plot_detection_heatmap(
    detection: pd.DataFrame,
    *,
    labels: Mapping[str, str],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    conditions: Sequence[str] | None = None,
    alpha: float = 0.05,
    title: str | None = None,
) -> None:
    """Heatmap of the detection table: which metric detects which dropped mode.

    ``detection`` is the output of :func:`modedrop.stats.detection_table` for one dataset.
    Rows: metrics (``labels[metric]`` if present, in the order of ``labels``), times encoders
    when there are several; columns: experiment (grouped, labelled on top) times condition
    (``conditions`` selects and orders them; default all, in the study's order). Colour:
    Hedges' g on a colour-blind-safe diverging map (ColorBrewer RdBu) centred at 0, clipped to
    +-8 (infinite g gets the end colour); each cell is annotated with g to one decimal,
    "*" and a bold box where the metric detected the condition, "\u2020" and a dashed box
    where it moved significantly in the better direction; "n/a" cells (grey) had too few seeds.
    ``alpha`` is only quoted in the footnote (use the one given to ``detection_table``). The
    figure grows with the number of rows and columns (about 0.34 x 0.55 inch per cell).
    """
    detection = _checked_detection(detection, conditions)
    rows, row_labels, columns = _heatmap_axes(detection, labels, conditions)
    g, detected, wrong = _cell_values(detection, rows, columns)
    fig, ax, cax = _heatmap_figure(row_labels, len(columns))
    _draw_g(fig, ax, cax, g)
    _annotate_cells(ax, g, detected, wrong)
    _label_axes(ax, row_labels, columns)
    _title_and_footnote(fig, title, alpha)
    save_figure(fig, png_path, pdf_path)
