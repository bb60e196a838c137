"""Types shared by all encoders: preprocessing, weights description and the registry entry.

Nothing here imports torch at module level: Snakemake imports the registry when it parses the
workflow (to validate encoder names and configured weight files), and that must stay fast.
Networks are built on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# torch.hub's convention: ``name-<first hex digits of the file's SHA-256>.ext``.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")


@dataclass(frozen=True)
class Preprocessing:
    """How an encoder wants its images: resize the shorter side, centre-crop, normalise.

    Face crops are taller than wide (CelebA: 178x218). Resizing the shorter side to ``crop``
    and centre-cropping a square keeps the whole width of the face and trims the top and the
    bottom equally - the usual way CelebA is fed to square-input networks.

    Every step is optional. Without ``resize``/``crop`` the image keeps its native size;
    without ``mean``/``std`` it stays uint8 in [0, 255] (the encoder converts it itself - the
    FID Inception-v3 resizes and normalises inside the network, as in TensorFlow).
    """

    resize: int | None = None
    crop: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    interpolation: str = "bicubic"
    # What the network itself does to its input, for the record (to_json), e.g. a resize.
    in_network: str | None = None

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ValueError("Preprocessing needs both mean and std, or neither")

    @property
    def normalises(self) -> bool:
        return self.mean is not None

    @property
    def output_dtype(self) -> str:
        return "float32" if self.normalises else "uint8"

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "output_dtype": self.output_dtype}, sort_keys=True)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """uint8 CHW RGB tensor -> the tensor the encoder takes (float32 or uint8)."""
        if self.resize is None and self.crop is None and not self.normalises:
            return image  # unchanged; and no torchvision import (seconds per pixel-metric job)
        import torch
        from torchvision.transforms.v2 import functional as TF

        mode = TF.InterpolationMode(self.interpolation)
        if self.resize is not None:
            image = TF.resize(image, [self.resize], interpolation=mode, antialias=True)
        if self.crop is not None:
            image = TF.center_crop(image, [self.crop, self.crop])
        if not self.normalises:
            return image
        image = TF.to_dtype(image, torch.float32, scale=True)
        return TF.normalize(image, list(self.mean), list(self.std))


@dataclass(frozen=True)
class Weights:
    """Where an encoder's weights come from, declaratively.

    ``url``/``file_name``: the published file (downloaded once into the Torch hub cache,
    ``$TORCH_HOME/hub/checkpoints/<file_name>``, the same place ``torch.hub`` puts it).
    ``sha256``: the full reference hash when one is published; otherwise ``hash_prefix``
    (default: the hex digits in the file name, torch.hub's convention) is checked, and where
    neither is known the hash is computed, logged and stored in the feature cache only.
    ``packaged``: weights that ship inside an installed package (no URL, no download).
    """

    file_name: str
    url: str | None = None
    sha256: str | None = None
    hash_prefix: str | None = None
    packaged: Callable[[], Path] | None = None

    @property
    def expected_prefix(self) -> str | None:
        """The reference the file is checked against: full hash, hash prefix or None."""
        if self.sha256:
            return self.sha256.lower()
        if self.hash_prefix:
            return self.hash_prefix.lower()
        match = _HASH_IN_NAME.search(self.file_name)
        return match[1] if match else None

    def describe_reference(self) -> str:
        if self.sha256:
            return f"SHA-256 {self.sha256}"
        prefix = self.expected_prefix
        if prefix:
            return f"SHA-256 starting with {prefix}"
        return "no reference hash pinned"


@dataclass(frozen=True)
class EncoderSpec:
    """A registry entry.

    ``build(weights_path)`` returns the network in eval mode with the weights of that file
    loaded (``torch.load(..., weights_only=True)`` and strict key checking); its
    ``forward(images)`` returns ``(features, logits)`` (logits None without a classifier head).
    ``weights`` says where the file comes from (see :mod:`modedrop.encoders.weights`, whose
    ``locate_weights`` turns it into a local path before anything is decoded).

    Two optional methods of the built module, which
    :func:`~modedrop.extraction.extract_features` calls when present: ``use_processes(n)``
    before the first batch, with the job's ``threads`` (an encoder that runs outside torch and
    holds the GIL, such as ``dlib_face``, describes its batches in ``n`` worker processes), and
    ``close()`` after the embedding, even when it failed (shuts those processes down). The rows
    must not depend on ``n``: it is not part of the chunk manifest, so a resumed run with
    another ``threads`` reuses the chunks.
    """

    name: str
    description: str
    feature_dim: int
    num_classes: int | None
    preprocessing: Preprocessing
    weights: Weights
    build: Callable[[Path], torch.nn.Module]

    @property
    def has_logits(self) -> bool:
        return self.num_classes is not None


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (memoised per path, size and mtime)."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
