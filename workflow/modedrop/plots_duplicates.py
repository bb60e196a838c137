"""Near-duplicate pairs: a grid of the most similar image pairs of a subset, for a person to
judge whether they are the same picture (the pairs of :mod:`modedrop.metrics.duplicates`).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt

from modedrop.figure_style import rgb_image, save_figure

__all__ = ["plot_duplicate_pairs"]

_MAX_PAIRS = 20
_PAIRS_PER_ROW = 5


def _checked_pairs(pairs: Sequence[tuple]) -> list[tuple]:
    """``pairs`` as (image_a, image_b, similarity, caption) with RGB images and a finite float
    similarity; ValueError naming the first bad pair."""
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
            (rgb_image(a, f"pairs[{i}][0]"), rgb_image(b, f"pairs[{i}][1]"), similarity, caption)
        )
    return checked


def _pair_grid(n_pairs: int):
    """Figure and grid: two image columns per pair and a narrow spacer column between pairs."""
    per_row = min(n_pairs, _PAIRS_PER_ROW)
    rows = math.ceil(n_pairs / per_row)
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
    return fig, grid, per_row


def _draw_pair(fig, cells, index: int, a, b, similarity: float, caption) -> None:
    """Images ``a`` and ``b`` in ``cells`` (two grid cells), rank, cosine and caption below."""
    left = fig.add_subplot(cells[0])
    right = fig.add_subplot(cells[1])
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
    checked = _checked_pairs(pairs)
    fig, grid, per_row = _pair_grid(len(checked))
    for index, (a, b, similarity, caption) in enumerate(checked):
        row, slot = divmod(index, per_row)
        cells = (grid[row, 3 * slot], grid[row, 3 * slot + 1])
        _draw_pair(fig, cells, index, a, b, similarity, caption)
    fig.suptitle(title, fontsize=11, fontweight="bold", y=1 - 0.08 / fig.get_figheight())
    save_figure(fig, png_path, pdf_path)
