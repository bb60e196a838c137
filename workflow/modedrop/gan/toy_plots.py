"""Figures of the toy-GAN study: scatter snapshots during training (Martina-Perez, *Addressing
mode collapse in GANs*, Figures 1-2) and the tracking metrics against training step.

Same look as the study's other figures (:mod:`modedrop.figure_style`: seaborn whitegrid,
colour-blind palette, files written with no creation date, so re-running gives the same bytes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from modedrop.figure_style import save_figure, study_style
from modedrop.gan.toy_data import get_dataset

__all__ = ["CURVE_LABELS", "plot_toy_curves", "plot_toy_snapshots"]

#: Metrics drawn by :func:`plot_toy_curves`, in panel order, with their axis labels.
CURVE_LABELS: dict[str, str] = {
    "modes_covered": "modes covered",
    "high_quality_share": "high-quality share",
    "ndb_fraction": "NDB/K",
    "jsd": "JSD (NDB bins)",
    "rankme": "RankMe (centered)",
}
_SUMMARY_COLUMNS = ("dataset", "latent_dim", "step", "metric", "mean", "std", "n")
_REAL_COLOR = "#a6a6a6"


def _latent_palette(latents) -> dict[int, tuple]:
    latents = sorted(int(d) for d in latents)
    return dict(zip(latents, sns.color_palette("colorblind", len(latents)), strict=True))


def _evenly_spaced(steps: list[int], n_columns: int) -> list[int]:
    """About ``n_columns`` steps, evenly spaced over ``steps`` (sorted), first and last
    included."""
    index = np.unique(np.round(np.linspace(0, len(steps) - 1, min(n_columns, len(steps)))))
    return [steps[int(i)] for i in index]


def _check_snapshots(snapshots_by_latent: Mapping) -> list[int]:
    """The steps every latent size has, after checking each snapshot is an (n, 2) array."""
    if not snapshots_by_latent:
        raise ValueError("snapshots_by_latent is empty; pass {latent_dim: {step: (n, 2) array}}.")
    common: set[int] | None = None
    for latent, by_step in snapshots_by_latent.items():
        if not by_step:
            raise ValueError(f"No snapshots for latent size {latent}.")
        for step, points in by_step.items():
            shape = np.shape(points)
            if len(shape) != 2 or shape[1] != 2 or shape[0] == 0:
                raise ValueError(
                    f"Snapshot of latent {latent} at step {step} has shape {shape}; expected "
                    "(n, 2) points of one seed (index the seed axis of ToyRun.snapshots)."
                )
        steps = {int(s) for s in by_step}
        common = steps if common is None else common & steps
    if not common:
        raise ValueError(
            "The latent sizes share no snapshot step; train them with the same steps and "
            "snapshot_every."
        )
    return sorted(common)


def plot_toy_snapshots(
    snapshots_by_latent: Mapping[int, Mapping[int, np.ndarray]],
    real: np.ndarray,
    dataset: str,
    seed: int,
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    *,
    n_columns: int = 5,
) -> None:
    """Generated points over the real data: rows = latent sizes, columns = training steps.

    ``snapshots_by_latent[latent_dim][step]`` is one seed's (n, 2) snapshot (the fixed latent
    batch, so columns are comparable); about ``n_columns`` steps that all latent sizes share
    are shown, evenly spaced, the last included. ``real`` (m, 2) is drawn in light grey behind;
    all panels use the data set's axis limits, and a panel notes how many generated points fall
    outside them.
    """
    steps = _evenly_spaced(_check_snapshots(snapshots_by_latent), n_columns)
    real = np.asarray(real, dtype=np.float64)
    if real.ndim != 2 or real.shape[1] != 2:
        raise ValueError(f"real must be an (m, 2) array of real points, got shape {real.shape}.")
    (x0, x1), (y0, y1) = get_dataset(dataset).limits
    latents = sorted(int(d) for d in snapshots_by_latent)
    palette = _latent_palette(latents)
    n_points = len(next(iter(snapshots_by_latent[latents[0]].values())))
    aspect = (y1 - y0) / (x1 - x0)
    with study_style(font_scale=0.8, style="white"):
        fig, axes = plt.subplots(
            len(latents),
            len(steps),
            figsize=(2.2 * len(steps) + 0.5, 2.2 * aspect * len(latents) + 0.9),
            squeeze=False,
        )
        for row, latent in enumerate(latents):
            for col, step in enumerate(steps):
                ax = axes[row, col]
                points = np.asarray(snapshots_by_latent[latent][step], dtype=np.float64)
                ax.scatter(real[:, 0], real[:, 1], s=4, color=_REAL_COLOR, linewidths=0)
                ax.scatter(points[:, 0], points[:, 1], s=3, color=palette[latent], linewidths=0)
                outside = ~(
                    (points[:, 0] >= x0)
                    & (points[:, 0] <= x1)
                    & (points[:, 1] >= y0)
                    & (points[:, 1] <= y1)
                )
                if outside.any():
                    ax.text(
                        0.03, 0.03, f"{int(outside.sum())} outside", transform=ax.transAxes,
                        fontsize=6.5, color="#444444",
                    )  # fmt: skip
                ax.set_xlim(x0, x1)
                ax.set_ylim(y0, y1)
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"step {step:,}", fontsize=9)
                if col == 0:
                    ax.set_ylabel(f"latent {latent}", fontsize=9)
        fig.suptitle(
            f"Toy GAN on {dataset}, seed {seed}: generated points (colour) over real data (grey)\n"
            f"{n_points} points from one fixed latent batch per row",
            fontsize=10,
        )
        fig.tight_layout()
    save_figure(fig, png_path, pdf_path)


def plot_toy_curves(
    summary: pd.DataFrame,
    dataset: str,
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    *,
    alpha: float | None = None,
) -> None:
    """Tracking metrics against training step, one panel per metric of :data:`CURVE_LABELS`.

    ``summary`` has the columns ``dataset, latent_dim, step, metric, mean, std, n`` (as from
    :func:`modedrop.gan.toy_training.summarize_history`). One line per latent size, mean with a
    +/- 1 s.d. band over seeds. The modes-covered panel marks the number of modes (metric
    ``n_modes``, when present); with ``alpha`` the NDB/K panel marks the level expected by
    chance.
    """
    missing = [c for c in _SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks column(s) {missing}; expected {list(_SUMMARY_COLUMNS)}.")
    sub = summary[summary["dataset"] == dataset]
    if sub.empty:
        raise ValueError(
            f"No rows for dataset {dataset!r}; datasets present: "
            f"{sorted(summary['dataset'].astype(str).unique())}."
        )
    metrics = [m for m in CURVE_LABELS if m in set(sub["metric"])]
    if not metrics:
        raise ValueError(
            f"summary has none of the plotted metrics {list(CURVE_LABELS)} for {dataset!r}."
        )
    palette = _latent_palette(sub["latent_dim"].unique())
    n_lo, n_hi = int(sub["n"].min()), int(sub["n"].max())
    n_text = f"n = {n_lo}" if n_lo == n_hi else f"n = {n_lo}\u2013{n_hi}"
    n_modes = sub.loc[sub["metric"] == "n_modes", "mean"]
    with study_style(font_scale=0.8):
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics) + 0.4, 3.4))
        axes = np.atleast_1d(axes)
        for ax, metric in zip(axes, metrics, strict=True):
            for latent, color in palette.items():
                s = sub[(sub["metric"] == metric) & (sub["latent_dim"] == latent)]
                s = s.sort_values("step")
                if s.empty:
                    continue
                x, mean = s["step"].to_numpy(float), s["mean"].to_numpy(float)
                sd = s["std"].fillna(0.0).to_numpy(float)
                ax.plot(x, mean, color=color, linewidth=1.5, label=f"latent {latent}")
                ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
            if metric == "modes_covered" and not n_modes.empty:
                ax.axhline(float(n_modes.iloc[0]), color="#444444", linestyle="--", linewidth=1)
            if metric == "ndb_fraction" and alpha is not None:
                ax.axhline(float(alpha), color="#444444", linestyle=":", linewidth=1)
            ax.set_title(CURVE_LABELS[metric], fontsize=9.5)
            ax.set_xlabel("training step")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
        axes[0].legend(fontsize=7.5, frameon=False)
        notes = ["line: mean \u00b1 1 s.d. over seeds"]
        if not n_modes.empty:
            notes.append("dashed: number of modes")
        if alpha is not None and "ndb_fraction" in metrics:
            notes.append(f"dotted: NDB/K expected by chance (\u03b1 = {alpha:g})")
        fig.suptitle(
            f"Toy GAN on {dataset}: tracking metrics during training ({n_text} seeds)\n"
            + "; ".join(notes),
            fontsize=10,
        )
        fig.tight_layout()
    save_figure(fig, png_path, pdf_path)
