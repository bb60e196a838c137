"""The sides that item 4 (benchmarks/bench_extraction.py) times against
:func:`modedrop.extraction.extract_features`: the naive extraction loop, the timer of our write
phase, and the GPU candidates that decode and/or preprocess on the device (bench only).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import modedrop.chunks
import modedrop.extraction
from modedrop.data.images import ImageList
from modedrop.encoders.base import EncoderSpec, Preprocessing
from modedrop.features import FeatureCache

# --- the naive loop and the write-phase timer ---------------------------------------------


def naive_extract(
    root: Path, names: list[str], spec: EncoderSpec, weights: Path, batch_size: int, device: str
) -> np.ndarray:
    """The plain loop: Pillow, the encoder's preprocessing, float32 batches, no workers."""
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor

    model = spec.build(weights).to(device)
    features = []
    with torch.no_grad():
        for start in range(0, len(names), batch_size):
            batch = []
            for name in names[start : start + batch_size]:
                with Image.open(root / name) as image:
                    batch.append(spec.preprocessing(pil_to_tensor(image.convert("RGB"))))
            output, _ = model(torch.stack(batch).to(device))
            features.append(output.float().cpu().numpy())
    return np.concatenate(features)


@dataclass
class WriteTimer:
    """Seconds spent in the write phase of ``extract_features`` while :meth:`patched` is on."""

    seconds: float = 0.0
    files: int = 0

    @contextlib.contextmanager
    def patched(self) -> Iterator[WriteTimer]:
        """Wrap the fsync'd chunk writes and the cache assembly (looked up at call time)."""
        write, assemble = modedrop.chunks.write_atomically, modedrop.extraction.assemble_cache

        def timed(fn: Callable, count: bool) -> Callable:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - start
                    self.files += count

            return wrapper

        modedrop.chunks.write_atomically = timed(write, True)
        modedrop.extraction.assemble_cache = timed(assemble, False)
        try:
            yield self
        finally:
            modedrop.chunks.write_atomically = write
            modedrop.extraction.assemble_cache = assemble


def cache_features(path: Path, names: list[str]) -> np.ndarray:
    """The cache's feature rows of ``names``, in that order."""
    with FeatureCache(path) as cache:
        return cache.features(names)


# --- preprocessing on the device (the GPU candidates) -----------------------------------


class EncodedFiles(torch.utils.data.Dataset):
    """The bytes of each file as a uint8 tensor: workers only read, the device decodes."""

    def __init__(self, root: Path, names: list[str]):
        self.root, self.names = root, names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.frombuffer(
            bytearray((self.root / self.names[index]).read_bytes()), dtype=torch.uint8
        )


def preprocess_batch(
    images: torch.Tensor | list[torch.Tensor], preprocessing: Preprocessing, device: torch.device
) -> torch.Tensor:
    """uint8 CHW images (a list, or a batch already stacked) -> the encoder's input batch,
    preprocessed on ``device``.

    Images of one size are moved and preprocessed as one batch (the same values as image by
    image, checked in the tests); mixed sizes go one by one.
    """
    if isinstance(images, list) and len({tuple(image.shape) for image in images}) == 1:
        images = torch.stack(images)
    if isinstance(images, torch.Tensor):
        return preprocessing(images.to(device, non_blocking=True))
    return torch.stack([preprocessing(image.to(device)) for image in images])


def stack_if_one_size(images: list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    """Collate in the worker (into shared memory, then pinned): one host-to-device copy."""
    if len({tuple(image.shape) for image in images}) == 1:
        return torch.stack(images)
    return images


def decode_batch(
    encoded: list[torch.Tensor], preprocessing: Preprocessing, device: torch.device
) -> torch.Tensor:
    """JPEG bytes -> the encoder's input batch, decoded and preprocessed on ``device``.

    One ``decode_jpeg`` call per batch: nvJPEG's batched decoder on CUDA, libjpeg-turbo on the
    CPU (the same pixels as Pillow's decoding, checked in the tests).
    """
    import warnings

    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        # torchvision >= 0.29 deprecates its decoders in favour of TorchCodec (not installed).
        warnings.simplefilter("ignore", DeprecationWarning)
        images = decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device)
    return preprocess_batch(images, preprocessing, device)


def unchanged(image: torch.Tensor) -> torch.Tensor:
    """The identity "preprocessing": workers ship the decoded uint8 image as it is."""
    return image


#: The two candidates: where the JPEGs are decoded; both preprocess on the device.
DECODERS = {
    "device": "JPEG decoding (decode_jpeg) + preprocessing on the device",
    "pillow": "Pillow decoding in workers + preprocessing on the device",
}


def device_preprocess_extract(
    root: Path,
    names: list[str],
    spec: EncoderSpec,
    weights: Path,
    batch_size: int,
    workers: int,
    device: torch.device,
    decode: str = "device",
) -> np.ndarray:
    """Extraction with the preprocessing (and with ``decode="device"`` the decoding) on
    ``device``; workers only read files (or decode them with Pillow, ``decode="pillow"``) and
    ship bytes or small uint8 images instead of float32 224x224 tensors. The model side is the
    library's: bf16 autocast on CUDA, ``channels_last``, ``inference_mode``. No chunks, no
    cache file: a candidate for ``extract_features`` on GPUs, measured here first."""
    if decode not in DECODERS:
        raise ValueError(f"decode must be one of {sorted(DECODERS)}, got {decode!r}")
    model = spec.build(weights).to(device, memory_format=torch.channels_last)
    files = EncodedFiles(root, names) if decode == "device" else ImageList(root, names, unchanged)
    loader = torch.utils.data.DataLoader(
        files,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=list if decode == "device" else stack_if_one_size,
        # decode_jpeg takes the bytes from pageable memory; pinning 256 small tensors per batch
        # would cost more than it saves.
        pin_memory=device.type == "cuda" and decode == "pillow",
    )
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    features = []
    with torch.inference_mode():
        for batch in loader:
            # float32 preprocessing as in the library's workers; autocast for the model only
            if decode == "device":
                images = decode_batch(batch, spec.preprocessing, device)
            else:
                images = preprocess_batch(batch, spec.preprocessing, device)
            with autocast:
                output, _ = model(images.contiguous(memory_format=torch.channels_last))
            features.append(output.float().cpu().numpy())
    return np.concatenate(features)
