"""Figures of the DCGAN study (Mehta, *Measuring Mode Collapse in GANs*): NDB/K and JSD while
the DCGAN trains, sample grids, and the images of the bin the generator fills most.

Same look as the study's other figures (:mod:`modedrop.figure_style`: seaborn whitegrid,
colour-blind palette, files written without creation dates, so re-running gives the same files). No torch import: the figures are drawn
from the saved histories and ``final_samples.npz`` files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from modedrop.figure_style import save_figure, study_style

__all__ = ["largest_bin", "mosaic", "plot_largest_bin", "plot_ndb_curves", "plot_sample_grids"]

_CURVE_COLUMNS = ("step", "ndb_fraction", "jsd")
_FINAL_KEYS = ("images", "labels", "reference_proportions", "generated_proportions")
_GREY = "#444444"


def _check_runs(runs: Mapping, what: str) -> None:
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"{what} must be a non-empty mapping {{run label: ...}}, got {runs!r}.")


def _images(value, where: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or len(array) == 0:
        raise ValueError(
            f"{where} must be uint8 (n, H, W, 3) RGB images with n >= 1; got dtype "
            f"{array.dtype}, shape {array.shape}."
        )
    return array


def mosaic(images: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
    """The images tiled row by row, ``columns`` a row, ``pad`` white pixels between them."""
    n, h, w, c = images.shape
    rows = math.ceil(n / columns)
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        out[top : top + h, left : left + w] = image
    return out


# ----- NDB/K and JSD against training step --------------------------------------------------------


def plot_ndb_curves(
    histories: Mapping[str, pd.DataFrame],
    png: str | os.PathLike,
    pdf: str | os.PathLike,
    *,
    alpha: float = 0.05,
    note: str | None = None,
) -> None:
    """NDB/K (left) and JSD (right) against the training step, one line per run.

    ``histories`` maps a run label (e.g. ``"z = 100"``) to its history (columns ``step``,
    ``ndb_fraction``, ``jsd``; see :func:`modedrop.gan.dcgan.train_dcgan`). The dashed line at
    ``alpha`` marks the NDB/K expected when the generated and training distributions do not
    differ (each bin is flagged with probability alpha by chance). ``note`` (e.g. the bins and
    sample sizes) is printed under the title.
    """
    _check_runs(histories, "histories")
    for label, history in histories.items():
        missing = [c for c in _CURVE_COLUMNS if c not in getattr(history, "columns", ())]
        if missing:
            raise ValueError(
                f"history of {label!r} lacks column(s) {missing}; pass the DataFrame returned "
                "by train_dcgan (or its CSV)."
            )
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}.")
    palette = sns.color_palette("colorblind", len(histories))
    with study_style(font_scale=0.85):
        fig, (ax_ndb, ax_jsd) = plt.subplots(1, 2, figsize=(10.0, 4.2))
        for (label, history), color in zip(histories.items(), palette, strict=True):
            h = history.sort_values("step")
            for ax, column in ((ax_ndb, "ndb_fraction"), (ax_jsd, "jsd")):
                ax.plot(h["step"], h[column], color=color, marker="o", markersize=3.5, label=label)
        ax_ndb.axhline(
            alpha, color=_GREY, linestyle="--", linewidth=1.0, label=f"\u03b1 = {alpha:g}"
        )
        ax_ndb.set_ylim(-0.03, 1.03)
        ax_ndb.set_ylabel("NDB/K")
        ax_ndb.set_title(
            f"NDB/K (\u2248 \u03b1 = {alpha:g}: no detectable difference)", fontsize=10
        )
        ax_jsd.set_ylim(bottom=0)
        ax_jsd.set_ylabel("JSD (nats)")
        ax_jsd.set_title("Jensen-Shannon divergence of the bin proportions", fontsize=10)
        for ax in (ax_ndb, ax_jsd):
            ax.set_xlabel("training step (batches)")
        ax_ndb.legend(fontsize=8, frameon=True)
        title = "NDB in pixel space while the DCGAN trains, by latent size (one seed per run)"
        fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=11)
        fig.tight_layout()
    save_figure(fig, png, pdf)


# ----- sample grids --------------------------------------------------------------------------------


def plot_sample_grids(
    samples: Mapping[str, np.ndarray],
    png: str | os.PathLike,
    pdf: str | os.PathLike,
    n: int = 64,
) -> None:
    """The first ``n`` generated images of each run as a square grid (8x8 for 64), side by
    side, titled with the run label."""
    _check_runs(samples, "samples")
    if isinstance(n, bool) or int(n) < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    grids = {label: _images(s, f"samples[{label!r}]")[: int(n)] for label, s in samples.items()}
    columns = math.ceil(math.sqrt(int(n)))
    fig, axes = plt.subplots(1, len(grids), figsize=(3.2 * len(grids), 3.6), squeeze=False)
    for ax, (label, images) in zip(axes.flat, grids.items(), strict=True):
        ax.imshow(mosaic(images, columns), interpolation="nearest")
        ax.set_title(f"{label} ({len(images)} images)", fontsize=10)
        ax.axis("off")
    fig.suptitle("Generated images at the end of training, one grid per run", fontsize=11)
    fig.tight_layout()
    save_figure(fig, png, pdf)


# ----- the most-filled bin -------------------------------------------------------------------------


def _final_parts(value, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(images, labels, reference_proportions, generated_proportions)`` of one run, from a
    tuple (e.g. :class:`modedrop.gan.dcgan_samples.FinalSamples`) or a mapping such as a
    loaded npz."""
    if isinstance(value, Mapping) or hasattr(value, "files"):
        parts: Sequence = [value[k] for k in _FINAL_KEYS]
    else:
        parts = tuple(value)[:4]
        if len(parts) != 4:
            raise ValueError(
                f"final[{label!r}] must hold (images, labels, reference_proportions, "
                "generated_proportions), e.g. read_final_samples(path)."
            )
    images = _images(parts[0], f"images of {label!r}")
    labels = np.asarray(parts[1])
    reference = np.asarray(parts[2], dtype=np.float64)
    generated = np.asarray(parts[3], dtype=np.float64)
    k = reference.size
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels of {label!r} must be {len(images)} integer bin indices (one per image); "
            f"got dtype {labels.dtype}, shape {labels.shape}."
        )
    if generated.shape != (k,) or k == 0 or labels.min() < 0 or labels.max() >= k:
        raise ValueError(
            f"{label!r}: proportions must be two length-K vectors and labels in 0..K-1; got "
            f"{reference.shape}, {generated.shape} and labels in {labels.min()}..{labels.max()}."
        )
    return images, labels, reference, generated


def largest_bin(labels: np.ndarray, generated_proportions: np.ndarray) -> tuple[int, np.ndarray]:
    """``(bin, positions)``: the bin holding the largest share of the generated images (the
    first such bin on ties) and the positions of the images in it."""
    largest = int(np.argmax(generated_proportions))
    return largest, np.flatnonzero(np.asarray(labels) == largest)


def plot_largest_bin(
    final: Mapping[str, object],
    png: str | os.PathLike,
    pdf: str | os.PathLike,
    n: int = 16,
) -> None:
    """For each run, up to ``n`` images of the NDB bin that received the most generated images
    at the last evaluation, titled with that bin's share of the generated and of the reference
    (training) images: a collapsed generator piles its samples into one bin that holds a few
    per cent of the training images."""
    _check_runs(final, "final")
    parts = {label: _final_parts(value, str(label)) for label, value in final.items()}
    columns = math.ceil(math.sqrt(int(n)))
    fig, axes = plt.subplots(1, len(parts), figsize=(3.2 * len(parts), 3.9), squeeze=False)
    for ax, (label, (images, labels, reference, generated)) in zip(
        axes.flat, parts.items(), strict=True
    ):
        largest, positions = largest_bin(labels, generated)
        members = images[positions[: int(n)]]
        ax.axis("off")
        if len(members):  # labels and proportions from one evaluation: never empty
            ax.imshow(mosaic(members, columns), interpolation="nearest")
        ax.set_title(
            f"{label}: bin {largest + 1} of {reference.size}\n"
            f"{generated[largest]:.1%} of generated vs {reference[largest]:.1%} of training",
            fontsize=9,
        )
    fig.suptitle(
        "Images of the bin that received the most generated samples (last evaluation)",
        fontsize=11,
    )
    fig.tight_layout()
    save_figure(fig, png, pdf)
