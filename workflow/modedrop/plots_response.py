"""Dose-response and intra-mode collapse curves: every metric against how much of the target
mode was removed (or how much of the set collapsed to a few identities), one panel per metric,
one line per encoder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns

from modedrop.figure_style import ordered_metrics, panel_grid, save_figure, study_style
from modedrop.stats import LONG_COLUMNS, summarize

__all__ = ["plot_response"]


def _response_rows(
    long: pd.DataFrame,
    experiment: str,
    x_of: Mapping[str, float],
    labels: Mapping[str, str],
    worse: Mapping[str, str],
) -> tuple[pd.DataFrame, list[str]]:
    """The experiment's rows of the conditions in ``x_of`` and its metrics in panel order;
    ValueError naming what is missing."""
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(f"Missing column(s) {missing}; expected {list(LONG_COLUMNS)}.")
    if not x_of:
        raise ValueError(
            "x_of is empty; map each condition to plot to its dose, e.g. {'unbiased': 0}."
        )
    bad_x = {c: x for c, x in x_of.items() if not np.isfinite(np.asarray(x, dtype=float))}
    if bad_x:
        raise ValueError(f"x_of must map conditions to finite numbers; got {bad_x}.")
    sub = long[(long["experiment"] == experiment) & long["condition"].isin(list(x_of))]
    if sub.empty:
        raise ValueError(
            f"No rows for experiment={experiment!r} with conditions {list(x_of)}; experiments "
            f"present: {sorted(long['experiment'].astype(str).unique())}, conditions: "
            f"{sorted(long['condition'].astype(str).unique())}."
        )
    if sub["dataset"].nunique() > 1:
        raise ValueError(
            f"Rows for {experiment!r} come from several datasets {sorted(sub['dataset'].unique())};"
            " filter `long` to one dataset before plotting."
        )
    metrics = ordered_metrics(sub["metric"], labels)
    no_direction = [m for m in metrics if worse.get(m) not in ("higher", "lower")]
    if no_direction:
        raise ValueError(
            f"No worse direction ('higher' or 'lower') for metric(s) {no_direction}; pass it in "
            "`worse`."
        )
    return sub, metrics


def _encoder_shifts(encoders: list[str], step: float) -> dict[str, float]:
    """Encoders side by side around each dose, so that error bars do not hide each other."""
    if len(encoders) == 1:
        return {encoders[0]: 0.0}
    return {
        e: o for e, o in zip(encoders, np.linspace(-0.12, 0.12, len(encoders)) * step, strict=True)
    }


def _draw_encoder(ax, summary, values, x_of, shift: float, step: float, color, encoder) -> None:
    """One encoder's mean +/- 1 s.d. line over the doses and its seeds' dots."""
    summary = summary.sort_values("x")
    ax.errorbar(
        summary["x"] + shift,
        summary["mean"],
        yerr=summary["std"].fillna(0.0),
        color=color,
        marker="o",
        markersize=4.5,
        linewidth=1.4,
        elinewidth=1.1,
        capsize=3,
        label=encoder,
        zorder=3,
    )
    ax.scatter(
        values["condition"].map(x_of).astype(float) + shift + 0.04 * step,
        values["value"].astype(float),
        s=8,
        color=color,
        alpha=0.55,
        linewidths=0,
        zorder=2,
    )


def _header(fig, axes, title: str, n_encoders: int) -> None:
    """Title, a line on what is drawn and, for several encoders, their legend."""
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=12, fontweight="bold", y=1 - 0.08 / height)
    fig.text(
        0.5,
        1 - 0.42 / height,
        "line: mean \u00b1 1 s.d. over seeds; small dots: one seed each",
        ha="center",
        va="top",
        fontsize=8,
        color="#444444",
    )
    if n_encoders > 1:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - 0.62 / height),
            ncol=min(n_encoders, 6),
            fontsize=8,
            title="encoder",
            title_fontsize=8,
            frameon=False,
        )


def plot_response(
    long: pd.DataFrame,
    *,
    experiment: str,
    x_of: Mapping[str, float],
    xlabel: str,
    labels: Mapping[str, str],
    worse: Mapping[str, str],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    title: str | None = None,
) -> None:
    """Small multiples of metric value against a dose, one panel per metric.

    ``x_of`` maps condition -> x, e.g. ``{"unbiased": 0, "dose25": .25, "dose50": .5,
    "dose75": .75, "target": 1}`` (dose-response) or ``{"unbiased": 0, "collapse25": .25,
    "collapse50": .5}`` (intra-mode collapse); only rows of ``experiment`` and those conditions
    are drawn. Per encoder (colour-blind palette, several encoders share each panel): the mean
    +/- 1 s.d. over seeds as a line with error bars and each seed's value as a small dot.
    Panel titles are ``labels[metric]`` and say which way is worse (``worse[metric]``:
    "higher"/"lower"). ``long`` (columns :data:`LONG_COLUMNS`) must hold one dataset for the
    experiment.
    """
    sub, metrics = _response_rows(long, experiment, x_of, labels, worse)
    summary = summarize(sub)
    summary = summary.assign(x=summary["condition"].map(x_of).astype(float))
    encoders = sorted(sub["encoder"].astype(str).unique())
    palette = dict(zip(encoders, sns.color_palette("colorblind", len(encoders)), strict=True))
    xs = sorted({float(x_of[c]) for c in sub["condition"].unique()})
    step = min(np.diff(xs)) if len(xs) > 1 else 1.0
    shift = _encoder_shifts(encoders, step)
    tick_of = {float(x): c for c, x in x_of.items() if c in set(sub["condition"])}

    header = 0.75 if len(encoders) > 1 else 0.45
    with study_style(font_scale=0.8):
        fig, axes = panel_grid(len(metrics), width=3.9, height=3.4, header=header)
        for ax, metric in zip(axes, metrics, strict=True):
            for encoder in encoders:
                s = summary[(summary["metric"] == metric) & (summary["encoder"] == encoder)]
                if s.empty:
                    continue
                v = sub[(sub["metric"] == metric) & (sub["encoder"] == encoder)]
                _draw_encoder(ax, s, v, x_of, shift[encoder], step, palette[encoder], encoder)
            arrow = (
                "\u2191 higher is worse" if worse[metric] == "higher" else "\u2193 lower is worse"
            )
            ax.set_title(f"{labels.get(metric, metric)}\n({arrow})", fontsize=9.5)
            ax.set_xticks(list(tick_of), [f"{x:g}\n{c}" for x, c in tick_of.items()], fontsize=7.5)
            ax.set_xlabel(xlabel)
            ax.margins(x=0.08, y=0.12)
        _header(fig, axes, title or f"{experiment}: metric value against {xlabel}", len(encoders))
        fig.tight_layout(rect=(0, 0, 1, 1 - header / fig.get_figheight()))
    save_figure(fig, png_path, pdf_path)
