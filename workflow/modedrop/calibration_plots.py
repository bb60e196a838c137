"""Figures of the black-box calibration study of Wu et al., *Black-Box Diagnosis and Calibration
on GAN Intra-Mode Collapse* (Sec. 4.4, Figures 5-6).

Two figures: the before/after numbers (worst-case MCCS, population mean and standard deviation of
MCCS, Fréchet distance) with box plots of the per-anchor MCCS of each generator, and the dense
mode of each generator next to its nearest neighbours, before and after each calibration. Same
look and determinism as the study's other figures (:mod:`modedrop.figure_style`: seaborn
whitegrid, files written without creation dates).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from modedrop.figure_style import rgb_image, save_figure, study_style

__all__ = ["GENERATOR_LABELS", "plot_calibration", "plot_dense_modes"]

#: Display names of the generators of the calibration table, in display order.
GENERATOR_LABELS: dict[str, str] = {
    "original": "original",
    "gmm": "GMM (Alg. 1)",
    "rejection": "rejection (Alg. 2)",
}
# Okabe & Ito colours, as in modedrop.figure_style: grey for the uncalibrated generator.
_GENERATOR_COLORS = {"original": "#4d4d4d", "gmm": "#0072b2", "rejection": "#d55e00"}
_EXTRA_COLORS = ("#009e73", "#cc79a7", "#e69f00", "#56b4e9")
_METRICS: dict[str, str] = {
    "worst_mccs": "worst-case MCCS",
    "mccs_mean": "mean MCCS",
    "mccs_std": "s.d. of MCCS",
    "fd": "Fréchet distance",
}
_MAX_NEIGHBOURS = 16


def _label(generator: str) -> str:
    return GENERATOR_LABELS.get(generator, generator)


def _row_key(label: str) -> str:
    """The generator named by a row label's first line (``"gmm\nMCCS 0.21"`` -> ``"gmm"``)."""
    return str(label).split("\n", 1)[0]


def _row_label(label: str) -> str:
    """A row label with its first line (the generator) in display form."""
    first, *rest = str(label).split("\n", 1)
    return "\n".join([_label(first), *rest])


def _order(generators) -> list[str]:
    """The known generators first (original, gmm, rejection), then the others as given."""
    present = list(dict.fromkeys(str(g) for g in generators))
    return [g for g in GENERATOR_LABELS if g in present] + [
        g for g in present if g not in GENERATOR_LABELS
    ]


def _colors(generators: Sequence[str]) -> dict[str, str]:
    extra = iter(_EXTRA_COLORS * (1 + len(generators) // len(_EXTRA_COLORS)))
    return {g: _GENERATOR_COLORS.get(g) or next(extra) for g in generators}


def _check_rows(rows: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(rows, pd.DataFrame) or rows.empty:
        raise ValueError(
            "rows must be a non-empty DataFrame with one row per generator (and seed); build it "
            "from modedrop.calibration_evaluation.evaluate_generator_set."
        )
    missing = [c for c in ("generator", *_METRICS) if c not in rows.columns]
    if missing:
        raise ValueError(
            f"rows lacks the column(s) {missing}; expected generator, {', '.join(_METRICS)} "
            "(fd may be NaN when no reference was given)."
        )
    table = rows.copy()
    table["generator"] = table["generator"].astype(str)
    for column in _METRICS:
        table[column] = pd.to_numeric(table[column], errors="raise").astype(float)
    return table


def _check_scores(scores: Mapping[str, Sequence], generators: Sequence[str]) -> dict:
    missing = [g for g in generators if g not in scores]
    if missing:
        raise ValueError(
            f"scores has no per-anchor MCCS for {missing}; pass {{generator: array}} for every "
            "generator in rows (Diagnosis.anchor_mccs or mccs_scores)."
        )
    checked = {}
    for g in generators:
        values = np.asarray(scores[g], dtype=float).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"scores[{g!r}] must be a non-empty array of finite MCCS values.")
        checked[g] = values
    return checked


def _seed_text(table: pd.DataFrame) -> str:
    if "seed" in table.columns:
        seeds = sorted(table["seed"].unique().tolist())
        shown = ", ".join(str(s) for s in seeds)
        return f"bar: mean over {len(seeds)} seed(s) ({shown}); dots: one seed each"
    per = table.groupby("generator").size()
    if per.max() == 1:
        return "one run per generator"
    lo, hi = int(per.min()), int(per.max())
    runs = str(lo) if lo == hi else f"{lo}\u2013{hi}"
    return f"bar: mean over {runs} runs; dots: one run each"


def _metric_panel(ax, table: pd.DataFrame, metric: str, generators, colors) -> None:
    x = np.arange(len(generators))
    values = [table.loc[table["generator"] == g, metric].to_numpy() for g in generators]
    if all(np.isnan(v).all() for v in values):
        ax.text(0.5, 0.5, "no reference\nfeatures", ha="center", va="center",
                transform=ax.transAxes, fontsize=9, color="#666666")  # fmt: skip
    for i, (g, v) in enumerate(zip(generators, values, strict=True)):
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            continue
        ax.bar(i, finite.mean(), width=0.65, color=colors[g], alpha=0.85, zorder=2)
        # Seed dots offset by index, not jittered randomly: figures stay byte-identical.
        offsets = np.linspace(-0.15, 0.15, finite.size) if finite.size > 1 else np.zeros(1)
        ax.scatter(i + offsets, finite, s=10, color="black", zorder=3)
        ax.annotate(f"{finite.mean():.3g}", (i, finite.mean()), xytext=(0, 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=7)  # fmt: skip
    ax.set_xticks(x, [_label(g) for g in generators], rotation=20, ha="right")
    ax.set_xlim(-0.5, len(generators) - 0.5)  # also when no bar is drawn (no reference)
    ax.set_title(_METRICS[metric], fontsize=10)
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    ax.set_ylim(0, 1.2 * top)  # room for the value labels under the panel title


def plot_calibration(
    rows: pd.DataFrame,
    scores: Mapping[str, Sequence],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    *,
    title: str = "Black-box calibration of intra-mode collapse (Wu et al., Sec. 4.4)",
) -> None:
    """The calibration table as a figure: four metric panels over a box plot of MCCS.

    ``rows`` has a ``generator`` column (``original``, ``gmm``, ``rejection``; others are drawn
    after them) and ``worst_mccs``, ``mccs_mean``, ``mccs_std``, ``fd`` (NaN: no reference); one
    row per generator, or per generator and ``seed`` (bars are means, dots single runs).
    ``scores`` maps each generator to its per-anchor MCCS (all seeds pooled), drawn as boxes.
    """
    table = _check_rows(rows)
    generators = _order(table["generator"])
    values = _check_scores(scores, generators)
    colors = _colors(generators)
    with study_style(font_scale=0.85):
        fig = plt.figure(figsize=(11.0, 7.2))
        grid = fig.add_gridspec(2, 4, height_ratios=[1.0, 1.15], hspace=0.62, wspace=0.35,
                                top=0.86, bottom=0.08, left=0.07, right=0.98)  # fmt: skip
        for column, metric in enumerate(_METRICS):
            _metric_panel(fig.add_subplot(grid[0, column]), table, metric, generators, colors)
        box_ax = fig.add_subplot(grid[1, :])
        parts = box_ax.boxplot(
            [values[g] for g in generators],
            positions=np.arange(len(generators)),
            widths=0.5,
            patch_artist=True,
            flierprops={"markersize": 2, "alpha": 0.5},
            medianprops={"color": "black"},
        )
        for patch, g in zip(parts["boxes"], generators, strict=True):
            patch.set_facecolor(colors[g])
            patch.set_alpha(0.7)
        box_ax.set_xticks(
            np.arange(len(generators)),
            [f"{_label(g)}\n({values[g].size} anchors)" for g in generators],
        )
        box_ax.set_ylabel("MCCS per anchor")
        box_ax.set_title("MCCS of every anchor image against the samples (Eq. 7)", fontsize=10)
        fig.suptitle(f"{title}\n{_seed_text(table)}", fontsize=11, fontweight="bold")
    save_figure(fig, png_path, pdf_path)


def _check_panels(panels: Mapping[str, tuple]) -> list[tuple[str, np.ndarray, list[np.ndarray]]]:
    if not panels:
        raise ValueError("panels is empty; pass {generator: (dense-mode image, neighbour images)}.")
    checked = []
    for label, pair in panels.items():
        if len(pair) != 2:
            raise ValueError(
                f"panels[{label!r}] must be (dense-mode image, list of neighbour images); got "
                f"{len(pair)} items."
            )
        mode = rgb_image(pair[0], f"the dense mode of {label!r}")
        neighbours = [
            rgb_image(image, f"neighbour {i} of {label!r}") for i, image in enumerate(pair[1])
        ]
        if len(neighbours) > _MAX_NEIGHBOURS:
            raise ValueError(
                f"at most {_MAX_NEIGHBOURS} neighbours fit a row; {label!r} has "
                f"{len(neighbours)}. Pass the nearest {_MAX_NEIGHBOURS}."
            )
        checked.append((str(label), mode, neighbours))
    return checked


def plot_dense_modes(
    panels: Mapping[str, tuple],
    png_path: str | os.PathLike,
    pdf_path: str | os.PathLike,
    *,
    title: str = "Worst-case dense mode and its nearest samples (Wu et al., Eq. 9)",
) -> None:
    """One row per generator: its dense mode (framed), then its nearest neighbours, closest first.

    ``panels`` maps a row label to ``(dense-mode image, [neighbour images])``, images uint8
    H x W x 3; rows are drawn in the mapping's order, up to 16 neighbours each. A label's first
    line names the generator (``"original"``, ``"gmm"``, ``"rejection"``: shown as in
    :func:`plot_calibration`, same frame colour); further lines are printed under it (e.g.
    ``"gmm\nMCCS 0.213"``).
    """
    rows = _check_panels(panels)
    columns = 1 + max(1, max(len(neighbours) for _, _, neighbours in rows))
    colors = _colors(list(dict.fromkeys(_row_key(label) for label, _, _ in rows)))
    fig, axes = plt.subplots(
        len(rows),
        columns,
        figsize=(1.15 * columns + 1.3, 1.3 * len(rows) + 0.8),
        squeeze=False,
        gridspec_kw={"wspace": 0.05, "hspace": 0.25},
    )
    for r, (label, mode, neighbours) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            image = mode if c == 0 else (neighbours[c - 1] if c - 1 < len(neighbours) else None)
            if image is None:
                ax.axis("off")
                continue
            ax.imshow(image, interpolation="nearest")
            if c == 0:  # frame the dense mode in the generator's colour
                for spine in ax.spines.values():
                    spine.set_edgecolor(colors[_row_key(label)])
                    spine.set_linewidth(3)
        axes[r, 0].set_ylabel(_row_label(label), fontsize=9, rotation=0, ha="right", va="center")
        if r == 0:
            axes[r, 0].set_title("dense mode", fontsize=8)
            for c in range(1, columns):
                axes[r, c].set_title(f"#{c}", fontsize=8)
    top = 1 - 0.7 / fig.get_figheight()
    fig.subplots_adjust(left=1.3 / fig.get_figwidth(), right=0.99, top=top, bottom=0.02)
    fig.suptitle(
        f"{title}\nrows: generator before / after calibration; framed: its dense mode; then its "
        "nearest samples, closest first",
        fontsize=9,
        fontweight="bold",
        y=1 - 0.08 / fig.get_figheight(),
        va="top",
    )
    save_figure(fig, png_path, pdf_path)
