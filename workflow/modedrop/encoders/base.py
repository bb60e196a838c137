"""Types shared by all encoders: preprocessing description and the registry entry.

Nothing here imports torch at module level: Snakemake imports the registry when it parses the
workflow (to validate encoder names), and that must stay fast. Networks are built on demand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Preprocessing:
    """How an encoder wants its images: resize the shorter side, centre-crop, normalise.

    Face crops are taller than wide (CelebA: 178x218). Resizing the shorter side to ``crop``
    and centre-cropping a square keeps the whole width of the face and trims the top and the
    bottom equally - the usual way CelebA is fed to square-input networks.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 CHW RGB tensor -> normalised float32 CHW tensor of size crop x crop."""
        import torch
        from torchvision.transforms.v2 import functional as TF

        mode = TF.InterpolationMode(self.interpolation)
        image = TF.resize(image, [self.resize], interpolation=mode, antialias=True)
        image = TF.center_crop(image, [self.crop, self.crop])
        image = TF.to_dtype(image, torch.float32, scale=True)
        return TF.normalize(image, list(self.mean), list(self.std))


@dataclass(frozen=True)
class EncoderSpec:
    """A registry entry.

    ``build`` returns the network in eval mode, whose ``forward(images)`` returns
    ``(features, logits)`` (logits None without a classifier head); ``weights_path`` returns the local file holding
    its weights (hashed into the feature cache so that a cache always says what made it).
    """

    name: str
    description: str
    feature_dim: int
    num_classes: int | None
    preprocessing: Preprocessing
    build: Callable[[], torch.nn.Module]
    weights_path: Callable[[], Path]

    @property
    def has_logits(self) -> bool:
        return self.num_classes is not None

    def weights_sha256(self) -> str:
        return file_sha256(self.weights_path())


@cache
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
