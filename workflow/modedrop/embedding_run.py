"""Decoded image batches fed to the encoder, and each complete chunk of rows saved.

One :class:`EmbeddingRun` per extraction (:func:`modedrop.extraction.extract_features`): it
takes the batches of the image loader in order, embeds them, stops on a missing image, an
unreadable one (unless skipped) or a non-finite output, and writes every chunk to the
:class:`~modedrop.chunks.ChunkStore` as soon as its last batch is embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from modedrop.chunks import Chunk, ChunkStore
from modedrop.data.images import ImageDecodeError, ImageList, ImageMissingError
from modedrop.features import FACE_FOUND

log = logging.getLogger(__name__)

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


class DecodedImages(torch.utils.data.Dataset):
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
class ImageBatch:
    """A batch of decoded images and the failures among its positions."""

    positions: list[int]
    images: torch.Tensor | None
    failed: list[tuple[int, ImageDecodeError]]
    end: int
    size: int

    def pin_memory(self) -> ImageBatch:
        """Called by the DataLoader's pinning thread (CUDA) instead of its generic recursion."""
        if self.images is not None:
            self.images = self.images.pin_memory()
        return self


def collate_images(items: list[tuple]) -> ImageBatch:
    """The DataLoader's ``collate_fn``: stacks the decoded images of :class:`DecodedImages`
    items and keeps their failures apart."""
    decoded = [(position, image) for position, image, error in items if error is None]
    failed = [(position, error) for position, _, error in items if error is not None]
    images = _stack([image for _, image in decoded]) if decoded else None
    end = max(position for position, _, _ in items) + 1
    return ImageBatch([p for p, _ in decoded], images, failed, end, len(items))


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


class EmbeddingRun:
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

    def _embed_batch(self, batch: ImageBatch, pending: _Pending) -> None:
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
