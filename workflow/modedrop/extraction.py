"""Embed every image of a data set once and write the feature cache (see modedrop.features)."""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from modedrop.data.images import ImageList
from modedrop.encoders import get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.weights import locate_weights
from modedrop.features import FACE_FOUND, FEATURES, LOGITS, N_NO_FACE, write_cache

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
) -> dict:
    """Embed ``images/name`` for every name and write the cache to ``out_path``.

    ``images`` is a folder or a zip file of images. ``weights`` is a configured weights file
    (``encoders.<name>.weights``); without one, the encoder's packaged weights or the Torch hub
    cache are used, downloading the file once if ``allow_download``. ``weights_sha256``
    (``encoders.<name>.sha256``) replaces the registry's reference hash. The weights are resolved
    (and verified) before any image is decoded, and the SHA-256 of the file actually used is
    stored in the cache.

    The cache is written to ``<out_path>.partial`` and renamed into place only when complete,
    so an interrupted run never leaves a file that looks finished. ``threads`` sets the number
    of decoding workers and, on the CPU, the number of intra-op threads.

    Returns run statistics (images, seconds, images/s, device).
    """
    if not names:
        raise ValueError(f"no images to embed in {images}")
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

    loader = torch.utils.data.DataLoader(
        ImageList(images, names, spec.preprocessing),
        batch_size=batch_size,
        shuffle=False,
        num_workers=max(0, threads - 1) if target.type == "cpu" else threads,
        pin_memory=target.type == "cuda",
        collate_fn=_stack,
    )
    attrs = {
        "encoder": spec.name,
        "weights_sha256": weights_sha256,
        "weights_file": weights_path.name,
        "preprocessing": spec.preprocessing.to_json(),
        "versions": library_versions(),
        "n_images": len(names),
        "device": target.type,
    }
    out_path = Path(out_path)
    partial = out_path.with_name(out_path.name + ".partial")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    with write_cache(
        partial,
        names=names,
        feature_dim=spec.feature_dim,
        num_classes=spec.num_classes,
        attrs=attrs,
    ) as cache:
        _fill(cache, model, loader, target, len(names), progress)
        _record_face_found(cache, model, names)
    seconds = time.perf_counter() - start
    os.replace(partial, out_path)

    rate = len(names) / seconds
    log.info(
        "embedded %d images with %s in %.1f s (%.1f images/s on %s)",
        len(names),
        spec.name,
        seconds,
        rate,
        target,
    )
    return {"images": len(names), "seconds": seconds, "images_per_s": rate, "device": str(target)}


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


def _fill(cache, model, loader, device: torch.device, total: int, progress: bool) -> None:
    """Run the model over the loader; batches may be float (normalised) or uint8 (raw).

    uint8 batches are passed through unchanged (the model converts them itself); the bf16
    autocast on CUDA applies to the encoders that allow it (inception_v3 disables it inside).
    """
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    row = 0
    # mininterval keeps the log readable when stderr is a file (Snakemake's log:).
    bar = tqdm(total=total, unit="img", desc="embedding", disable=not progress, mininterval=5)
    with torch.inference_mode(), autocast, bar:
        for batch in loader:
            batch = batch.to(device, non_blocking=True, memory_format=torch.channels_last)
            features, logits = model(batch)
            stop = row + len(batch)
            cache[FEATURES][row:stop] = features.float().cpu().numpy()
            if logits is not None and LOGITS in cache:
                cache[LOGITS][row:stop] = logits.float().cpu().numpy()
            row = stop
            bar.update(len(batch))
    if row != total:
        raise RuntimeError(f"embedded {row} images but expected {total}")


def _record_face_found(cache, model, names: Sequence[str]) -> None:
    """Store a face encoder's per-image ``face_found`` flags (dlib_face); images are kept."""
    flags = getattr(model, FACE_FOUND, None)
    if flags is None:
        return
    if len(flags) != len(names):
        raise RuntimeError(f"the encoder flagged {len(flags)} images but embedded {len(names)}")
    found = np.asarray(flags, dtype=bool)
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
    "seconds",
    "images_per_s",
    "device",
    "batch_size",
    "threads",
)


def write_throughput(path: str | Path, encoder: str, stats: dict, batch_size: int, threads: int):
    """One-row TSV of an extraction's throughput (Snakemake's benchmark columns are fixed)."""
    row = {"encoder": encoder, **stats, "batch_size": batch_size, "threads": threads}
    lines = ["\t".join(THROUGHPUT_COLUMNS), "\t".join(str(row[c]) for c in THROUGHPUT_COLUMNS)]
    Path(path).write_text("\n".join(lines) + "\n")
