"""Figures of the study's answer: the null calibration (false-positive rate of every output on
the null experiments, and the unbiased subsets against the reference) and the headline table
(which output notices a dropped mode). Tables from :mod:`modedrop.headline`.

Deterministic like every figure of the study (:func:`modedrop.figure_style.save_figure`: no
dates in PNG/PDF).
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from modedrop.figure_style import save_figure, study_style
from modedrop.headline import HEADLINE_COLUMNS, NULL_CALIBRATION_COLUMNS
from modedrop.metrics import output_labels

__all__ = ["plot_headline", "plot_null_calibration"]

# Okabe & Ito (2008) colour-blind-safe palette, as modedrop.figure_style.CONDITION_COLORS.
_DETECTED = "#009e73"
_WRONG = "#d55e00"
_NOTICES = "#d9f0e3"
_MISSING = "#d9d9d9"
_SIDES = ("target", "nontarget")


def _checked(table, columns, what: str, fix: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"Expected the {what} DataFrame, got {type(table).__name__}; {fix}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"The {what} table lacks column(s) {missing}; {fix}.")
    if table.empty:
        raise ValueError(f"The {what} table is empty; {fix}.")
    if table["dataset"].nunique() > 1:
        raise ValueError(
            f"The {what} table holds several datasets {sorted(table['dataset'].unique())}; "
            "plot one at a time (filter on 'dataset')."
        )
    return table.reset_index(drop=True)


def _row_labels(table: pd.DataFrame) -> list[str]:
    labels = output_labels()
    several = table["encoder"].nunique() > 1
    return [
        labels.get(m, m) + (f"  \u00b7  {e}" if several else "")
        for m, e in zip(table["metric"], table["encoder"], strict=True)
    ]


def _fraction(k, n) -> str:
    return "n/a" if pd.isna(n) or int(n) == 0 else f"{int(k)}/{int(n)}"


# --------------------------------------------------------------------------- null calibration


def _draw_false_positives(ax, table, labels, palette, alpha: float) -> None:
    """Top panel: per output the false-positive rate with its upper bound, the count at the
    right and a dashed line at ``alpha``."""
    n_rows = len(table)
    for i, row in table.iterrows():
        color = palette[str(row["encoder"])]
        ax.text(
            1.02,
            i,
            _fraction(row["n_detected"], row["n_null"]),
            va="center",
            fontsize=7.5,
            transform=ax.get_yaxis_transform(),
        )
        if pd.isna(row["false_positive_rate"]):
            continue
        rate, upper = float(row["false_positive_rate"]), float(row["fpr_upper95"])
        ax.errorbar(
            rate,
            i,
            xerr=[[0.0], [upper - rate]],
            fmt="o",
            color=color,
            markeredgecolor="black",
            markeredgewidth=0.5,
            capsize=3,
            zorder=3,
        )
    ax.axvline(alpha, color="black", linestyle="--", linewidth=1.0, zorder=2)
    ax.set_yticks(np.arange(n_rows), labels, fontsize=8)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_xlim(-0.02, 1.0)
    ax.set_xlabel(f"false-positive rate on the null experiment(s) (dashed: alpha = {alpha:g})")
    ax.set_title(
        "Null calibration: detections among conditions that drop nothing real\n"
        "(dot: detected / null comparisons; bar: one-sided 95 % Clopper-Pearson upper bound)",
        fontsize=9.5,
    )


def _encoder_legend(ax, palette: dict) -> None:
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=color, label=encoder)
        for encoder, color in palette.items()
    ]
    ax.legend(
        handles=handles,
        loc="lower right",
        fontsize=7.5,
        title="encoder",
        title_fontsize=7.5,
        frameon=True,
    )


def _draw_unbiased_shift(ax, expected: pd.DataFrame, labels, palette) -> None:
    """Bottom panel: the unbiased subsets' value minus its null expectation, mean +/- 1 s.d.,
    with the values at the right and a dashed line at 0."""
    shift = (expected["unbiased_mean"] - expected["null_expectation"]).to_numpy(float)
    sd = expected["unbiased_sd"].fillna(0.0).to_numpy(float)
    for j, (_, row) in enumerate(expected.iterrows()):
        ax.errorbar(
            shift[j],
            j,
            xerr=sd[j],
            fmt="o",
            capsize=3,
            markeredgecolor="black",
            markeredgewidth=0.5,
            color=palette[str(row["encoder"])],
            zorder=3,
        )
        ax.text(
            1.02,
            j,
            f"{row['unbiased_mean']:.3g} \u00b1 {sd[j]:.2g} vs "
            f"{row['null_expectation']:g} (n = {_count(row['n_unbiased'])})",
            va="center",
            fontsize=7.5,
            transform=ax.get_yaxis_transform(),
        )
    ax.axvline(0.0, color="black", linestyle="--", linewidth=1.0, zorder=2)
    ax.set_yticks(range(len(expected)), [labels[i] for i in expected.index], fontsize=8)
    ax.set_ylim(len(expected) - 0.5, -0.5)
    reach = float(np.nanmax(np.abs(shift) + sd)) if len(shift) else 0.0
    ax.set_xlim(-1.15 * max(reach, 0.01), 1.15 * max(reach, 0.01))
    ax.set_xlabel("unbiased vs reference minus null expectation (mean \u00b1 1 s.d.)")


def _no_expectation(ax) -> None:
    ax.text(
        0.5,
        0.5,
        "no reference-based output with a null expectation (NDB/K, C2ST) in the table",
        ha="center",
        va="center",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def plot_null_calibration(
    table: pd.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike, alpha: float
) -> None:
    """False-positive rate per output and encoder, and the unbiased subsets vs the reference.

    ``table``: :func:`modedrop.headline.null_calibration_table` of one dataset. Top panel: per
    output (rows, the table's order; encoder colour), the false-positive rate on the null
    experiments as a dot with its one-sided 95 % Clopper-Pearson upper bound as a bar, the
    count "detected/null comparisons" at the right, and a dashed line at ``alpha``. Bottom
    panel: for the outputs with a null expectation (NDB/K, C2ST accuracies), the unbiased
    subsets' value against the reference minus that expectation, mean +/- 1 s.d. over
    (experiment, seed), with a dashed line at 0 (a same-distribution comparison sits there).
    """
    table = _checked(
        table,
        NULL_CALIBRATION_COLUMNS,
        "null calibration",
        "pass the output of modedrop.headline.null_calibration_table()",
    )
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    labels = _row_labels(table)
    encoders = sorted(table["encoder"].astype(str).unique())
    palette = dict(zip(encoders, sns.color_palette("colorblind", len(encoders)), strict=True))
    expected = table[table["null_expectation"].notna() & table["unbiased_mean"].notna()]
    n_top, n_bottom = len(table), max(len(expected), 1)

    with study_style(font_scale=0.8):
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(8.6, 0.26 * (n_top + n_bottom) + 3.2),
            gridspec_kw={"height_ratios": [n_top + 1.5, n_bottom + 1.5]},
        )
        _draw_false_positives(top, table, labels, palette, alpha)
        if len(encoders) > 1:
            _encoder_legend(top, palette)
        if expected.empty:
            _no_expectation(bottom)
        else:
            _draw_unbiased_shift(bottom, expected, labels, palette)
        bottom.set_title(
            "Same-distribution comparison: unbiased subsets vs the held-out reference\n"
            "(expected: NDB/K = the bin-test level, C2ST accuracy = 0.5)",
            fontsize=9.5,
        )
        fig.tight_layout()
        fig.subplots_adjust(right=0.74)
    save_figure(fig, png, pdf)


def _count(value) -> str:
    return "?" if pd.isna(value) else str(int(value))


# --------------------------------------------------------------------------- headline


def _drops(cell) -> list[str]:
    return [] if pd.isna(cell) else str(cell).split()


def _drop_status(table: pd.DataFrame) -> tuple[list[str], list[dict[tuple[str, str], str]]]:
    """Drop experiments (first-seen order) and, per row, (experiment, side) -> status."""
    experiments: list[str] = []
    status = []
    for _, row in table.iterrows():
        cells = {}
        for column, state in (
            ("detected_drops", "detected"),
            ("wrong_direction_drops", "wrong"),
            ("undetected_drops", "undetected"),
        ):
            for item in _drops(row[column]):
                experiment, _, side = item.rpartition(":")
                if not experiment or side not in _SIDES:
                    raise ValueError(
                        f"Malformed entry {item!r} in {column}; expected 'experiment:target' or "
                        "'experiment:nontarget' (the output of modedrop.headline.headline_table())."
                    )
                if experiment not in experiments:
                    experiments.append(experiment)
                cells[(experiment, side)] = state
        status.append(cells)
    return experiments, status


_MARK = {"detected": ("\u2713", _DETECTED), "wrong": ("\u2020", _WRONG)}
_SUMMARY = ("both sides", "dose", "collapse", "false positives")
# Heights in inches: a table row, the column headings, the note under the table.
_ROW_H, _HEAD_H, _FOOT_H = 0.27, 0.95, 1.0
_NOTE = (
    "\u2713 detected (one-sided Welch test in the worse direction, Holm over the data set); "
    "\u2020 significantly better (wrong direction); \u00b7 neither.\n"
    "Green rows notice dropped modes: both target and nontarget detected in every drop "
    "experiment, never the wrong way.\n"
    "dose: partial drops detected; collapse: intra-mode collapses detected; false positives: "
    "detections on the Random split (\u2264 one-sided 95 % Clopper-Pearson bound)."
)


def _draw_headings(ax, experiments: list[str], x0: np.ndarray, widths: list[float]) -> None:
    """Each drop experiment over its target and nontarget columns, then the summary columns."""
    for k, experiment in enumerate(experiments):
        centre = x0[2 * k + 1]
        ax.text(
            centre,
            _HEAD_H - 0.42,
            experiment,
            ha="center",
            va="bottom",
            fontsize=8.5,
            fontweight="bold",
        )
        ax.plot(
            [x0[2 * k] + 0.05, x0[2 * k + 2] - 0.05], [_HEAD_H - 0.4] * 2, color="black", lw=0.6
        )
        for s, side in enumerate(_SIDES):
            ax.text(
                x0[2 * k + s] + widths[2 * k + s] / 2,
                _HEAD_H - 0.08,
                side,
                ha="center",
                va="bottom",
                fontsize=7.5,
            )
    for c, name in enumerate(_SUMMARY):
        i = 2 * len(experiments) + c
        ax.text(
            x0[i] + widths[i] / 2,
            _HEAD_H - 0.08,
            name,
            ha="center",
            va="bottom",
            fontsize=7.5,
            fontweight="bold",
        )


def _draw_drop_cell(ax, state: str | None, left: float, width: float, top: float) -> None:
    """One (experiment, side) cell: grey n/a, a tick or dagger, or a dot for neither."""
    centre, middle = left + width / 2, top + _ROW_H / 2
    if state is None:
        ax.add_patch(
            plt.Rectangle(
                (left + 0.06, top + 0.03), width - 0.12, _ROW_H - 0.06, color=_MISSING, lw=0
            )
        )
        ax.text(centre, middle, "n/a", ha="center", va="center", fontsize=6.5)
    elif state in _MARK:
        mark, color = _MARK[state]
        ax.text(
            centre,
            middle,
            mark,
            ha="center",
            va="center",
            fontsize=10,
            color=color,
            fontweight="bold",
        )
    else:
        ax.text(centre, middle, "\u00b7", ha="center", va="center", fontsize=10, color="#777777")


def _summary_texts(row) -> tuple[str, str, str, str]:
    """The summary columns of a row: both sides, dose, collapse, false positives."""
    fpr = row["false_positive_rate"]
    return (
        _fraction(row["n_both_sides"], row["n_experiments"]),
        _fraction(row["n_dose_detected"], row["n_dose"]),
        _fraction(row["n_collapse_detected"], row["n_collapse"]),
        "no null"
        if pd.isna(fpr)
        else f"{_fraction(round(float(fpr) * int(row['n_null'])), row['n_null'])}"
        f" (\u2264{float(row['fpr_upper95']):.2f})",
    )


def _draw_row(ax, r: int, row, label: str, cells: dict, experiments, x0, widths, layout) -> None:
    """Row ``r``: background, label, the drop cells and the summary columns."""
    left, width = layout
    top = _HEAD_H + r * _ROW_H
    middle = top + _ROW_H / 2
    notices = bool(row["notices_drops"])
    if notices:
        ax.add_patch(plt.Rectangle((0.1, top), width - 0.2, _ROW_H, color=_NOTICES, lw=0))
    elif r % 2:
        ax.add_patch(plt.Rectangle((0.1, top), width - 0.2, _ROW_H, color="#f4f4f4", lw=0))
    ax.text(
        left - 0.12,
        middle,
        label,
        ha="right",
        va="center",
        fontsize=8,
        fontweight="bold" if notices else "normal",
    )
    for k, experiment in enumerate(experiments):
        for s, side in enumerate(_SIDES):
            i = 2 * k + s
            _draw_drop_cell(ax, cells.get((experiment, side)), x0[i], widths[i], top)
    for c, text in enumerate(_summary_texts(row)):
        i = 2 * len(experiments) + c
        bold = c == 0 and notices
        ax.text(
            x0[i] + widths[i] / 2,
            middle,
            text,
            ha="center",
            va="center",
            fontsize=7.5,
            fontweight="bold" if bold else "normal",
        )


def plot_headline(table: pd.DataFrame, png: str | os.PathLike, pdf: str | os.PathLike) -> None:
    """Table-like figure of :func:`modedrop.headline.headline_table` (one dataset).

    Rows: outputs (with encoder), the table's order. Columns: per drop experiment, ``target``
    and ``nontarget`` - a green tick where detected, an orange dagger where significantly
    better (wrong direction), a dot where neither, grey "n/a" where absent; then "both sides"
    (n_both_sides / n_experiments), partial drops detected (dose), intra-mode collapses detected
    (collapse) and the false-positive rate on the null experiments (detected / null
    comparisons, and the Clopper-Pearson upper bound). Rows that notice drops (both sides of
    every drop experiment, never the wrong way) have a green background and a bold label.
    """
    table = _checked(
        table,
        HEADLINE_COLUMNS,
        "headline",
        "pass the output of modedrop.headline.headline_table()",
    )
    experiments, status = _drop_status(table)
    labels = _row_labels(table)
    widths = [0.62] * (2 * len(experiments)) + [0.75, 0.62, 0.7, 1.35]
    left = 0.3 + 0.062 * max(len(t) for t in labels)
    width = left + sum(widths) + 0.3
    height = _HEAD_H + _ROW_H * len(table) + _FOOT_H
    x0 = left + np.concatenate([[0.0], np.cumsum(widths)])

    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    _draw_headings(ax, experiments, x0, widths)
    for r, (_, row) in enumerate(table.iterrows()):
        _draw_row(ax, r, row, labels[r], status[r], experiments, x0, widths, (left, width))
    bottom = _HEAD_H + _ROW_H * len(table)
    for x in x0[[2 * k for k in range(len(experiments) + 1)]]:
        ax.plot([x, x], [_HEAD_H - 0.3, bottom], color="#bbbbbb", lw=0.6)
    ax.text(
        0.3, bottom + 0.15, _NOTE, ha="left", va="top", fontsize=7, color="#444444", linespacing=1.5
    )
    title = f"Which metric notices a dropped mode? ({table['dataset'].iloc[0]})"
    ax.text(0.3, 0.08, title, ha="left", va="top", fontsize=10, fontweight="bold")
    save_figure(fig, png, pdf)
