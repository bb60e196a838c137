"""DCGAN images in pixel space (Mehta, *Measuring Mode Collapse in GANs*): network <-> uint8
conversion, NDB bins of flattened pixels, and a finished run's outputs (the final samples and
the TorchScript generator)."""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from modedrop import generators as interface
from modedrop.gan.dcgan_networks import Generator
from modedrop.metrics.ndb import NDBBins, NDBResult
from modedrop.priors import NormalPrior

__all__ = [
    "FinalSamples",
    "export_torchscript",
    "generate_images",
    "pixel_features",
    "pixel_ndb",
    "pixel_ndb_bins",
    "read_final_samples",
    "to_network",
    "write_final_samples",
]

_GENERATE_BATCH = 500


def to_network(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(B, R, R, 3)`` to float ``(B, 3, R, R)`` in [-1, 1]: the networks' input."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flattened pixels in [0, 1] (float32): the space NDB bins in, as in Richardson & Weiss'
    CelebA experiment and Mehta's notebook."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def pixel_ndb_bins(reference: np.ndarray, n_bins: int, seed: int, n_init: int = 1) -> NDBBins:
    """NDB bins (K-means, ``n_bins`` cells) of uint8 reference images in pixel space."""
    return NDBBins(pixel_features(reference), n_bins=n_bins, seed=seed, n_init=n_init)


def pixel_ndb(bins: NDBBins, images: np.ndarray, alpha: float) -> tuple[np.ndarray, NDBResult]:
    """``(bin labels, NDB result)`` of uint8 ``images`` against pixel-space ``bins``."""
    features = pixel_features(images)
    return bins.assign(features), bins.evaluate(features, alpha=alpha)


def generate_images(generator: Generator, z: np.ndarray) -> np.ndarray:
    """uint8 ``(n, R, R, 3)`` images of the codes ``z``, in eval mode, converted exactly as the
    generator interface converts them; the network is left in the mode it was in."""
    was_training = generator.training
    try:
        images = interface.Generator(
            generator, NormalPrior(generator.latent_dim), batch_size=_GENERATE_BATCH
        ).images(z)
    finally:
        generator.train(was_training)
    return images


class FinalSamples(NamedTuple):
    """The last evaluation of a run: generated images, their NDB bins, per-bin proportions."""

    images: np.ndarray
    labels: np.ndarray
    reference_proportions: np.ndarray
    generated_proportions: np.ndarray


def write_final_samples(path: Path, images: np.ndarray, labels: np.ndarray, result) -> None:
    """Save the last evaluation (images, bin labels, the NDB ``result``'s proportions, flags
    and z-scores) as ``path`` (npz), atomically; read it with :func:`read_final_samples`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}.npz")
    try:
        np.savez_compressed(
            tmp,
            images=images,
            labels=labels,
            reference_proportions=np.asarray(result.reference_proportions),
            generated_proportions=np.asarray(result.evaluated_proportions),
            significant=np.asarray(result.significant),
            z=np.asarray(result.z),
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_final_samples(path: str | Path) -> FinalSamples:
    """The ``final_samples.npz`` written by :func:`modedrop.gan.dcgan.train_dcgan`."""
    with np.load(path, allow_pickle=False) as data:
        return FinalSamples(
            data["images"],
            data["labels"],
            data["reference_proportions"],
            data["generated_proportions"],
        )


def export_torchscript(generator: Generator, path: str | Path) -> Path:
    """Save a CPU, eval-mode TorchScript copy of ``generator`` at ``path`` (atomically); load
    it with ``torch.jit.load`` or as ``torchscript:`` in a generator block of the config."""
    network = copy.deepcopy(generator).to("cpu").eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with warnings.catch_warnings():
        # torch >= 2.9 deprecates TorchScript for torch.export, but TorchScript is the format
        # the generator interface loads without running Python code (see modedrop.generators).
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(network)
    try:
        scripted.save(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
