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

The batches are embedded by :mod:`modedrop.embedding_run` and the cache is assembled by
:mod:`modedrop.extraction_outputs`; this module resolves the encoder, the device and the run
manifest, and feeds the image loader to the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import torch

from modedrop.chunks import CHUNK_FORMAT, ChunkStore, chunk_rows_for
from modedrop.data.images import ImageList
from modedrop.embedding_run import DecodedImages, EmbeddingRun, collate_images
from modedrop.encoders import get_encoder
from modedrop.encoders.base import EncoderSpec, file_sha256
from modedrop.encoders.weights import locate_weights
from modedrop.extraction_outputs import assemble_cache
from modedrop.features import FACE_FOUND

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
    (see the module docstring). ``threads`` sets the number of decoding workers, on the CPU
    the number of intra-op threads, and the number of worker processes of an encoder that has
    them (``use_processes``, see :class:`~modedrop.encoders.base.EncoderSpec`).

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
    if hasattr(model, "use_processes"):
        # An encoder that runs outside torch (dlib_face) spreads its batches over the job's
        # cores in worker processes; the rows do not depend on how many (not in the manifest).
        model.use_processes(threads)

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
    try:
        if done < store.n_chunks:
            first = store.rows_before(done)
            loader = _loader(images, names, spec, first, batch_size, threads, target)
            run = EmbeddingRun(model, target, store, names, skip_unreadable, spec.name)
            embedded = run.embed(loader, first_chunk=done, progress=progress)
    finally:
        if hasattr(model, "close"):
            model.close()  # the worker processes of use_processes()
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
    """Hash of the code that turns an image into a row: decoding, encoders, the chunk store
    and the extraction modules (this one, the embedding run and the cache assembly).

    The package version does not change when this code is edited; the rows may.
    """
    import modedrop.chunks
    import modedrop.data.images
    import modedrop.embedding_run
    import modedrop.encoders
    import modedrop.extraction_outputs

    files = sorted(Path(modedrop.encoders.__file__).parent.glob("*.py"))
    files += [Path(modedrop.data.images.__file__), Path(modedrop.chunks.__file__), Path(__file__)]
    files += [Path(modedrop.embedding_run.__file__), Path(modedrop.extraction_outputs.__file__)]
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
    decoded = DecodedImages(ImageList(images, names, spec.preprocessing))
    return torch.utils.data.DataLoader(
        torch.utils.data.Subset(decoded, range(first, len(names))),
        batch_size=batch_size,
        shuffle=False,
        num_workers=max(0, threads - 1) if device.type == "cpu" else threads,
        pin_memory=device.type == "cuda",
        collate_fn=collate_images,
    )
