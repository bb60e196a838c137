"""Figures of the study: per-condition metric panels (seed Figures 2-5) and the known-rank check.

Headless (Agg backend) and deterministic: no random jitter (seed dots are offset by seed index),
and PDF/PNG metadata carry no creation date, so re-running gives byte-identical files for a given
matplotlib version.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from modedrop.stats import LONG_COLUMNS, condition_sort_key, summarize  # noqa: E402

__all__ = ["condition_tick_label", "plot_known_rank", "plot_metric_panels"]

_PNG_DPI = 150
_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
_CONDITION_COLORS = {
    "unbiased": "#4d4d4d",
    "target": "#0072b2",
    "nontarget": "#d55e00",
}


def _pretty(attribute: str) -> str:
    return str(attribute).replace("_", " ")


def condition_tick_label(condition: str, attributes: Sequence[str]) -> str:
    """Two-line x tick label saying what a condition means for the given target attributes."""
    attrs = [_pretty(a) for a in attributes]
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


def _save(fig: plt.Figure, png_path: str | os.PathLike, pdf_path: str | os.PathLike) -> None:
    for path in (png_path, pdf_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=_PNG_DPI, format="png", metadata=_PNG_METADATA)
    fig.savefig(pdf_path, format="pdf", metadata=_PDF_METADATA)
    plt.close(fig)


def _seed_text(seeds: Sequence, counts: np.ndarray, attributes: Sequence[str]) -> str:
    seeds = sorted(seeds)
    shown = ", ".join(str(s) for s in seeds)
    lo, hi = int(counts.min()), int(counts.max())
    n = f"n = {lo}" if lo == hi else f"n = {lo}\u2013{hi}"
    text = f"point: mean \u00b1 1 s.d. over {n} seeds ({shown}); small dots: one seed each"
    if len(attributes) > 1:
        text = "target attributes: " + ", ".join(_pretty(a) for a in attributes) + "\n" + text
    return text


def plot_metric_panels(
    long: pd.DataFrame,
    *,
    experiment: str,
    encoder: str,
    attributes: Sequence[str],
    metric_labels: Mapping[str, str],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
) -> None:
    """One panel per metric for (experiment, encoder): value per condition over seeds.

    ``long`` has the columns of :data:`modedrop.stats.LONG_COLUMNS`. Each panel shows, per
    condition (x, in :data:`CONDITION_ORDER`), the mean with a +/-1 s.d. error bar over seeds
    (point, not bar: a bar from zero would hide the small differences that matter) and each
    seed's value as a small dot. Panels are ordered as ``metric_labels`` (other metrics after,
    alphabetically); the y label is ``metric_labels[metric]`` (the metric name if absent).
    ``long`` must hold a single dataset for the pair (ValueError otherwise: filter it first).
    """
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

    summary = summarize(sub)
    present = list(dict.fromkeys(summary["metric"]))
    metrics = [m for m in metric_labels if m in present] + sorted(
        m for m in present if m not in metric_labels
    )
    conditions = list(
        pd.Series(summary["condition"].unique())
        .sort_values(key=condition_sort_key, kind="stable")
        .astype(str)
    )
    seeds = sorted(sub["seed"].unique())
    seed_offset = {
        s: o for s, o in zip(seeds, np.linspace(-0.14, 0.14, len(seeds)) + 0.16, strict=True)
    }
    if len(seeds) == 1:
        seed_offset = {seeds[0]: 0.16}

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        fig, axes = plt.subplots(
            1, len(metrics), figsize=(4.2 * len(metrics) + 0.4, 4.9), squeeze=False
        )
        for ax, metric in zip(axes[0], metrics, strict=True):
            s_metric = summary[summary["metric"] == metric].set_index("condition")
            v_metric = sub[sub["metric"] == metric]
            for x, cond in enumerate(conditions):
                color = _CONDITION_COLORS.get(cond, "#009e73")
                vals = v_metric[v_metric["condition"].astype(str) == cond]
                if cond not in s_metric.index or vals.empty:
                    continue
                row = s_metric.loc[cond]
                yerr = 0.0 if pd.isna(row["std"]) else float(row["std"])
                ax.errorbar(
                    x - 0.08,
                    float(row["mean"]),
                    yerr=yerr,
                    fmt="o",
                    color=color,
                    markersize=7,
                    markeredgecolor="black",
                    markeredgewidth=0.6,
                    elinewidth=1.6,
                    capsize=5,
                    zorder=3,
                )
                vals = vals.sort_values("seed")
                ax.scatter(
                    [x + seed_offset[s] for s in vals["seed"]],
                    vals["value"].to_numpy(dtype=float),
                    s=14,
                    color=color,
                    alpha=0.65,
                    linewidths=0,
                    zorder=2,
                )
            ax.set_xticks(range(len(conditions)))
            ax.set_xticklabels([condition_tick_label(c, attributes) for c in conditions])
            ax.set_xlim(-0.6, len(conditions) - 0.4)
            ax.set_ylabel(metric_labels.get(metric, metric))
            ax.set_title(metric_labels.get(metric, metric))
            ax.margins(y=0.15)
            ax.grid(axis="x", visible=False)

        fig.suptitle(f"{experiment} \u2014 {encoder}", fontsize=13, fontweight="bold", y=0.985)
        fig.text(
            0.5,
            0.93,
            _seed_text(seeds, summary["n"].to_numpy(), attributes),
            ha="center",
            va="top",
            fontsize=8.5,
            color="#444444",
            linespacing=1.4,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.87 if len(attributes) > 1 else 0.9))
    _save(fig, png_path, pdf_path)


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

    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9):
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
    _save(fig, png_path, pdf_path)


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
        on = [_pretty(a) for a in label_attributes if attributes.at[name, a] == 1]
        ax.set_title("\n".join(on) if on else "-", fontsize=6)
    fig.suptitle(f"{len(names)} random images; captions: attributes that are +1", fontsize=9)
    fig.tight_layout()
    _save(fig, png_path, pdf_path)
