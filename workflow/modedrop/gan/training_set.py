"""The DCGAN training set: every image decoded once, centre-cropped to a square and resized.

A DCGAN trains on small square images (32 or 64 pixels a side). Decoding and resizing the
JPEGs at every step would cost more than the training step itself, so the images are prepared
once and stored as one uint8 array ``(N, R, R, 3)`` in an HDF5 file (dataset ``images``, the
image names in dataset ``image``, attributes ``resolution`` and ``crop``).

Crop: the largest centred square (side ``min(width, height)``; CelebA's aligned 178x218 faces
lose 20 rows at the top and bottom, the default synthfaces' 96x118 lose 11), as in the usual
DCGAN CelebA preprocessing, so faces keep their aspect ratio. Resize: PIL's Lanczos filter,
which widens its kernel by the reduction factor (antialiased), so downsampling by 3-6x does not
alias the fine texture into the small image.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from modedrop.data.images import ImageList, is_zip_path

__all__ = [
    "CROP",
    "IMAGES",
    "NAMES",
    "RESOLUTIONS",
    "build_training_set",
    "center_square",
    "draw_training_sample",
    "prepare_image",
    "read_training_set",
]

#: HDF5 datasets: the uint8 (N, R, R, 3) images and their file names.
IMAGES = "images"
NAMES = "image"
#: What the ``crop`` attribute says (the crop is fixed; the attribute documents the file).
CROP = "center square, side min(width, height), then Lanczos resize"
#: Resolutions the DCGAN architectures exist for (see ``modedrop.gan.dcgan``).
RESOLUTIONS = (32, 64)
_BATCH = 64


def center_square(width: int, height: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the largest centred square of a ``width x height``
    image; an odd margin leaves its extra pixel at the right/bottom."""
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    return left, top, left + side, top + side


def prepare_image(image: Image.Image, resolution: int) -> np.ndarray:
    """RGB ``image`` centre-cropped to a square and resized to ``resolution`` pixels a side,
    as a uint8 ``(resolution, resolution, 3)`` array."""
    square = image.convert("RGB").crop(center_square(*image.size))
    resized = square.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.array(resized, dtype=np.uint8)  # a writable copy (torch.from_numpy needs one)


class _CropResize:
    """ImageList transform (a module-level class, so DataLoader workers can pickle it)."""

    def __init__(self, resolution: int):
        self.resolution = resolution

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        pil = Image.fromarray(image.permute(1, 2, 0).numpy())
        return torch.from_numpy(prepare_image(pil, self.resolution))


def _check_resolution(resolution: object) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise TypeError(f"resolution must be an int, got {type(resolution).__name__}.")
    if int(resolution) not in RESOLUTIONS:
        raise ValueError(
            f"resolution must be one of {RESOLUTIONS} (the DCGAN architectures), got {resolution}."
        )
    return int(resolution)


def _check_names(names: Sequence[str]) -> list[str]:
    names = [str(n) for n in names]
    if not names:
        raise ValueError("names is empty; pass the image file names of the training split.")
    if len(set(names)) != len(names):
        raise ValueError("names holds duplicates; pass each training image once.")
    return names


def build_training_set(
    images: str | Path,
    names: Sequence[str],
    resolution: int,
    out: Path,
    *,
    threads: int = 1,
    progress: bool = True,
) -> Path:
    """Decode, crop and resize the images ``names`` of the folder or zip ``images`` and write
    them to the HDF5 file ``out`` (atomically: a temporary file renamed at the end, so an
    interrupted run never leaves a truncated training set under the final name).

    ``threads > 1`` decodes in ``threads - 1`` worker processes (as the feature extraction
    does); the result does not depend on it.
    """
    resolution = _check_resolution(resolution)
    names = _check_names(names)
    images = Path(images)
    if not (images.is_dir() or is_zip_path(images)):
        raise FileNotFoundError(
            f"image folder or zip {images} does not exist; pass the folder of the images (or "
            "its .zip)."
        )
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        _write(images, names, resolution, tmp, int(threads), progress)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _write(
    images: Path, names: list[str], resolution: int, path: Path, threads: int, progress: bool
) -> None:
    loader = torch.utils.data.DataLoader(
        ImageList(images, names, _CropResize(resolution)),
        batch_size=_BATCH,
        shuffle=False,
        num_workers=threads - 1,
    )
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset(
            IMAGES,
            shape=(len(names), resolution, resolution, 3),
            dtype="uint8",
            chunks=(min(len(names), 256), resolution, resolution, 3),
        )
        handle.create_dataset(NAMES, data=np.asarray(names, dtype=h5py.string_dtype("utf-8")))
        handle.attrs["resolution"] = resolution
        handle.attrs["crop"] = CROP
        bar = tqdm(total=len(names), desc="training set", unit="img", disable=not progress)
        start = 0
        with bar:
            for batch in loader:
                data[start : start + len(batch)] = batch.numpy()
                start += len(batch)
                bar.update(len(batch))


def read_training_set(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """``(images, names)`` of a file written by :func:`build_training_set`: uint8
    ``(N, R, R, 3)`` and the N image names."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"training set {path} does not exist; build it with build_training_set."
        )
    with h5py.File(path, "r") as handle:
        if IMAGES not in handle or NAMES not in handle:
            raise ValueError(
                f"{path} holds no {IMAGES!r}/{NAMES!r} datasets; it is not a DCGAN training set "
                "(build one with build_training_set)."
            )
        images = handle[IMAGES][()]
        names = [n.decode("utf-8") for n in handle[NAMES][()]]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{path}: images must be uint8 (N, R, R, 3), got {images.dtype} {images.shape}; "
            "rebuild the training set."
        )
    if len(names) != len(images):
        raise ValueError(
            f"{path}: {len(images)} images but {len(names)} names; rebuild the training set."
        )
    return images, names


def draw_training_sample(n_images: int, n: int, seed: int) -> np.ndarray:
    """``n`` distinct indices of ``range(n_images)``, sorted, drawn with ``seed``: the real
    images NDB bins on, and the real sample the other metrics compare generated images to."""
    n_images, n = int(n_images), int(n)
    if not 1 <= n <= n_images:
        raise ValueError(
            f"cannot draw {n} distinct images from a training set of {n_images}; use "
            f"1 <= n <= {n_images} (or build a larger training set)."
        )
    rng = np.random.default_rng(int(seed))
    return np.sort(rng.choice(n_images, size=n, replace=False))
