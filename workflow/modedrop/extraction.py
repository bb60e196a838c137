"""Embed every image of a data set once and write the feature cache (see modedrop.features).

Extraction is resumable and atomic. Embedding CelebA takes hours on a CPU, so the rows are
computed in chunks of ``chunk_rows`` images and every complete chunk is saved in the folder
``<out>.chunks/`` beside the cache:

* ``manifest.json`` - everything that determines the rows (encoder, weights hash,
  preprocessing, the code and library versions, the image list, batch size, chunk size,
  device type). A re-run whose manifest differs discards the folder with a warning.
* ``chunk_000000.npz``, ... - one file per complete chunk (features, logits, face flags, and
  the images skipped as unreadable). Each is written under a temporary name, flushed to disk
  and renamed, so a chunk file exists only when it is complete.

A re-run (after a crash, a kill or a time limit) resumes after the last run of consecutive
usable chunks. ``chunk_rows`` is a multiple of the batch size, so a resumed run feeds the
model exactly the batches of an uninterrupted run (CPU convolutions may round differently
with another batch composition) and the cache it writes is identical. The cache itself is
assembled at ``<out>.partial`` and renamed to ``<out>`` when complete; the chunk folder is
deleted afterwards. Nothing incomplete is ever left under the final name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from modedrop.chunks import CHUNK_FORMAT, Chunk, ChunkStore, chunk_rows_for, fsync_folder
from modedrop.data.images import ImageDecodeError, ImageList, ImageMissingError
from modedrop.encoders import get_encoder
from modedrop.encoders.base import EncoderSpec, file_sha256
from modedrop.encoders.weights import locate_weights
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

VERSIONED_PACKAGES = (
    "modedrop",
    "torch",
    "torchvision",
    "timm",
    "torch-fidelity",
    "numpy",
    "h5py",
    "pillow",
)
_SKIP_HINT = (
    "Replace the file, or set features.skip_unreadable: true to leave unreadable images out "
    "of the cache (they are then listed in its attribute skipped_images and left out of every "
    "subset)"
)
_MISSING_HINT = (
    "The image list (attribute file) and the images come from different data sets; check "
    "the data set's paths in the config"
)


class NonFiniteFeaturesError(ValueError):
    """The encoder produced NaN or Inf; the message names the first images concerned."""


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present; the CPU fallback is logged as a warning."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.warning(
            "no GPU found: extracting features on the CPU, which is much slower on large "
            "data sets (set features.device: cpu to silence this warning)"
        )
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"features.device is {requested!r} but no CUDA device is visible; use 'auto' or 'cpu'"
        )
    return device


def _check_arguments(names: Sequence[str], batch_size: int, chunk_images: int, threads: int):
    for label, value in (("batch_size", batch_size), ("chunk_images", chunk_images)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"features.{label} must be an integer >= 1, got {value!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if len(set(names)) != len(names):
        twice = [name for name, count in Counter(names).items() if count > 1]
        raise ValueError(
            f"the image list names {len(twice)} image(s) more than once, e.g. {twice[:3]}; "
            "every image must have exactly one row in the cache - fix the attribute file"
        )


def extract_features(
    images: str | Path,
    names: Sequence[str],
    encoder_name: str,
    out_path: str | Path,
    *,
    weights: str | Path | None = None,
    weights_sha256: str | None = None,
    allow_download: bool = True,
    batch_size: int = 64,
    threads: int = 1,
    device: str = "auto",
    progress: bool = True,
    chunk_images: int = 4096,
    skip_unreadable: bool = False,
) -> dict:
    """Embed ``images/name`` for every name and write the cache to ``out_path``.

    ``images`` is a folder or a zip file of images. ``weights`` is a configured weights file
    (``encoders.<name>.weights``); without one, the encoder's packaged weights or the Torch hub
    cache are used, downloading the file once if ``allow_download``. ``weights_sha256``
    (``encoders.<name>.sha256``) replaces the registry's reference hash. The weights are resolved
    (and verified) before any image is decoded, and the SHA-256 of the file actually used is
    stored in the cache.

    Rows are saved in chunks of ``chunk_images`` images (rounded up to a multiple of
    ``batch_size``) in ``<out_path>.chunks/``; a re-run resumes after the last complete chunk
    (see the module docstring). ``threads`` sets the number of decoding workers and, on the
    CPU, the number of intra-op threads.

    An image that cannot be decoded stops the extraction with an error naming it, unless
    ``skip_unreadable``: it is then left out of the cache, logged, and listed in the cache's
    attributes ``skipped_images``/``n_skipped``. A missing image always stops it. NaN or Inf
    in the encoder's outputs stop it too (:class:`NonFiniteFeaturesError`).

    Returns run statistics: ``images`` (rows in the cache), ``embedded`` (rows computed by this
    run), ``resumed`` (images whose chunk an earlier run had completed), ``skipped``,
    ``seconds``, ``images_per_s`` (embedded rows per second) and ``device``.
    """
    if not names:
        raise ValueError(f"no images to embed in {images}")
    names = list(names)
    _check_arguments(names, batch_size, chunk_images, threads)
    spec = get_encoder(encoder_name)
    weights_path = locate_weights(
        spec, configured=weights, allow_download=allow_download, sha256=weights_sha256
    )
    weights_sha256 = file_sha256(weights_path)
    target = resolve_device(device)
    if target.type == "cpu":
        torch.set_num_threads(max(1, threads))
    # channels_last: 2.5x faster on the CPU (oneDNN) and the layout tensor cores want on GPUs.
    model = spec.build(weights_path).to(target, memory_format=torch.channels_last)

    out_path = Path(out_path)
    store = ChunkStore.for_run(
        out_path,
        run_manifest(
            spec=spec,
            weights_sha256=weights_sha256,
            names=names,
            images=images,
            chunk_rows=chunk_rows_for(chunk_images, batch_size),
            batch_size=batch_size,
            device=target,
        ),
        spec,
        face_flags=hasattr(model, FACE_FOUND),
    )
    done = store.open(skip_unreadable)

    start = time.perf_counter()
    embedded = 0
    if done < store.n_chunks:
        loader = _loader(images, names, spec, store.rows_before(done), batch_size, threads, target)
        run = _Run(model, target, store, names, skip_unreadable, spec.name)
        embedded = run.embed(loader, first_chunk=done, progress=progress)
    attrs = {
        "encoder": spec.name,
        "weights_sha256": weights_sha256,
        "weights_file": weights_path.name,
        "preprocessing": spec.preprocessing.to_json(),
        "versions": store.manifest["versions"],
        "device": target.type,
    }
    rows, skipped = assemble_cache(store, names, attrs, out_path)
    stats = {
        "images": rows,
        "embedded": embedded,
        "resumed": store.rows_before(done),
        "skipped": len(skipped),
        "seconds": time.perf_counter() - start,
        "device": str(target),
    }
    stats["images_per_s"] = embedded / stats["seconds"] if stats["seconds"] > 0 else 0.0
    log.info(
        "cache %s with %s: %d rows (%d embedded by this run, %d images resumed from earlier "
        "chunks, %d skipped as unreadable) in %.1f s (%.1f images/s on %s)",
        out_path,
        spec.name,
        *(stats[k] for k in ("images", "embedded", "resumed", "skipped", "seconds")),
        stats["images_per_s"],
        target,
    )
    return stats


# --- what determines the rows -------------------------------------------------------------


def run_manifest(
    *,
    spec: EncoderSpec,
    weights_sha256: str,
    names: Sequence[str],
    images: str | Path,
    chunk_rows: int,
    batch_size: int,
    device: torch.device,
) -> dict:
    """Everything that determines the rows; chunks of another manifest are never reused.

    ``skip_unreadable`` is left out on purpose: chunks made without it hold no skipped image,
    so they are valid with it too, and switching it on after a run stopped on a corrupt file
    resumes instead of starting over (chunks with skipped images are not reused without it,
    see :meth:`ChunkStore.open`).
    """
    return {
        "format": CHUNK_FORMAT,
        "encoder": spec.name,
        "weights_sha256": weights_sha256,
        "preprocessing": spec.preprocessing.to_json(),
        "code_sha256": _code_sha256(),
        "versions": library_versions(),
        "images": _source_identity(images),
        "names_sha256": hashlib.sha256(json.dumps(list(names)).encode()).hexdigest(),
        "n_images": len(names),
        "chunk_rows": chunk_rows,
        "batch_size": batch_size,
        "device": device.type,
    }


def _code_sha256() -> str:
    """Hash of the code that turns an image into a row (decoding, encoders, this module).

    The package version does not change when this code is edited; the rows may.
    """
    import modedrop.chunks
    import modedrop.data.images
    import modedrop.encoders

    files = sorted(Path(modedrop.encoders.__file__).parent.glob("*.py"))
    files += [Path(modedrop.data.images.__file__), Path(modedrop.chunks.__file__), Path(__file__)]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _source_identity(images: str | Path) -> dict:
    """Size and modification time of a zip of images: a replaced zip invalidates the chunks.

    A folder is identified by the image names only (hashing every file would cost a full read
    of the data set, and a folder's own mtime changes whenever a file is added beside it).
    """
    path = Path(images)
    if path.is_file():
        stat = path.stat()
        return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return {}


# --- decoding and embedding ---------------------------------------------------------------


class _Decoded(torch.utils.data.Dataset):
    """``(position, image, None)`` or ``(position, None, error)`` for one image.

    Decoding errors travel to the main process as data: there the run either skips the image
    or stops with a short message naming it (an exception raised in a DataLoader worker
    reaches the user wrapped in the worker's traceback).
    """

    def __init__(self, images: ImageList):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, position: int):
        try:
            return position, self.images[position], None
        except ImageDecodeError as error:
            return position, None, error


@dataclass
class _Batch:
    """A batch of decoded images and the failures among its positions."""

    positions: list[int]
    images: torch.Tensor | None
    failed: list[tuple[int, ImageDecodeError]]
    end: int
    size: int

    def pin_memory(self) -> _Batch:
        """Called by the DataLoader's pinning thread (CUDA) instead of its generic recursion."""
        if self.images is not None:
            self.images = self.images.pin_memory()
        return self


def _collate(items: list[tuple]) -> _Batch:
    decoded = [(position, image) for position, image, error in items if error is None]
    failed = [(position, error) for position, _, error in items if error is not None]
    images = _stack([image for _, image in decoded]) if decoded else None
    end = max(position for position, _, _ in items) + 1
    return _Batch([p for p, _ in decoded], images, failed, end, len(items))


def _stack(batch: list[torch.Tensor]) -> torch.Tensor:
    """Collate one batch; images kept at native size (uint8 encoders) must share one size."""
    sizes = {tuple(image.shape) for image in batch}
    if len(sizes) > 1:
        raise ValueError(
            f"images of different sizes in one batch ({sorted(sizes)}): this encoder takes "
            "images at their native size, so every image of the data set must have the same "
            "size (CelebA's aligned crops are all 178x218)"
        )
    return torch.stack(batch)


def _loader(
    images: str | Path,
    names: Sequence[str],
    spec: EncoderSpec,
    first: int,
    batch_size: int,
    threads: int,
    device: torch.device,
) -> torch.utils.data.DataLoader:
    """Batches of the images from position ``first`` on (a chunk boundary), in order."""
    decoded = _Decoded(ImageList(images, names, spec.preprocessing))
    return torch.utils.data.DataLoader(
        torch.utils.data.Subset(decoded, range(first, len(names))),
        batch_size=batch_size,
        shuffle=False,
        num_workers=max(0, threads - 1) if device.type == "cpu" else threads,
        pin_memory=device.type == "cuda",
        collate_fn=_collate,
    )


@dataclass
class _Pending:
    """The rows of the chunk being filled."""

    rows: list[int] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    logits: list[np.ndarray] = field(default_factory=list)
    face_found: list[np.ndarray] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def chunk(self, store: ChunkStore) -> Chunk:
        def joined(parts: list[np.ndarray], width: int | None, dtype) -> np.ndarray:
            shape = (0,) if width is None else (0, width)
            return np.concatenate(parts) if parts else np.empty(shape, dtype=dtype)

        return Chunk(
            rows=np.asarray(self.rows, dtype=np.int64),
            features=joined(self.features, store.feature_dim, np.float32),
            logits=joined(self.logits, store.num_classes, np.float32)
            if store.num_classes is not None
            else None,
            face_found=joined(self.face_found, None, bool) if store.face_flags else None,
            skipped=np.asarray(self.skipped, dtype=np.int64),
            reasons=np.asarray(self.reasons, dtype=str),
        )


class _Run:
    """One extraction run: feeds the batches to the model and saves each complete chunk."""

    def __init__(
        self,
        model: torch.nn.Module,
        device: torch.device,
        store: ChunkStore,
        names: Sequence[str],
        skip_unreadable: bool,
        encoder: str,
    ):
        self.model = model
        self.device = device
        self.store = store
        self.names = names
        self.skip_unreadable = skip_unreadable
        self.encoder = encoder

    def embed(self, loader, first_chunk: int, progress: bool) -> int:
        """Embed every chunk from ``first_chunk`` on; returns the number of rows embedded.

        uint8 batches are passed through unchanged (the model converts them itself); the bf16
        autocast on CUDA applies to the encoders that allow it (inception_v3 disables it inside).
        """
        device = self.device
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
        index, pending, embedded = first_chunk, _Pending(), 0
        # mininterval keeps the log readable when stderr is a file (Snakemake's log:).
        bar = tqdm(
            total=self.store.n_images,
            initial=self.store.bounds(first_chunk)[0],
            unit="img",
            desc="embedding",
            disable=not progress,
            mininterval=5,
        )
        with torch.inference_mode(), autocast, bar:
            for batch in loader:
                self._record_failures(batch.failed, pending)
                if batch.images is not None:
                    self._embed_batch(batch, pending)
                    embedded += len(batch.positions)
                bar.update(batch.size)
                if batch.end == self.store.bounds(index)[1]:
                    self.store.write(index, pending.chunk(self.store))
                    index, pending = index + 1, _Pending()
        if index != self.store.n_chunks:
            raise RuntimeError(
                f"the extraction stopped after chunk {index} of {self.store.n_chunks}: the image "
                "loader ended early"
            )
        return embedded

    def _record_failures(self, failed: list[tuple[int, ImageDecodeError]], pending: _Pending):
        for position, error in failed:
            if isinstance(error, ImageMissingError):
                raise ImageMissingError(f"{error}. {_MISSING_HINT}")
            if not self.skip_unreadable:
                raise ImageDecodeError(f"{error}. {_SKIP_HINT}")
            log.warning("skipping unreadable image %s: %s", self.names[position], error)
            pending.skipped.append(position)
            pending.reasons.append(str(error))

    def _embed_batch(self, batch: _Batch, pending: _Pending) -> None:
        flags = getattr(self.model, FACE_FOUND, None)
        before = len(flags) if flags is not None else 0
        images = batch.images.to(self.device, non_blocking=True, memory_format=torch.channels_last)
        features, logits = self.model(images)
        if (logits is None) != (self.store.num_classes is None):
            raise RuntimeError(
                f"encoder {self.encoder!r} returned {'no ' if logits is None else ''}logits, but "
                f"its registry entry says num_classes={self.store.num_classes}"
            )
        features = features.float().cpu().numpy()
        logits = logits.float().cpu().numpy() if logits is not None else None
        self._check_finite(batch.positions, features, logits)
        pending.rows.extend(batch.positions)
        pending.features.append(features)
        if logits is not None:
            pending.logits.append(logits)
        if self.store.face_flags:
            # dlib_face appends one flag per image in call order: this batch's are the new ones.
            added = np.asarray(flags[before:], dtype=bool)
            if len(added) != len(batch.positions):
                raise RuntimeError(
                    f"the encoder flagged {len(added)} images but embedded {len(batch.positions)}"
                )
            pending.face_found.append(added)

    def _check_finite(self, positions: list[int], features: np.ndarray, logits) -> None:
        """Stop before a NaN or Inf row can reach a chunk, naming the images concerned."""
        bad = ~np.isfinite(features).all(axis=1)
        if logits is not None:
            bad |= ~np.isfinite(logits).all(axis=1)
        if bad.any():
            named = [self.names[positions[i]] for i in np.flatnonzero(bad)]
            raise NonFiniteFeaturesError(
                f"encoder {self.encoder!r} produced NaN or Inf outputs for {len(named)} image(s) "
                f"of a batch, first {named[:5]}; no cache was written. Check these images "
                "(blank or corrupt content) and the weights; on CUDA, bf16 overflow is also "
                "possible (try features.device: cpu)"
            )


# --- the cache ----------------------------------------------------------------------------


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
