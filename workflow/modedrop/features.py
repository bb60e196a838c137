"""The feature cache: one HDF5 file per (data set, encoder) holding every image's embedding.

Layout (written by :mod:`modedrop.extraction`, read here):

* ``features`` - float32 [N, D], the encoder's representation of each image;
* ``logits``   - float32 [N, C], only when the encoder has a classifier head;
* ``image``    - the N image file names, in the same order (the data set's sorted order);
* ``face_found`` - bool [N], only for face encoders (``dlib_face``): whether a face was
  detected (False: the descriptor was computed on the whole image);
* attributes   - ``encoder``, ``weights_sha256``, ``preprocessing`` (JSON), ``versions`` (JSON),
  ``n_images`` (rows), ``device``; ``n_no_face`` with ``face_found``; ``n_skipped`` and
  ``skipped_images`` (JSON list): the images left out because they could not be decoded
  (``features.skip_unreadable``; absent from caches written before that option existed).

Every metric reads its subset's rows from this file, so changing experiments, seeds or metrics
never re-embeds an image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

FEATURES = "features"
LOGITS = "logits"
IMAGE = "image"
FACE_FOUND = "face_found"
N_NO_FACE = "n_no_face"
N_SKIPPED = "n_skipped"
SKIPPED_IMAGES = "skipped_images"
READ_BLOCK_ROWS = 8192
# Attributes stored as JSON text (HDF5 attributes hold no nested structures).
_JSON_ATTRS = ("preprocessing", "versions", SKIPPED_IMAGES)


class SkippedImageError(KeyError):
    """A requested image was left out of the cache as unreadable (``features.skip_unreadable``)."""


class FeatureCache:
    """Read-only access to a feature cache file; use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"feature cache {self.path} does not exist; run the extract_features rule "
                "(snakemake builds it when a metric needs it)"
            )
        self._file = h5py.File(self.path, "r")
        self._row_of: dict[str, int] | None = None

    def __enter__(self) -> FeatureCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @property
    def attrs(self) -> dict:
        """Cache attributes, with JSON-encoded ones decoded."""
        out = {}
        for key, value in self._file.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if key in _JSON_ATTRS:
                value = json.loads(value)
            out[key] = value.item() if isinstance(value, np.generic) else value
        return out

    @property
    def names(self) -> list[str]:
        return [n.decode() if isinstance(n, bytes) else n for n in self._file[IMAGE][:]]

    @property
    def has_logits(self) -> bool:
        return LOGITS in self._file

    @property
    def skipped(self) -> list[str]:
        """Images of the data set that have no row because they could not be decoded."""
        return list(self.attrs.get(SKIPPED_IMAGES, []))

    def rows(self, names: Sequence[str]) -> np.ndarray:
        """Row positions of ``names``; fails naming the images that are not in the cache."""
        if self._row_of is None:
            self._row_of = {name: row for row, name in enumerate(self.names)}
        missing = [n for n in names if n not in self._row_of]
        if missing:
            self._raise_if_skipped(missing)
            raise KeyError(
                f"{len(missing)} image(s) of the index are not in {self.path}, e.g. "
                f"{missing[:3]}; the index and the cache come from different data sets - "
                "delete the cache so it is rebuilt, or check the dataset setting"
            )
        return np.fromiter((self._row_of[n] for n in names), dtype=np.int64, count=len(names))

    def _raise_if_skipped(self, missing: Sequence[str]) -> None:
        """A dedicated error when missing images were skipped as unreadable at extraction."""
        skipped = set(self.skipped)
        were_skipped = [n for n in missing if n in skipped]
        if were_skipped:
            raise SkippedImageError(
                f"{len(were_skipped)} requested image(s) have no features in {self.path}: they "
                f"could not be decoded and were skipped at extraction "
                f"(features.skip_unreadable), e.g. {were_skipped[:3]}. Leave them out of the "
                "subset (the metric jobs do so, see modedrop.jobs.load_inputs), or replace the "
                "files, delete the cache and extract again"
            )

    def features(self, names: Sequence[str]) -> np.ndarray:
        return self._read(FEATURES, names)

    def logits(self, names: Sequence[str]) -> np.ndarray:
        if not self.has_logits:
            raise ValueError(
                f"{self.path} has no logits: encoder {self.attrs.get('encoder')!r} has no "
                "classifier head. Metrics on class probabilities (the Inception Score) need "
                "an encoder with one; choose another encoder for that metric in the config."
            )
        return self._read(LOGITS, names)

    def face_found(self, names: Sequence[str]) -> np.ndarray | None:
        """Per-image face-detection flags for ``names`` (None when the encoder records none)."""
        if FACE_FOUND not in self._file:
            return None
        return np.asarray(self._file[FACE_FOUND][:], dtype=bool)[self.rows(names)]

    def _read(self, dataset: str, names: Sequence[str]) -> np.ndarray:
        """Rows for ``names`` in the order given, read block by block.

        h5py's point selection on tens of thousands of scattered rows is slow; reading
        contiguous blocks and selecting in memory keeps a 51,200-of-202,599 read fast while
        never holding more than one block beyond the result.
        """
        rows = self.rows(names)
        data = self._file[dataset]
        out = np.empty((len(rows), data.shape[1]), dtype=data.dtype)
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        for start in range(0, data.shape[0], READ_BLOCK_ROWS):
            lo, hi = np.searchsorted(sorted_rows, [start, start + READ_BLOCK_ROWS])
            if lo == hi:
                continue
            block = data[start : min(start + READ_BLOCK_ROWS, data.shape[0])]
            out[order[lo:hi]] = block[sorted_rows[lo:hi] - start]
        if not np.isfinite(out).all():
            raise ValueError(
                f"{self.path} holds NaN or Inf in {dataset!r} for this subset; the encoder "
                "produced invalid outputs - delete the cache and re-extract"
            )
        return out


def write_cache(
    path: str | Path,
    *,
    names: Sequence[str],
    feature_dim: int,
    num_classes: int | None,
    attrs: dict,
) -> h5py.File:
    """Create an empty cache file with its datasets and attributes; the caller fills rows."""
    handle = h5py.File(path, "w")
    n = len(names)
    chunk_rows = max(1, min(n, 1024))
    handle.create_dataset(
        FEATURES, shape=(n, feature_dim), dtype="float32", chunks=(chunk_rows, feature_dim)
    )
    if num_classes is not None:
        handle.create_dataset(
            LOGITS, shape=(n, num_classes), dtype="float32", chunks=(chunk_rows, num_classes)
        )
    handle.create_dataset(IMAGE, data=np.asarray(names, dtype=h5py.string_dtype("utf-8")))
    for key, value in attrs.items():
        structured = isinstance(value, dict | list | tuple)
        handle.attrs[key] = json.dumps(value, sort_keys=True) if structured else value
    return handle
