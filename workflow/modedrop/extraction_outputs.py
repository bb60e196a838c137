"""What an extraction leaves behind: the feature cache assembled from its chunks, and the
throughput row of the run (see :mod:`modedrop.features` for the cache's layout).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modedrop.chunks import ChunkStore, fsync_folder
from modedrop.data.images import ImageDecodeError
from modedrop.features import (
    FACE_FOUND,
    FEATURES,
    LOGITS,
    N_NO_FACE,
    N_SKIPPED,
    SKIPPED_IMAGES,
    write_cache,
)

log = logging.getLogger(__name__)


def assemble_cache(
    store: ChunkStore, names: Sequence[str], attrs: dict, out_path: Path
) -> tuple[int, list[str]]:
    """Write the cache from the complete chunks, atomically; returns rows and skipped names.

    Written at ``<out>.partial`` and renamed to ``out_path`` when complete; the chunk folder is
    deleted only after the rename, so a kill at any point leaves either the chunks or the cache.
    """
    kept, skipped, reasons = [], [], []
    for index in range(store.n_chunks):
        rows, gone, why = store.positions(index)
        kept.append(rows)
        skipped += [names[p] for p in gone]
        reasons += list(why)
    rows = np.concatenate(kept)
    if not len(rows):
        raise ImageDecodeError(
            f"none of the {len(names)} images could be decoded (e.g. {reasons[:1]}); check the "
            "images folder or zip"
        )
    _warn_skipped(skipped, reasons)
    attrs = {**attrs, "n_images": len(rows), N_SKIPPED: len(skipped), SKIPPED_IMAGES: skipped}
    partial = out_path.with_name(out_path.name + ".partial")
    try:
        _write_rows(store, [names[p] for p in rows], attrs, partial)
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_folder(out_path.parent)
    store.remove()
    return len(rows), skipped


def _write_rows(store: ChunkStore, kept: list[str], attrs: dict, path: Path) -> None:
    with write_cache(
        path,
        names=kept,
        feature_dim=store.feature_dim,
        num_classes=store.num_classes,
        attrs=attrs,
    ) as cache:
        flags = []
        row = 0
        for index in range(store.n_chunks):
            chunk = store.load(index)
            stop = row + len(chunk.rows)
            cache[FEATURES][row:stop] = chunk.features
            if chunk.logits is not None:
                cache[LOGITS][row:stop] = chunk.logits
            if chunk.face_found is not None:
                flags.append(chunk.face_found)
            row = stop
        if store.face_flags:
            _record_face_found(cache, np.concatenate(flags), kept)


def _warn_skipped(skipped: list[str], reasons: list[str]) -> None:
    if not skipped:
        return
    shown = "; ".join(f"{name} ({why})" for name, why in zip(skipped[:20], reasons, strict=False))
    more = f"; and {len(skipped) - 20} more" if len(skipped) > 20 else ""
    log.warning(
        "left %d unreadable image(s) out of the cache (attribute %s lists them; the metric jobs "
        "leave them out of their subsets): %s%s",
        len(skipped),
        SKIPPED_IMAGES,
        shown,
        more,
    )


def _record_face_found(cache, found: np.ndarray, names: Sequence[str]) -> None:
    """Store a face encoder's per-image ``face_found`` flags (dlib_face); images are kept."""
    cache.create_dataset(FACE_FOUND, data=found)
    missing = np.flatnonzero(~found)
    cache.attrs[N_NO_FACE] = len(missing)
    if len(missing):
        log.warning(
            "no face detected in %d of %d images (e.g. %s); their descriptors were computed "
            "with the whole image as the face box (dataset %r of the cache flags them)",
            len(missing),
            len(names),
            ", ".join(names[i] for i in missing[:5]),
            FACE_FOUND,
        )


THROUGHPUT_COLUMNS = (
    "encoder",
    "images",
    "embedded",
    "resumed",
    "skipped",
    "seconds",
    "images_per_s",
    "device",
    "batch_size",
    "threads",
)


def write_throughput(path: str | Path, encoder: str, stats: dict, batch_size: int, threads: int):
    """One-row TSV of an extraction's throughput (Snakemake's benchmark columns are fixed).

    ``images_per_s`` counts the rows embedded by this run only (``embedded``); ``resumed``
    images came from an earlier, interrupted run's chunks.
    """
    row = {"encoder": encoder, **stats, "batch_size": batch_size, "threads": threads}
    lines = ["\t".join(THROUGHPUT_COLUMNS), "\t".join(str(row[c]) for c in THROUGHPUT_COLUMNS)]
    Path(path).write_text("\n".join(lines) + "\n")
