"""Figures of one experiment: the per-condition metric panels (the layout of Figures 2-5 of
Haratian (2024), *RankMe for Detecting Mode-Drop in Generative AI*), the known-rank check of
RankMe and a captioned sample of a data set's images. Style and file writing: :mod:`modedrop.figure_style`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from modedrop.figure_style import (
    CONDITION_COLORS,
    condition_tick_label,
    draw_mean_sd,
    draw_seed_dots,
    ordered_metrics,
    panel_grid,
    pretty_attribute,
    save_figure,
    seed_count_text,
    seed_offsets,
    study_style,
)
from modedrop.stats import CONDITION_ORDER, LONG_COLUMNS, condition_sort_key, summarize

__all__ = ["plot_image_sample", "plot_known_rank", "plot_metric_panels"]

_MAIN_CONDITIONS: tuple[str, ...] = CONDITION_ORDER[:3]
# Colour of a condition that CONDITION_COLORS lacks.
_OTHER_COLOR = "#009e73"


def _seed_text(seeds: Sequence, counts: pd.Series, attributes: Sequence[str]) -> str:
    seeds = sorted(seeds)
    shown = ", ".join(str(s) for s in seeds)
    n = seed_count_text(counts.to_numpy())
    text = f"point: mean \u00b1 1 s.d. over {n} seeds ({shown}); small dots: one seed each"
    if len(attributes) > 1:
        text = (
            "target attributes: " + ", ".join(pretty_attribute(a) for a in attributes) + "\n" + text
        )
    return text


def _pair_rows(long: pd.DataFrame, experiment: str, encoder: str, conditions) -> pd.DataFrame:
    """The rows of (experiment, encoder) and the wanted conditions; ValueError naming what is
    missing or ambiguous."""
    missing = [c for c in LONG_COLUMNS if c not in long.columns]
    if missing:
        raise ValueError(f"Missing column(s) {missing}; expected {list(LONG_COLUMNS)}.")
    sub = long[(long["experiment"] == experiment) & (long["encoder"] == encoder)]
    if sub.empty:
        pairs = sorted(
            {(str(e), str(c)) for e, c in zip(long["experiment"], long["encoder"], strict=True)}
        )
        raise ValueError(
            f"No rows for experiment={experiment!r}, encoder={encoder!r}. "
            f"Available (experiment, encoder) pairs: {pairs}."
        )
    datasets = sub["dataset"].unique()
    if len(datasets) > 1:
        raise ValueError(
            f"Rows for {experiment!r}/{encoder!r} come from several datasets {sorted(datasets)}; "
            "filter `long` to one dataset before plotting."
        )
    wanted = _MAIN_CONDITIONS if conditions is None else tuple(str(c) for c in conditions)
    present = sorted(sub["condition"].astype(str).unique())
    sub = sub[sub["condition"].astype(str).isin(wanted)]
    if sub.empty:
        raise ValueError(
            f"None of the conditions {list(wanted)} has rows for {experiment!r}/{encoder!r}; "
            f"present: {present}. Pass conditions=[...] from those."
        )
    return sub


def _draw_metric_panel(ax, summary, values, conditions, offsets, attributes, label) -> None:
    """One metric's panel: per condition the mean +/- 1 s.d. and the seeds' dots."""
    for x, cond in enumerate(conditions):
        color = CONDITION_COLORS.get(cond, _OTHER_COLOR)
        vals = values[values["condition"].astype(str) == cond]
        if cond not in summary.index or vals.empty:
            continue
        draw_mean_sd(ax, x - 0.08, summary.loc[cond], color)
        draw_seed_dots(ax, x, vals, offsets, color)
    ax.set_xticks(range(len(conditions)))
    ax.set_xticklabels([condition_tick_label(c, attributes) for c in conditions])
    ax.set_xlim(-0.6, len(conditions) - 0.4)
    ax.set_ylabel(label)
    ax.set_title(label)
    ax.margins(y=0.15)
    ax.grid(axis="x", visible=False)


def _header(fig, title: str, note: str) -> None:
    """Bold title and, under it, the grey note on seeds and target attributes."""
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - 0.1 / height)
    fig.text(
        0.5,
        1 - 0.45 / height,
        note,
        ha="center",
        va="top",
        fontsize=8.5,
        color="#444444",
        linespacing=1.4,
    )


def plot_metric_panels(
    long: pd.DataFrame,
    *,
    experiment: str,
    encoder: str,
    attributes: Sequence[str],
    metric_labels: Mapping[str, str],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    conditions: Sequence[str] | None = None,
) -> None:
    """One panel per metric for (experiment, encoder): value per condition over seeds.

    ``long`` has the columns of :data:`modedrop.stats.LONG_COLUMNS`. Each panel shows, per
    condition (x, in :data:`CONDITION_ORDER`), the mean with a +/-1 s.d. error bar over seeds
    (point, not bar: a bar from zero would hide the small differences that matter) and each
    seed's value as a small dot. Panels are ordered as ``metric_labels`` (other metrics after,
    alphabetically) and wrap after four per row; the y label is ``metric_labels[metric]`` (the
    metric name if absent). ``conditions`` selects the conditions shown; by default the three
    main ones (unbiased, target, nontarget), the layout of Haratian's (2024) Figures 2-5.
    ``long`` must hold a single dataset for the pair (ValueError otherwise: filter it first).
    """
    sub = _pair_rows(long, experiment, encoder, conditions)
    summary = summarize(sub)
    metrics = ordered_metrics(summary["metric"], metric_labels)
    conditions = list(
        pd.Series(summary["condition"].unique())
        .sort_values(key=condition_sort_key, kind="stable")
        .astype(str)
    )
    seeds = sorted(sub["seed"].unique())
    offsets = seed_offsets(seeds)

    header = 0.8 if len(attributes) > 1 else 0.55
    with study_style(font_scale=0.85):
        fig, axes = panel_grid(
            len(metrics), width=max(4.2, 0.75 * len(conditions) + 1.2), height=4.3, header=header
        )
        for ax, metric in zip(axes, metrics, strict=True):
            _draw_metric_panel(
                ax,
                summary[summary["metric"] == metric].set_index("condition"),
                sub[sub["metric"] == metric],
                conditions,
                offsets,
                attributes,
                metric_labels.get(metric, metric),
            )
        _header(fig, f"{experiment} \u2014 {encoder}", _seed_text(seeds, summary["n"], attributes))
        fig.tight_layout(rect=(0, 0, 1, 1 - header / fig.get_figheight()))
    save_figure(fig, png_path, pdf_path)


# --------------------------------------------------------------------------- known rank, sample


def plot_known_rank(
    df: pd.DataFrame, png_path: str | os.PathLike, pdf_path: str | os.PathLike
) -> None:
    """RankMe versus number of samples (log x), one line per true rank (mean +/- 1 s.d. over
    repeats), with a dashed horizontal line at each true rank. ``df`` as returned by
    :func:`modedrop.known_rank.known_rank_study`."""
    required = ["true_rank", "n_samples", "repeat", "rankme"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"Missing column(s) {missing}; expected the output of known_rank_study() with "
            f"columns {required}."
        )
    if df.empty:
        raise ValueError("Empty known-rank table; run known_rank_study() with at least one rank.")
    agg = (
        df.groupby(["true_rank", "n_samples"])["rankme"]
        .agg(mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else 0.0)
        .reset_index()
        .sort_values(["true_rank", "n_samples"])
    )
    ranks = sorted(agg["true_rank"].unique())
    palette = sns.color_palette("colorblind", n_colors=max(len(ranks), 1))
    repeats = int(df.groupby(["true_rank", "n_samples"]).size().max())

    with study_style(font_scale=0.9):
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        for color, rank in zip(palette, ranks, strict=True):
            a = agg[agg["true_rank"] == rank]
            x = a["n_samples"].to_numpy(dtype=float)
            m = a["mean"].to_numpy(dtype=float)
            sd = a["std"].fillna(0.0).to_numpy(dtype=float)
            ax.axhline(rank, color=color, linestyle="--", linewidth=1.0, alpha=0.8, zorder=1)
            ax.fill_between(x, m - sd, m + sd, color=color, alpha=0.2, linewidth=0, zorder=2)
            ax.plot(
                x, m, marker="o", markersize=4, color=color, label=f"true rank {rank}", zorder=3
            )
        ax.set_xscale("log")
        ax.set_xlabel("number of samples n (log scale)")
        ax.set_ylabel("RankMe")
        ax.set_ylim(bottom=0)
        ax.set_title(
            "RankMe of random rank-r matrices converges to r\n"
            f"(mean \u00b1 1 s.d. over {repeats} repeats; dashed: true rank)",
            fontsize=10,
        )
        ax.legend(loc="upper left", fontsize=8, frameon=True)
        fig.tight_layout()
    save_figure(fig, png_path, pdf_path)


def _unchanged(image):
    return image


def plot_image_sample(
    image_dir: str | os.PathLike,
    attributes: pd.DataFrame,
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    *,
    n: int = 24,
    columns: int = 8,
    seed: int = 0,
    label_attributes: Sequence[str] = ("Male", "Young", "Smiling", "Eyeglasses", "Wearing_Hat"),
) -> None:
    """A grid of ``n`` random images of a data set, each captioned with the listed attributes
    that are +1 for it - to see what the encoders are fed. ``image_dir`` may be a folder or
    a zip of one (read in place)."""
    from modedrop.data.images import ImageList

    if n < 1 or columns < 1:
        raise ValueError(f"n and columns must be positive; got n={n}, columns={columns}")
    rng = np.random.default_rng(seed)
    names = sorted(
        rng.choice(attributes.index.to_numpy(), size=min(n, len(attributes)), replace=False)
    )
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.75 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    images = ImageList(image_dir, names, transform=_unchanged)
    for index, (ax, name) in enumerate(zip(axes.flat, names, strict=False)):
        ax.imshow(images[index].permute(1, 2, 0).numpy())
        on = [pretty_attribute(a) for a in label_attributes if attributes.at[name, a] == 1]
        ax.set_title("\n".join(on) if on else "-", fontsize=6)
    fig.suptitle(f"{len(names)} random images; captions: attributes that are +1", fontsize=9)
    fig.tight_layout()
    save_figure(fig, png_path, pdf_path)
