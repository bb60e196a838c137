"""The figures of Haratian (2024), "RankMe for Detecting Mode-Drop in Generative AI", redrawn.

Haratian's Figures 2-5 show, for one experiment (one dropped attribute, "Male", or three,
"Attractive", "High Cheekbones", "Young") and one self-supervised encoder (VicReg or Dino), two
panels side by side: "<Encoder> + RankMe" and "<Encoder> + IS", the Inception-Score formula
applied to the encoder's own features (softmax over the feature dimensions; the study's metric
family ``inception_score_features``). Each panel has the three data sets unbiased, target and
nontarget on x and the score over the seeds on y.

:func:`paper_figure` builds that figure from the study's long table (``tables/metrics.csv``),
:func:`plot_paper_figure` also writes it as PNG and PDF. The drawing conventions (colours,
condition tick labels, mean +/- 1 s.d. with each seed as a dot, deterministic files) are those
of :mod:`modedrop.figure_style`, shared with :mod:`modedrop.plots`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from modedrop.figure_style import (
    CONDITION_COLORS,
    condition_tick_label,
    draw_mean_sd,
    draw_seed_dots,
    pretty_attribute,
    save_figure,
    seed_count_text,
    seed_offsets,
    study_style,
)
from modedrop.stats import LONG_COLUMNS, summarize

__all__ = [
    "PAPER_CONDITIONS",
    "PAPER_METRICS",
    "encoder_label",
    "paper_figure",
    "plot_paper_figure",
]

#: Haratian's three data sets, in the order of the x axis.
PAPER_CONDITIONS: tuple[str, ...] = ("unbiased", "target", "nontarget")

#: The two panels, left to right: metric (long table) -> (title suffix, y-axis label).
PAPER_METRICS: dict[str, tuple[str, str]] = {
    "rankme": ("RankMe", "RankMe (effective rank)"),
    "inception_score_features": ("IS", "IS on the encoder's features"),
}

# Encoder names as the papers write them; other encoders keep their registry name.
_ENCODER_LABELS = {
    "vicreg_resnet50": "VicReg",
    "dino_resnet50": "Dino",
    "efficientnet_lite0": "EfficientNet-Lite0",
    "inception_v3": "Inception-v3",
    "inception_v3_torchvision": "Inception-v3 (torchvision)",
}


def encoder_label(encoder: str) -> str:
    """The encoder's name in panel titles: "VicReg", "Dino", ... (the registry name otherwise)."""
    return _ENCODER_LABELS.get(str(encoder), str(encoder))


def _rows(long: pd.DataFrame, experiment: str, encoder: str) -> pd.DataFrame:
    """The pair's rows of the two metrics and three conditions; ValueError naming what is missing."""
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(f"Missing column(s) {missing}; expected {list(LONG_COLUMNS)}.")
    pair = long[(long["experiment"] == experiment) & (long["encoder"] == encoder)]
    if pair.empty:
        pairs = sorted(
            {(str(e), str(c)) for e, c in zip(long["experiment"], long["encoder"], strict=True)}
        )
        raise ValueError(
            f"No rows for experiment={experiment!r}, encoder={encoder!r}. "
            f"Available (experiment, encoder) pairs: {pairs}."
        )
    if pair["dataset"].nunique() > 1:
        raise ValueError(
            f"Rows for {experiment!r}/{encoder!r} come from several datasets "
            f"{sorted(pair['dataset'].astype(str).unique())}; filter the table to one dataset "
            "before plotting."
        )
    present = sorted(pair["metric"].astype(str).unique())
    absent = [m for m in PAPER_METRICS if m not in present]
    if absent:
        raise ValueError(
            f"Metric(s) {absent} have no rows for experiment={experiment!r}, "
            f"encoder={encoder!r} (metrics present: {present}). The paper figure needs both "
            f"{list(PAPER_METRICS)}: score the encoder with both families (config: "
            "metrics.rankme.encoders and metrics.inception_score_features.encoders)."
        )
    sub = pair[pair["metric"].isin(list(PAPER_METRICS))]
    sub = sub[sub["condition"].astype(str).isin(PAPER_CONDITIONS)]
    for metric in PAPER_METRICS:
        have = set(sub.loc[sub["metric"] == metric, "condition"].astype(str))
        lacking = [c for c in PAPER_CONDITIONS if c not in have]
        if lacking:
            raise ValueError(
                f"Metric {metric!r} has no rows for condition(s) {lacking} of "
                f"{experiment!r}/{encoder!r}; the paper figure shows {list(PAPER_CONDITIONS)}."
            )
    return sub


def _draw_panel(ax, summary: pd.DataFrame, values: pd.DataFrame, metric: str, offsets) -> None:
    """Per condition, the metric's mean +/- 1 s.d. and each seed's dot."""
    for x, condition in enumerate(PAPER_CONDITIONS):
        color = CONDITION_COLORS[condition]
        draw_mean_sd(ax, x - 0.08, summary.loc[(metric, condition)], color)
        draw_seed_dots(ax, x, values[values["condition"].astype(str) == condition], offsets, color)


def _header(fig, experiment: str, name: str, attributes: list[str], seeds, counts) -> None:
    """Title naming the experiment, its dropped attributes and the encoder; a line on seeds."""
    height = fig.get_figheight()
    k = len(attributes)
    dropped = ", ".join(pretty_attribute(a) for a in attributes) or "none"
    fig.suptitle(
        f"{experiment}: {k} attribute{'s' if k != 1 else ''} dropped ({dropped}) \u2014 {name}",
        fontsize=12,
        fontweight="bold",
        y=1 - 0.1 / height,
    )
    fig.text(
        0.5,
        1 - 0.42 / height,
        f"point: mean \u00b1 1 s.d. over {seed_count_text(counts)} seeds "
        f"({', '.join(str(s) for s in seeds)}); "
        "small dots: one seed each. Higher is more diverse for both scores.",
        ha="center",
        va="top",
        fontsize=8,
        color="#444444",
    )


def paper_figure(
    long: pd.DataFrame,
    *,
    experiment: str,
    encoder: str,
    attributes: Sequence[str],
) -> plt.Figure:
    """Haratian's two-panel figure for (experiment, encoder), returned (not saved).

    ``long`` has the columns of :data:`modedrop.stats.LONG_COLUMNS` (one row per metric value
    and seed; other experiments, encoders, metrics and conditions are ignored) and must hold one
    dataset for the pair. Left panel "<Encoder> + RankMe" (metric ``rankme``), right panel
    "<Encoder> + IS" (``inception_score_features``); x: unbiased, target, nontarget, labelled
    with what they mean for ``attributes`` (the experiment's dropped attributes); y: mean +/- 1
    s.d. (ddof=1) over seeds, each seed's value as a small dot. The title names the experiment
    and its dropped attributes. ValueError when a metric or a condition has no rows.
    """
    sub = _rows(long, experiment, encoder)
    summary = summarize(sub).set_index(["metric", "condition"])
    seeds = sorted(sub["seed"].unique())
    offsets = seed_offsets(seeds)
    name = encoder_label(encoder)
    attributes = [str(a) for a in attributes]

    with study_style(font_scale=0.85):
        fig, axes = plt.subplots(1, len(PAPER_METRICS), figsize=(9.6, 5.0), squeeze=False)
        for ax, (metric, (short, ylabel)) in zip(axes[0], PAPER_METRICS.items(), strict=True):
            _draw_panel(ax, summary, sub[sub["metric"] == metric], metric, offsets)
            ax.set_xticks(range(len(PAPER_CONDITIONS)))
            ax.set_xticklabels([condition_tick_label(c, attributes) for c in PAPER_CONDITIONS])
            ax.set_xlim(-0.6, len(PAPER_CONDITIONS) - 0.4)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{name} + {short}", fontweight="bold")
            ax.margins(y=0.15)
            ax.grid(axis="x", visible=False)
        _header(fig, experiment, name, attributes, seeds, summary["n"].to_numpy())
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    return fig


def plot_paper_figure(
    long: pd.DataFrame,
    *,
    experiment: str,
    encoder: str,
    attributes: Sequence[str],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
) -> None:
    """:func:`paper_figure`, written to ``png_path`` and ``pdf_path`` (folders created)."""
    fig = paper_figure(long, experiment=experiment, encoder=encoder, attributes=attributes)
    save_figure(fig, png_path, pdf_path)
