"""Build CelebA-format folders for tests: real (or synthetic) metadata plus stand-in JPEGs.

``make_celeba_folder`` writes the three metadata files and one cheap 178x218 JPEG per listed
image (a random two-colour gradient, distinct per image). The full 202,599-image set is made of
hardlinks to a pool of a few hundred distinct JPEGs (about 4 s on ext4) or a zip of stored
entries written directly (about 2 s, 400 MB); see ``tests/test_celeba_source.py``.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    read_attributes,
    read_identities,
    read_partition,
    write_attributes,
    write_identities,
    write_partition,
)

POOL_SIZE = 256  # distinct JPEGs behind a large (hardlinked or zipped) image set
_AUTO_POOL_ABOVE = 2000  # image sets larger than this use a pool unless told otherwise


def stand_in_jpeg(index: int, size: tuple[int, int] = (178, 218), quality: int = 75) -> bytes:
    """A JPEG of ``size`` (width, height): a gradient between two colours seeded by ``index``."""
    rng = np.random.default_rng(index)
    width, height = size
    colours = rng.integers(0, 256, (2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.cos(angle) * x / width + np.sin(angle) * y / height
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    pixels = colours[0] * (1 - t[..., None]) + colours[1] * t[..., None]
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def _pool(n: int, size: tuple[int, int]) -> tuple[bytes, ...]:
    return tuple(stand_in_jpeg(i, size) for i in range(n))


def write_synthetic_metadata(dest: Path, n_rows: int, seed: int = 0) -> list[str]:
    """The three metadata files for ``n_rows`` images 000001.jpg... (random values); names."""
    rng = np.random.default_rng(seed)
    names = pd.Index([f"{i:06d}.jpg" for i in range(1, n_rows + 1)], name="image")
    values = rng.choice(np.array([-1, 1], np.int8), size=(n_rows, len(ATTRIBUTE_NAMES)))
    write_attributes(dest / ATTRIBUTE_FILE, pd.DataFrame(values, names, list(ATTRIBUTE_NAMES)))
    write_partition(dest / PARTITION_FILE, pd.Series(rng.integers(0, 3, n_rows), names))
    write_identities(dest / IDENTITY_FILE, pd.Series(rng.integers(1, 50, n_rows), names))
    return names.tolist()


def _head(path: Path, n_lines: int) -> bytes:
    with open(path, "rb") as fh:
        return b"".join(fh.readline() for _ in range(n_lines))


def _first_rows(meta_dir: Path, dest: Path, n_rows: int) -> list[str]:
    """The first ``n_rows`` rows of the real files, re-written with the official writers."""
    scratch = dest / ".head"
    scratch.mkdir()
    head = _head(meta_dir / ATTRIBUTE_FILE, n_rows + 2).split(b"\r\n", 1)[1]
    (scratch / ATTRIBUTE_FILE).write_bytes(f"{n_rows}\r\n".encode() + head)
    (scratch / PARTITION_FILE).write_bytes(_head(meta_dir / PARTITION_FILE, n_rows))
    (scratch / IDENTITY_FILE).write_bytes(_head(meta_dir / IDENTITY_FILE, n_rows))
    attributes = read_attributes(scratch / ATTRIBUTE_FILE)
    write_attributes(dest / ATTRIBUTE_FILE, attributes)
    write_partition(dest / PARTITION_FILE, read_partition(scratch / PARTITION_FILE))
    write_identities(dest / IDENTITY_FILE, read_identities(scratch / IDENTITY_FILE))
    shutil.rmtree(scratch)
    return attributes.index.tolist()


def _names(partition: Path) -> list[str]:
    return [line.split(maxsplit=1)[0] for line in partition.read_bytes().decode().splitlines()]


def write_stored_zip(path: Path, members: Sequence[str], contents: Sequence[bytes]) -> None:
    """A zip of stored (uncompressed) entries ``members[i]`` = ``contents[i % len(contents)]``.

    Written directly (local headers, central directory, zip64 end records for more than 65,535
    entries), about 4x faster than ``zipfile`` for 202,599 entries since nothing is seeked back.
    Members must be ASCII and the archive below 4 GiB.
    """
    crcs = [zlib.crc32(data) for data in contents]
    dos_time, dos_date = 0, (2015 - 1980) << 9 | 1 << 5 | 1  # 2015-01-01 00:00
    central = []
    offset = 0
    with open(path, "wb", buffering=1 << 24) as fh:
        for i, member in enumerate(members):
            data = contents[i % len(contents)]
            crc, name = crcs[i % len(contents)], member.encode("ascii")
            fields = (20, 0, 0, dos_time, dos_date, crc, len(data), len(data), len(name), 0)
            fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name + data)
            central.append(
                struct.pack("<IH", 0x02014B50, 0x0314)
                + struct.pack("<HHHHHIIIHHHHHII", *fields, 0, 0, 0, 0o100644 << 16, offset)
                + name
            )
            offset += 30 + len(name) + len(data)
            if offset >= 0xFFFFFFFF:
                raise ValueError("write_stored_zip: archives above 4 GiB are not supported")
        directory = b"".join(central)
        fh.write(directory)
        n, end = len(members), offset + len(directory)
        fh.write(
            struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(directory), offset)
        )
        fh.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        short = min(n, 0xFFFF)
        fh.write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, short, short, len(directory), offset, 0)
        )


def make_celeba_folder(
    dest: str | os.PathLike[str],
    meta_dir: str | os.PathLike[str] | None,
    n_rows: int | None = None,
    zipped: bool = False,
    size: tuple[int, int] = (178, 218),
    hardlink_pool: int | None = None,
) -> Path:
    """Write a CelebA-format folder at ``dest`` and return it.

    Metadata: from ``meta_dir`` (the real files): byte-exact copies when ``n_rows`` is None
    (copies, never hardlinks, so a test editing them cannot touch the originals), else their
    first ``n_rows`` rows re-written in the official layout; with ``meta_dir=None``, synthetic
    metadata for ``n_rows`` images. Images: ``img_align_celeba/`` or, with ``zipped``,
    ``img_align_celeba.zip`` (stored entries under ``img_align_celeba/``), one stand-in JPEG of
    ``size`` per listed image. ``hardlink_pool``: the number of distinct JPEGs behind the images
    (hardlinked in a folder, repeated in a zip); None: distinct images up to 2,000, else 256;
    0: always distinct.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if meta_dir is None:
        if n_rows is None:
            raise ValueError("make_celeba_folder: synthetic metadata needs n_rows")
        names = write_synthetic_metadata(dest, n_rows)
    elif n_rows is None:
        for name in (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE):
            shutil.copyfile(Path(meta_dir) / name, dest / name)
        names = _names(dest / PARTITION_FILE)
    else:
        names = _first_rows(Path(meta_dir), dest, n_rows)

    if hardlink_pool is None:
        hardlink_pool = POOL_SIZE if len(names) > _AUTO_POOL_ABOVE else 0
    n_distinct = min(hardlink_pool, len(names)) if hardlink_pool else len(names)
    pool = _pool(n_distinct, tuple(size)) if hardlink_pool else None
    contents = pool if pool is not None else [stand_in_jpeg(i, size) for i in range(len(names))]

    if zipped:
        write_stored_zip(dest / f"{IMAGE_DIR}.zip", [f"{IMAGE_DIR}/{n}" for n in names], contents)
        return dest
    folder = dest / IMAGE_DIR
    folder.mkdir()
    for name, data in zip(names[:n_distinct], contents, strict=False):
        (folder / name).write_bytes(data)
    first = [str(folder / name) for name in names[:n_distinct]]
    for k in range(n_distinct, len(names)):
        os.link(first[k % n_distinct], folder / names[k])
    return dest
