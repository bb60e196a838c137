"""The attribution of one sample set as a figure: each attribute's corrected prevalence relative
to the baseline, with its bootstrap interval, the named under- and over-represented features in
colour (the rows of :func:`modedrop.attribution.attribution_table`).
"""

from __future__ import annotations

import os
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from modedrop.figure_style import pretty_attribute, save_figure, study_style

__all__ = ["NAMED_COLORS", "plot_attribution"]

#: Marker colour of a named feature (Okabe & Ito 2008 vermillion and blue) and of the others.
NAMED_COLORS = {"under": "#d55e00", "over": "#0072b2", "": "#8c8c8c"}

_REQUIRED = [
    "feature",
    "kind",
    "group",
    "measurable",
    "estimate",
    "ci_low",
    "ci_high",
    "baseline_prevalence",
    "ratio",
    "named",
]
_ROW_HEIGHT = 0.24


def _checked(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame; got {type(table).__name__}.")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"table lacks column(s) {missing}; pass the rows of "
            "modedrop.attribution.attribution_table."
        )
    frame = table.copy()
    frame["named"] = frame["named"].fillna("").astype(str)
    frame["group"] = frame["group"].fillna("").astype(str)
    frame["measurable"] = frame["measurable"].astype(bool)
    return frame


def _plotted(rows: pd.DataFrame, label) -> pd.DataFrame:
    """Measurable rows with a finite ratio, sorted by ratio, with their interval as ratios."""
    rows = rows[rows["measurable"] & np.isfinite(rows["ratio"].astype(float))].copy()
    base = rows["baseline_prevalence"].astype(float)
    rows["low"] = rows["ci_low"].astype(float) / base
    rows["high"] = rows["ci_high"].astype(float) / base
    rows["label"] = [label(r) for r in rows.itertuples()]
    return rows.sort_values("ratio", kind="stable").reset_index(drop=True)


def _draw(ax, rows: pd.DataFrame, what: str) -> None:
    if rows.empty:
        ax.text(0.5, 0.5, f"no measurable {what}", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return
    y = np.arange(len(rows))
    for named, color in NAMED_COLORS.items():
        part = rows["named"] == named
        if not part.any():
            continue
        ratio = rows.loc[part, "ratio"].to_numpy(float)
        error = np.vstack(
            [ratio - rows.loc[part, "low"].to_numpy(float), rows.loc[part, "high"] - ratio]
        )
        ax.errorbar(
            ratio,
            y[part.to_numpy()],
            xerr=np.clip(error, 0, None),
            fmt="o",
            color=color,
            markersize=5,
            markeredgecolor="black",
            markeredgewidth=0.4,
            elinewidth=1.2,
            capsize=2.5,
            zorder=3,
        )
    ax.axvline(1.0, color="black", linewidth=0.9, linestyle="--", zorder=1)
    ax.set_yticks(y, rows["label"])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    right = max(float(np.nanmax(rows["high"])), 1.0) * 1.05
    ax.set_xlim(-0.03 * right, right)  # 1 always shown; a ratio of 0 not cut by the axis
    ax.set_xlabel("corrected prevalence / baseline prevalence (bootstrap CI)")


def plot_attribution(
    table: pd.DataFrame, title: str, png_path: str | os.PathLike, pdf_path: str | os.PathLike
) -> None:
    """A dot plot of one sample set's attribution (an ``attribution_table``).

    Each measurable attribute's ``ratio`` (corrected prevalence / baseline prevalence) with its
    interval ``ci_low / baseline .. ci_high / baseline``, sorted by ratio, against a dashed
    line at 1 (no change); ``named`` ``under`` in vermillion, ``over`` in blue, the rest grey.
    Combinations of attributes, if the table has any, get a second panel; unmeasurable
    attributes are listed in a footnote. Written as PNG and PDF (:func:`save_figure`).
    """
    frame = _checked(table)
    attributes = _plotted(
        frame[frame["kind"] == "attribute"], lambda r: pretty_attribute(r.feature)
    )
    combos = frame[frame["kind"] == "combination"]
    several = combos["group"].nunique() > 1
    combinations = _plotted(
        combos, lambda r: f"{r.group}: {r.feature}" if several else str(r.feature)
    )
    unmeasurable = frame.loc[(frame["kind"] == "attribute") & ~frame["measurable"], "feature"]
    panels = [(attributes, "attributes")]
    if not combos.empty:
        panels.append((combinations, "combinations"))
    heights = [max(len(rows), 2) for rows, _ in panels]
    footnote = ""
    if len(unmeasurable):
        names = ", ".join(pretty_attribute(a) for a in unmeasurable)
        footnote = "\n".join(textwrap.wrap(f"Not measurable (probe too weak): {names}.", 110))
    foot_inches = 0.2 * (footnote.count("\n") + 1) + 0.3 if footnote else 0.2
    with study_style(0.8):
        fig, axes = plt.subplots(
            len(panels),
            1,
            figsize=(7.5, _ROW_HEIGHT * sum(heights) + 1.2 * len(panels) + 0.6 + foot_inches),
            squeeze=False,
            gridspec_kw={"height_ratios": heights},
        )
        for ax, (rows, what) in zip(axes[:, 0], panels, strict=True):
            _draw(ax, rows, what)
            ax.set_title(what, loc="left", fontsize="medium")
        handles = [
            Line2D(
                [], [], marker="o", linestyle="", color=color, markeredgecolor="black", label=text
            )
            for text, color in (
                ("under-represented", NAMED_COLORS["under"]),
                ("over-represented", NAMED_COLORS["over"]),
                ("not named", NAMED_COLORS[""]),
            )
        ]
        axes[0, 0].legend(handles=handles, loc="lower right", fontsize="small", frameon=True)
        fig.suptitle(title)
        if footnote:
            fig.text(0.01, 0.01, footnote, ha="left", va="bottom", fontsize="small")
        total = fig.get_figheight()
        fig.tight_layout(rect=(0, foot_inches / total, 1, 1))
        save_figure(fig, png_path, pdf_path)
