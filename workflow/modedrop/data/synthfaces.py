"""``synthfaces``: a deterministic, embedded stand-in for CelebA (cartoon faces, real statistics).

The study's default data set must exist on every machine without a download, yet behave like
CelebA where the protocol cares: 40 binary attributes with CelebA's prevalences and main
correlations, ~20 images per identity with identity-level attributes that persist, an
identity-disjoint train/valid/test split, and the same on-disk format (``img_align_celeba/``
plus the three metadata files), so every later step runs unchanged on the real data.

This module writes a data set (:func:`generate`). Attributes are sampled in
:mod:`modedrop.data.synthfaces_metadata` from a Gaussian copula fitted to CelebA
(``celeba_stats.json``, see :mod:`modedrop.data.fit_celeba_stats`); its ``VISIBLE_ATTRIBUTES``
change what is drawn and its ``NONVISUAL_ATTRIBUTES`` only exist in the attribute file (negative
controls: dropping them can be noticed only through their correlation with visible ones). Faces
are drawn by :mod:`modedrop.data.synthfaces_render` (with
:mod:`~modedrop.data.synthfaces_appearance`, :mod:`~modedrop.data.synthfaces_canvas` and
:mod:`~modedrop.data.synthfaces_parts`).
``docs/synthfaces.md`` is the data set card.

Everything is seeded through :class:`numpy.random.SeedSequence` with a fixed spawn key per
stream (metadata, identity, image), so the bytes written do not depend on ``workers``.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from multiprocessing import get_context
from pathlib import Path

from modedrop.data.celeba_format import ATTRIBUTE_FILE, IDENTITY_FILE, IMAGE_DIR, PARTITION_FILE
from modedrop.data.synthfaces_appearance import IdentityParams, identity_params
from modedrop.data.synthfaces_metadata import (
    SynthMetadata,
    check_counts,
    check_int,
    image_rng,
    sample_metadata,
    write_metadata,
)
from modedrop.data.synthfaces_render import DEFAULT_HEIGHT, DEFAULT_WIDTH, MIN_SIZE, render_face

__all__ = ["generate"]

_STATE: dict = {}


def _init_worker(state: dict) -> None:
    _STATE.clear()
    _STATE.update(state)


@functools.lru_cache(maxsize=4096)
def _cached_identity(seed: int, identity: int) -> IdentityParams:
    return identity_params(seed, identity)


def _render_range(bounds: tuple[int, int]) -> int:
    """Render and save images ``bounds[0] .. bounds[1]-1`` (worker side); returns the count."""
    s = _STATE
    names = s["attribute_names"]
    for i in range(*bounds):
        attrs = dict(zip(names, s["values"][i].tolist(), strict=True))
        ident = _cached_identity(s["seed"], int(s["identities"][i]))
        img = render_face(attrs, ident, image_rng(s["seed"], i), s["width"], s["height"])
        img.save(Path(s["img_dir"]) / f"{i + 1:06d}.jpg", "JPEG", quality=s["quality"])
    return bounds[1] - bounds[0]


# Moved into place in this order: the attribute file last, since its presence is what marks
# a finished data set (the workflow reads it at parse time when it exists).
_OUTPUTS = (IMAGE_DIR, PARTITION_FILE, IDENTITY_FILE, ATTRIBUTE_FILE)


def _prepare_target(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another out_dir.")
    existing = [name for name in _OUTPUTS if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds {existing}; delete them, choose another out_dir or pass "
            "overwrite=True."
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Rename the finished entries from ``tmp`` into ``out_dir``, replacing older ones.

    Only the four entries of the data set are touched, so ``out_dir`` may hold other files.
    """
    for name in _OUTPUTS:
        target = out_dir / name
        if target.exists() or target.is_symlink():
            _remove(target)
        (tmp / name).rename(target)
    tmp.rmdir()


def generate(
    out_dir: str | os.PathLike[str],
    *,
    n_images: int = 8000,
    n_identities: int = 400,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    seed: int = 0,
    workers: int = 1,
    jpeg_quality: int = 90,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthMetadata:
    """Write a synthetic set in CelebA's layout: ``out_dir/img_align_celeba/NNNNNN.jpg`` plus
    ``list_attr_celeba.txt``, ``list_eval_partition.txt`` and ``identity_CelebA.txt``.

    Image ``i`` is rendered from a generator derived from ``(seed, i)``, so the bytes are the
    same for any ``workers``. Everything is built in a hidden folder inside ``out_dir`` and
    renamed into place at the end (images first, attribute file last): an interrupted run never
    leaves a half-written image folder or metadata file under the final names. Other files in
    ``out_dir`` are left alone; existing data set entries are replaced only with
    ``overwrite=True``.
    """
    from tqdm import tqdm

    n_images, n_identities, seed = check_counts(n_images, n_identities, seed)
    width = check_int("width", width, MIN_SIZE)
    height = check_int("height", height, MIN_SIZE)
    workers = check_int("workers", workers, 1)
    jpeg_quality = check_int("jpeg_quality", jpeg_quality, 1)
    if jpeg_quality > 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality}.")
    out_dir = Path(out_dir)
    _prepare_target(out_dir, overwrite)
    meta = sample_metadata(n_images, n_identities, seed)

    tmp = out_dir / f".synthfaces-partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / IMAGE_DIR).mkdir(parents=True)
    state = {
        "seed": seed,
        "width": width,
        "height": height,
        "quality": jpeg_quality,
        "img_dir": str(tmp / IMAGE_DIR),
        "attribute_names": tuple(meta.attributes.columns),
        "values": meta.attributes.to_numpy(),
        "identities": meta.identities.to_numpy(),
    }
    step = 50
    chunks = [(lo, min(lo + step, n_images)) for lo in range(0, n_images, step)]
    bar = tqdm(total=n_images, desc="synthfaces", unit="img", file=sys.stderr, disable=not progress)
    try:
        if workers == 1:
            _init_worker(state)
            for done in map(_render_range, chunks):
                bar.update(done)
        else:
            ctx = get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(state,)) as pool:
                for done in pool.imap_unordered(_render_range, chunks):
                    bar.update(done)
        write_metadata(meta, tmp)
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
        _STATE.clear()
    return meta
