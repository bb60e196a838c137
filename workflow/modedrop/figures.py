"""From the study's tables and job results to the figures (the drawing is in the
``modedrop.plots*`` modules, the shared look in ``modedrop.figure_style``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.design import condition_fraction
from modedrop.metrics import output_labels, worse
from modedrop.plots_detection import plot_detection_heatmap
from modedrop.plots_duplicates import plot_duplicate_pairs
from modedrop.plots_ndb import plot_ndb_bins
from modedrop.plots_response import plot_response
from modedrop.records import read_result

# Short: every panel repeats the axis label; the figure title says what p and f are.
AXIS_LABELS = {"dose": "dose p", "collapse": "collapse f"}
TITLES = {
    "dose": "Dose-response: the dropped modes kept at 1 - p of their share (p = 1: target)",
    "collapse": "Intra-mode collapse: a fraction f of the set replaced by a few identities",
}


def detection_heatmap(detection_csv: str | os.PathLike, png: str, pdf: str) -> None:
    plot_detection_heatmap(
        pd.read_csv(detection_csv), labels=output_labels(), png_path=png, pdf_path=pdf
    )


def response_figure(
    metrics_csv: str | os.PathLike, *, experiment: str, axis: str, png: str, pdf: str
) -> None:
    """Every metric against the dose (``axis`` dose) or the collapse fraction (``collapse``)."""
    long = pd.read_csv(metrics_csv)
    long = long[long["experiment"] == experiment]
    x_of = {}
    for condition in long["condition"].unique():
        kind, fraction = condition_fraction(condition)
        if kind == axis or condition == "unbiased":
            x_of[condition] = fraction
    plot_response(
        long,
        experiment=experiment,
        x_of=x_of,
        xlabel=AXIS_LABELS[axis],
        labels=output_labels(),
        worse=worse(),
        png_path=png,
        pdf_path=pdf,
        title=f"{experiment}. {TITLES[axis]}",
    )


def ndb_bins_figure(result_json: str | os.PathLike, png: str, pdf: str) -> None:
    """The first seed's NDB bins: reference and every condition's proportions."""
    result = read_result(result_json)
    details: Mapping[str, Mapping] = result["details"]
    first = next(iter(details.values()))
    evaluated = {
        condition: (np.asarray(d["evaluated_proportions"]), np.asarray(d["significant"]))
        for condition, d in details.items()
    }
    record = result["records"][0]
    plot_ndb_bins(
        np.asarray(first["reference_proportions"]),
        evaluated,
        title=(
            f"NDB bins: {record['experiment']}, {record['encoder']}, seed {record['seed']} "
            f"(K = {len(first['reference_proportions'])}, alpha = {result['params']['alpha']})"
        ),
        png_path=png,
        pdf_path=pdf,
    )


def duplicate_pairs_figure(
    result_json: str | os.PathLike, images: str | os.PathLike, condition: str, png: str, pdf: str
) -> None:
    """The most similar pairs of one condition of the first seed, decoded from the images."""
    from modedrop.data.images import ImageList

    result = read_result(result_json)
    details = result["details"][condition]
    pairs = details["top_pairs"]
    names = sorted({name for a, b, _ in pairs for name in (a, b)})
    decoded = ImageList(Path(images), names, _unchanged)
    pixels = {name: decoded[i].permute(1, 2, 0).numpy() for i, name in enumerate(names)}
    record = result["records"][0]
    plot_duplicate_pairs(
        [(pixels[a], pixels[b], similarity, f"{a} / {b}") for a, b, similarity in pairs],
        title=(
            f"Most similar pairs: {record['experiment']}, {condition}, {record['encoder']}, "
            f"seed {record['seed']} (near-duplicate threshold {details['threshold']:.4f})"
        ),
        png_path=png,
        pdf_path=pdf,
    )


def _unchanged(image):
    return image
