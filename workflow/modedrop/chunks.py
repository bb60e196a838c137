"""The chunk folder of a running extraction: progress that survives a kill.

``<out>.chunks/`` beside the cache holds ``manifest.json`` (everything that determines the rows;
see :func:`modedrop.extraction.run_manifest`) and one ``chunk_NNNNNN.npz`` per complete chunk
(features, logits, face flags, and the images skipped as unreadable). Every file is written
under a temporary name, flushed to disk and renamed, so a chunk file exists only when it is
complete; a kill at any instant leaves either the previous state or the next one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from modedrop.features import FACE_FOUND, FEATURES, LOGITS

if TYPE_CHECKING:
    from modedrop.encoders.base import EncoderSpec

log = logging.getLogger(__name__)

#: Bump when the chunk files change layout: older chunk folders are then discarded.
CHUNK_FORMAT = 1
MANIFEST_NAME = "manifest.json"
_CHUNK_FILE = re.compile(r"chunk_(\d{6})\.npz")
# What reading a damaged or foreign chunk file raises (np.load, zipfile, the checks below).
_UNUSABLE_CHUNK = (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile)


def chunk_folder(out_path: str | Path) -> Path:
    """The folder of complete chunks of an extraction into ``out_path`` (while it runs)."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".chunks")


def chunk_rows_for(chunk_images: int, batch_size: int) -> int:
    """``chunk_images`` rounded up to a multiple of ``batch_size``.

    A chunk then always ends on a batch boundary, so a run resumed at a chunk boundary forms
    the same batches as an uninterrupted one.
    """
    return -(-chunk_images // batch_size) * batch_size


@dataclass
class Chunk:
    """One chunk's rows: ``rows``/``skipped`` are positions in the image list."""

    rows: np.ndarray
    features: np.ndarray
    logits: np.ndarray | None
    face_found: np.ndarray | None
    skipped: np.ndarray
    reasons: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "rows": self.rows,
            FEATURES: self.features,
            "skipped": self.skipped,
            "reasons": self.reasons,
        }
        if self.logits is not None:
            out[LOGITS] = self.logits
        if self.face_found is not None:
            out[FACE_FOUND] = self.face_found
        return out


class ChunkStore:
    """The folder ``<out>.chunks/``: its manifest and one ``.npz`` file per complete chunk."""

    def __init__(
        self,
        folder: Path,
        manifest: dict,
        *,
        n_images: int,
        chunk_rows: int,
        feature_dim: int,
        num_classes: int | None,
        face_flags: bool,
    ):
        self.folder = Path(folder)
        self.manifest = manifest
        self.n_images = n_images
        self.chunk_rows = chunk_rows
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.face_flags = face_flags

    @classmethod
    def for_run(
        cls, out_path: Path, manifest: dict, spec: EncoderSpec, face_flags: bool
    ) -> ChunkStore:
        """The chunk folder beside ``out_path`` for a run described by ``manifest``."""
        out_path.parent.mkdir(parents=True, exist_ok=True)
        return cls(
            chunk_folder(out_path),
            manifest,
            n_images=manifest["n_images"],
            chunk_rows=manifest["chunk_rows"],
            feature_dim=spec.feature_dim,
            num_classes=spec.num_classes,
            face_flags=face_flags,
        )

    @property
    def n_chunks(self) -> int:
        return -(-self.n_images // self.chunk_rows)

    def rows_before(self, index: int) -> int:
        """Number of images (rows or skipped) in the chunks before chunk ``index``."""
        return min(index * self.chunk_rows, self.n_images)

    def bounds(self, index: int) -> tuple[int, int]:
        """First and one-past-last position of chunk ``index`` in the image list."""
        start = index * self.chunk_rows
        return start, min(start + self.chunk_rows, self.n_images)

    def path(self, index: int) -> Path:
        return self.folder / f"chunk_{index:06d}.npz"

    def open(self, skip_unreadable: bool) -> int:
        """Prepare the folder; returns how many leading chunks are reused (0: start over)."""
        self._discard_if_stale()
        if not (self.folder / MANIFEST_NAME).exists():
            self.folder.mkdir(exist_ok=True)
            write_atomically(
                self.folder / MANIFEST_NAME,
                lambda handle: handle.write(json.dumps(self.manifest, indent=1).encode()),
            )
            return 0
        done = self._usable_prefix(skip_unreadable)
        self._remove_chunks(first=done)
        if done:
            rows = self.rows_before(done)
            log.info(
                "resuming the extraction into %s from chunk %d, %d rows done (%d of %d images "
                "left)",
                self.folder,
                done,
                rows,
                self.n_images - rows,
                self.n_images,
            )
        return done

    def _discard_if_stale(self) -> None:
        if not self.folder.exists():
            return
        stored = _read_manifest(self.folder / MANIFEST_NAME)
        if stored == self.manifest:
            return
        if stored is None:
            why = "it has no readable manifest.json"
        else:
            keys = sorted(
                k for k in {*stored, *self.manifest} if stored.get(k) != self.manifest.get(k)
            )
            why = f"they were made with other settings ({', '.join(keys)} differ)"
        log.warning(
            "discarding the chunks in %s: %s; embedding every image again", self.folder, why
        )
        self.remove()

    def _usable_prefix(self, skip_unreadable: bool) -> int:
        """Number of consecutive complete, valid chunks from the first one."""
        for index in range(self.n_chunks):
            if not self.path(index).exists():
                return index
            try:
                chunk = self.load(index)
            except _UNUSABLE_CHUNK as error:
                log.warning(
                    "chunk file %s is unusable (%s); it is embedded again", self.path(index), error
                )
                return index
            if chunk.skipped.size and not skip_unreadable:
                # Made with skip_unreadable; without it the run must stop on those images.
                return index
        return self.n_chunks

    def write(self, index: int, chunk: Chunk) -> None:
        """Save a complete chunk; the file appears under its name only once fully written."""
        write_atomically(self.path(index), lambda handle: np.savez(handle, **chunk.arrays()))

    def positions(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Embedded positions, skipped positions and reasons of a chunk, without its features."""
        with np.load(self.path(index), allow_pickle=False) as data:
            return data["rows"], data["skipped"], data["reasons"]

    def load(self, index: int) -> Chunk:
        """Read and check a chunk file; raises ValueError/OSError when it is not usable."""
        with np.load(self.path(index), allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        chunk = Chunk(
            rows=arrays["rows"],
            features=arrays[FEATURES],
            logits=arrays.get(LOGITS),
            face_found=arrays.get(FACE_FOUND),
            skipped=arrays["skipped"],
            reasons=arrays["reasons"],
        )
        self._check(index, chunk)
        return chunk

    def _check(self, index: int, chunk: Chunk) -> None:
        start, stop = self.bounds(index)
        covered = np.sort(np.concatenate([chunk.rows, chunk.skipped]))
        if not np.array_equal(covered, np.arange(start, stop)) or np.any(np.diff(chunk.rows) <= 0):
            raise ValueError(f"its rows do not cover images {start}-{stop - 1} once, in order")
        n = len(chunk.rows)
        expected = {
            FEATURES: (chunk.features, (n, self.feature_dim)),
            LOGITS: (chunk.logits, None if self.num_classes is None else (n, self.num_classes)),
            FACE_FOUND: (chunk.face_found, (n,) if self.face_flags else None),
        }
        for key, (array, shape) in expected.items():
            if (array is None) != (shape is None) or (array is not None and array.shape != shape):
                raise ValueError(f"{key} has shape {getattr(array, 'shape', None)}, not {shape}")
        for array in (chunk.features, chunk.logits):
            if array is not None and (array.dtype != np.float32 or not np.isfinite(array).all()):
                raise ValueError("its features or logits are not finite float32")
        if chunk.face_found is not None and chunk.face_found.dtype != np.bool_:
            raise ValueError("its face_found flags are not booleans")
        if len(chunk.reasons) != len(chunk.skipped):
            raise ValueError("it gives no reason for some skipped images")

    def remove(self) -> None:
        """Delete the chunk folder (only the files this module writes in it)."""
        if not self.folder.exists():
            return
        self._remove_chunks(first=0)
        (self.folder / MANIFEST_NAME).unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError as error:
            log.warning("could not remove %s (%s); delete it by hand", self.folder, error)

    def _remove_chunks(self, first: int) -> None:
        """Delete chunk files from index ``first`` on, and temporary files of killed writes."""
        for entry in self.folder.iterdir():
            index = _chunk_index(entry.name)
            leftover = entry.name.endswith(".tmp")
            if leftover or (index is not None and index >= first):
                entry.unlink()


def _chunk_index(name: str) -> int | None:
    match = _CHUNK_FILE.fullmatch(name)
    return int(match[1]) if match else None


def _read_manifest(path: Path) -> dict | None:
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stored if isinstance(stored, dict) else None


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write to ``<path>.tmp``, flush it to disk, then rename: ``path`` is never partial."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename durable (POSIX); systems that cannot open folders skip it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
