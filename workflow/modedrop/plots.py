"""Figures of the study: per-condition metric panels (seed Figures 2-5), the known-rank check,
the detection heatmap, dose-response / collapse curves, NDB bin proportions and near-duplicate
pairs.

Headless (Agg backend) and deterministic: no random jitter (seed dots are offset by seed index),
and PDF/PNG metadata carry no creation date, so re-running gives byte-identical files for a given
matplotlib version.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from modedrop.stats import (  # noqa: E402
    CONDITION_ORDER,
    LONG_COLUMNS,
    condition_sort_key,
    summarize,
)

__all__ = [
    "condition_tick_label",
    "plot_detection_heatmap",
    "plot_duplicate_pairs",
    "plot_image_sample",
    "plot_known_rank",
    "plot_metric_panels",
    "plot_ndb_bins",
    "plot_response",
]

_PNG_DPI = 150
_PNG_METADATA = {"Software": None}
_PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
# Okabe & Ito (2008) colour-blind-safe palette (plus Tol's wine for a fifth extra condition).
_CONDITION_COLORS = {
    "unbiased": "#4d4d4d",
    "target": "#0072b2",
    "nontarget": "#d55e00",
    "dose25": "#56b4e9",
    "dose50": "#009e73",
    "dose75": "#cc79a7",
    "collapse25": "#e69f00",
    "collapse50": "#882255",
}
_MAIN_CONDITIONS: tuple[str, ...] = CONDITION_ORDER[:3]
_PANEL_COLUMNS = 4


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


def _ordered_metrics(present, labels: Mapping[str, str]) -> list[str]:
    """Metrics in the order of ``labels``, then the unlabelled ones alphabetically."""
    present = {str(m) for m in present}
    return [m for m in labels if m in present] + sorted(present - set(labels))


def _panel_grid(n_panels: int, width: float, height: float, header: float):
    """A wrapping grid of ``n_panels`` axes (at most :data:`_PANEL_COLUMNS` per row), with
    ``header`` inches left free at the top; unused axes are hidden."""
    columns = min(n_panels, _PANEL_COLUMNS)
    rows = math.ceil(n_panels / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns + 0.4, height * rows + header), squeeze=False
    )
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


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
    main ones (unbiased, target, nontarget), the layout of the seed paper's Figures 2-5.
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
    wanted = _MAIN_CONDITIONS if conditions is None else tuple(str(c) for c in conditions)
    present = sorted(sub["condition"].astype(str).unique())
    sub = sub[sub["condition"].astype(str).isin(wanted)]
    if sub.empty:
        raise ValueError(
            f"None of the conditions {list(wanted)} has rows for {experiment!r}/{encoder!r}; "
            f"present: {present}. Pass conditions=[...] from those."
        )

    summary = summarize(sub)
    metrics = _ordered_metrics(summary["metric"], metric_labels)
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

    header = 0.8 if len(attributes) > 1 else 0.55
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        fig, axes = _panel_grid(
            len(metrics), width=max(4.2, 0.75 * len(conditions) + 1.2), height=4.3, header=header
        )
        for ax, metric in zip(axes, metrics, strict=True):
            s_metric = summary[summary["metric"] == metric].set_index("condition")
            v_metric = sub[sub["metric"] == metric]
            for x, cond in enumerate(conditions):
                color = _CONDITION_COLORS.get(cond, "#009e73")
                vals = v_metric[v_metric["condition"].astype(str) == cond]
                if cond not in s_metric.index or vals.empty:
                    continue
                row = s_metric.loc[cond]
                draw_mean_sd(ax, x - 0.08, row, color)
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

        height = fig.get_figheight()
        fig.suptitle(
            f"{experiment} \u2014 {encoder}", fontsize=13, fontweight="bold", y=1 - 0.1 / height
        )
        fig.text(
            0.5,
            1 - 0.45 / height,
            _seed_text(seeds, summary["n"].to_numpy(), attributes),
            ha="center",
            va="top",
            fontsize=8.5,
            color="#444444",
            linespacing=1.4,
        )
        fig.tight_layout(rect=(0, 0, 1, 1 - header / height))
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


# --------------------------------------------------------------------------- detection heatmap

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


def _g_text(g: float) -> str:
    if math.isnan(g):
        return "n/a"
    if math.isinf(g):
        return "+\u221e" if g > 0 else "\u2212\u221e"
    return f"{g:.1f}".replace("-", "\u2212")


def _heatmap_axes(detection: pd.DataFrame, labels: Mapping[str, str], conditions):
    """Row keys (metric, encoder), column keys (experiment, condition) and their labels."""
    encoders = sorted(detection["encoder"].astype(str).unique())
    rows = [
        (metric, encoder)
        for metric in _ordered_metrics(detection["metric"], labels)
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
    cell_keys = ["metric", "encoder", "experiment", "condition"]
    if detection.duplicated(subset=cell_keys).any():
        raise ValueError(
            "Several rows for the same (metric, encoder, experiment, condition) cell; pass one "
            "dataset's detection table without duplicates."
        )

    rows, row_labels, columns = _heatmap_axes(detection, labels, conditions)
    cells = detection.set_index(cell_keys)
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

    # Layout in inches so that cells keep their size whatever their number.
    cell_w, cell_h = 0.55, 0.34
    left = 0.6 + 0.068 * max(len(t) for t in row_labels)
    right, top, bottom = 1.5, 0.85, 1.75
    width = left + cell_w * len(columns) + right
    height = top + cell_h * len(rows) + bottom
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes(
        (left / width, bottom / height, cell_w * len(columns) / width, cell_h * len(rows) / height)
    )
    cax = fig.add_axes(
        ((width - right + 0.25) / width, bottom / height, 0.18 / width, cell_h * len(rows) / height)
    )
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d9d9d9")
    clipped = np.ma.masked_invalid(np.clip(g, -_G_CLIP, _G_CLIP))
    mesh = ax.pcolormesh(clipped, cmap=cmap, vmin=-_G_CLIP, vmax=_G_CLIP)
    colorbar = fig.colorbar(mesh, cax=cax)
    colorbar.set_label(f"Hedges' g (positive = worse), clipped to \u00b1{_G_CLIP:g}")

    for i in range(len(rows)):
        for j in range(len(columns)):
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

    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_yticks(np.arange(len(rows)) + 0.5, row_labels, fontsize=8)
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
            rotation=0 if len(span) * cell_w >= 0.08 * len(experiment) else 45,
        )
        if span[0] > 0:
            ax.axvline(span[0], color="black", linewidth=1.2)
    ax.set_xlabel("condition (grouped by experiment, named on top)", fontsize=8.5)

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
    _save(fig, png_path, pdf_path)


# --------------------------------------------------------------------------- dose response


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
    metrics = _ordered_metrics(sub["metric"], labels)
    no_direction = [m for m in metrics if worse.get(m) not in ("higher", "lower")]
    if no_direction:
        raise ValueError(
            f"No worse direction ('higher' or 'lower') for metric(s) {no_direction}; pass it in "
            "`worse`."
        )

    summary = summarize(sub)
    summary = summary.assign(x=summary["condition"].map(x_of).astype(float))
    encoders = sorted(sub["encoder"].astype(str).unique())
    palette = dict(zip(encoders, sns.color_palette("colorblind", len(encoders)), strict=True))
    xs = sorted({float(x_of[c]) for c in sub["condition"].unique()})
    step = min(np.diff(xs)) if len(xs) > 1 else 1.0
    # Encoders side by side around each dose, so that error bars do not hide each other.
    shift = {
        e: o for e, o in zip(encoders, np.linspace(-0.12, 0.12, len(encoders)) * step, strict=True)
    }
    if len(encoders) == 1:
        shift = {encoders[0]: 0.0}
    tick_of = {float(x): c for c, x in x_of.items() if c in set(sub["condition"])}

    header = 0.75 if len(encoders) > 1 else 0.45
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.8):
        fig, axes = _panel_grid(len(metrics), width=3.9, height=3.4, header=header)
        for ax, metric in zip(axes, metrics, strict=True):
            for encoder in encoders:
                s = summary[(summary["metric"] == metric) & (summary["encoder"] == encoder)]
                if s.empty:
                    continue
                s = s.sort_values("x")
                color = palette[encoder]
                ax.errorbar(
                    s["x"] + shift[encoder],
                    s["mean"],
                    yerr=s["std"].fillna(0.0),
                    color=color,
                    marker="o",
                    markersize=4.5,
                    linewidth=1.4,
                    elinewidth=1.1,
                    capsize=3,
                    label=encoder,
                    zorder=3,
                )
                v = sub[(sub["metric"] == metric) & (sub["encoder"] == encoder)]
                ax.scatter(
                    v["condition"].map(x_of).astype(float) + shift[encoder] + 0.04 * step,
                    v["value"].astype(float),
                    s=8,
                    color=color,
                    alpha=0.55,
                    linewidths=0,
                    zorder=2,
                )
            arrow = (
                "\u2191 higher is worse" if worse[metric] == "higher" else "\u2193 lower is worse"
            )
            ax.set_title(f"{labels.get(metric, metric)}\n({arrow})", fontsize=9.5)
            ax.set_xticks(list(tick_of), [f"{x:g}\n{c}" for x, c in tick_of.items()], fontsize=7.5)
            ax.set_xlabel(xlabel)
            ax.margins(x=0.08, y=0.12)
        height = fig.get_figheight()
        fig.suptitle(
            title or f"{experiment}: metric value against {xlabel}",
            fontsize=12,
            fontweight="bold",
            y=1 - 0.08 / height,
        )
        fig.text(
            0.5,
            1 - 0.42 / height,
            "line: mean \u00b1 1 s.d. over seeds; small dots: one seed each",
            ha="center",
            va="top",
            fontsize=8,
            color="#444444",
        )
        if len(encoders) > 1:
            handles, names = axes[0].get_legend_handles_labels()
            fig.legend(
                handles,
                names,
                loc="upper center",
                bbox_to_anchor=(0.5, 1 - 0.62 / height),
                ncol=min(len(encoders), 6),
                fontsize=8,
                title="encoder",
                title_fontsize=8,
                frameon=False,
            )
        fig.tight_layout(rect=(0, 0, 1, 1 - header / height))
    _save(fig, png_path, pdf_path)


# --------------------------------------------------------------------------- NDB bins

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
    if not evaluated:
        raise ValueError("evaluated is empty; pass {condition: (proportions, significant)}.")
    if len(evaluated) > len(_MARKERS):
        raise ValueError(
            f"At most {len(_MARKERS)} conditions fit one figure; got {len(evaluated)}."
        )
    k = reference.size
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

    order = np.argsort(-reference, kind="stable")
    x = np.arange(1, k + 1)
    palette = sns.color_palette("colorblind", len(series))
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
        fig, ax = plt.subplots(figsize=(max(7.0, 2.0 + 0.13 * k), 4.8))
        ax.bar(x, reference[order], width=0.8, color="#bdbdbd", label="reference", zorder=1)
        for (condition, (proportions, significant)), color, marker in zip(
            series.items(), palette, _MARKERS, strict=False
        ):
            p, sig = proportions[order], significant[order]
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
                label=f"{condition} ({int(sig.sum())}/{k} bins differ)",
            )
        tick_step = 1 if k <= 30 else 5 if k <= 100 else 10
        ax.set_xticks(x[tick_step - 1 :: tick_step] if tick_step > 1 else x)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlim(0.3, k + 0.7)
        ax.set_xlabel("bin (K-means cell of the reference), sorted by reference proportion")
        ax.set_ylabel("proportion of images in the bin")
        ax.set_ylim(bottom=0)
        ax.set_title(
            f"{title}\nfilled marker: proportion significantly different from the reference; "
            "open: not",
            fontsize=10,
        )
        ax.legend(loc="upper right", fontsize=8, frameon=True)
        fig.tight_layout()
    _save(fig, png_path, pdf_path)


# --------------------------------------------------------------------------- duplicate pairs

_MAX_PAIRS = 20
_PAIRS_PER_ROW = 5


def _rgb_image(image, where: str) -> np.ndarray:
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(
            f"{where} must be a uint8 H x W x 3 RGB array; got dtype {array.dtype}, shape "
            f"{array.shape}. Convert with np.asarray(PIL.Image.open(path).convert('RGB'))."
        )
    return array


def plot_duplicate_pairs(
    pairs: Sequence[tuple],
    *,
    title: str,
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
) -> None:
    """Grid of the most similar image pairs, for a person to judge near-duplicates.

    ``pairs`` holds up to 20 ``(image_a, image_b, similarity, caption)`` tuples (images uint8
    H x W x 3), drawn in the given order five pairs per row; each pair is two images side by
    side with "#rank  cos 0.987" and the caption (wrapped) under it.
    """
    if len(pairs) == 0:
        raise ValueError("No pairs to plot; pass at least one (image_a, image_b, sim, caption).")
    if len(pairs) > _MAX_PAIRS:
        raise ValueError(
            f"At most {_MAX_PAIRS} pairs fit the grid; got {len(pairs)}. Pass the top "
            f"{_MAX_PAIRS} (e.g. pairs[:{_MAX_PAIRS}])."
        )
    checked = []
    for i, pair in enumerate(pairs):
        if len(pair) != 4:
            raise ValueError(
                f"pairs[{i}] must be (image_a, image_b, similarity, caption); got {len(pair)} "
                "items."
            )
        a, b, similarity, caption = pair
        similarity = float(similarity)
        if not math.isfinite(similarity):
            raise ValueError(f"pairs[{i}] has a non-finite similarity {similarity}.")
        checked.append(
            (_rgb_image(a, f"pairs[{i}][0]"), _rgb_image(b, f"pairs[{i}][1]"), similarity, caption)
        )

    per_row = min(len(checked), _PAIRS_PER_ROW)
    rows = math.ceil(len(checked) / per_row)
    # Two image columns per pair and a narrow spacer column between pairs.
    ratios = [r for _ in range(per_row) for r in (1.0, 1.0, 0.18)][:-1]
    fig = plt.figure(figsize=(2.3 * per_row + 0.3, 1.95 * rows + 0.9))
    grid = fig.add_gridspec(
        rows,
        len(ratios),
        width_ratios=ratios,
        wspace=0.04,
        hspace=0.55,
        left=0.02,
        right=0.98,
        top=1 - 0.55 / fig.get_figheight(),
        bottom=0.5 / fig.get_figheight(),
    )
    for index, (a, b, similarity, caption) in enumerate(checked):
        row, slot = divmod(index, per_row)
        left = fig.add_subplot(grid[row, 3 * slot])
        right = fig.add_subplot(grid[row, 3 * slot + 1])
        for ax, image in ((left, a), (right, b)):
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        text = f"#{index + 1}  cos {similarity:.3f}"
        if caption:
            text += "\n" + "\n".join(textwrap.wrap(str(caption), 30)[:2])
        left.annotate(
            text,
            xy=(1.02, -0.04),
            xycoords="axes fraction",
            ha="center",
            va="top",
            fontsize=7,
        )
    fig.suptitle(title, fontsize=11, fontweight="bold", y=1 - 0.08 / fig.get_figheight())
    _save(fig, png_path, pdf_path)
