"""Decoding image files for the encoders (a torch Dataset over a list of file names)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2.functional import pil_to_tensor


class ImageDecodeError(RuntimeError):
    """An image file could not be read or decoded; the message names the file."""


class ImageList(torch.utils.data.Dataset):
    """Images ``root/name`` for each name, decoded to RGB and passed through ``transform``."""

    def __init__(
        self,
        root: str | Path,
        names: Sequence[str],
        transform: Callable[[torch.Tensor], torch.Tensor],
    ):
        self.root = Path(root)
        self.names = list(names)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> torch.Tensor:
        path = self.root / self.names[index]
        # Pillow (libjpeg-turbo) decodes; torchvision.io's decoders are deprecated since 0.29.
        try:
            with Image.open(path) as handle:
                image = pil_to_tensor(handle.convert("RGB"))
        except (UnidentifiedImageError, OSError) as error:
            raise ImageDecodeError(f"cannot decode image {path}: {error}") from error
        return self.transform(image)


def list_images(
    root: str | Path, suffixes: tuple[str, ...] = (".jpg", ".jpeg", ".png")
) -> list[str]:
    """Sorted file names of the images directly inside ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    names = sorted(p.name for p in root.iterdir() if p.suffix.lower() in suffixes)
    if not names:
        raise FileNotFoundError(f"image folder {root} holds no {'/'.join(suffixes)} files")
    return names
