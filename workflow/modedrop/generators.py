"""The generator interface: anything that maps latent codes to images, and its latent prior.

A generator is a *network* - a torch callable ``(B, latent_dim) float32 -> (B, C, H, W)`` with
``C`` in {1, 3} and values in ``output_range`` - and a *prior* that draws the latent codes. The
network comes from one of:

* ``entry_point: "package.module:function"`` - called with ``kwargs`` (a mapping in the config),
  it returns the network (a ``torch.nn.Module`` or any callable on tensors); the user's own code,
  importable from the working directory or the environment;
* ``torchscript: path/to/generator.pt`` - a TorchScript file (``torch.jit.save``), loaded on the
  CPU. TorchScript runs no Python code at load time, unlike a pickled module.

The prior (:mod:`modedrop.priors`) is ``"normal"`` (N(0, I), the usual GAN prior),
``"uniform"`` (U(-1, 1)^d) or the path of a ``.npz`` prior written by
:mod:`modedrop.calibration` (a reshaped latent distribution: a Gaussian mixture, Algorithm 1
of Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*, or rejection
sampling around a dense mode, Algorithm 2). A calibrated sampler is therefore a generator like
any other: the same network with a different prior (:meth:`Generator.with_prior`).

Generated images go through the same encoders and metric functions as the data subsets: a
*sample set* (:func:`write_sample_set`) is a zip of PNG images plus the latent codes that made
them, embedded once into a feature cache by the same extraction code as the data set.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from modedrop.priors import GeneratorSpecError, checked_latent_dim, load_prior

__all__ = [
    "Generator",
    "load_generator",
    "read_latents",
    "sample_set_names",
    "write_image_set",
    "write_sample_set",
]

LATENTS_FILE = "latents.npy"
IMAGES_FILE = "images.zip"


# ----- the generator ---------------------------------------------------------------------------


class Generator:
    """A network and its latent prior; produces uint8 RGB images from latent codes."""

    def __init__(
        self,
        network: Callable[[torch.Tensor], torch.Tensor],
        prior,
        *,
        output_range: tuple[float, float] = (-1.0, 1.0),
        name: str = "generator",
        batch_size: int = 256,
    ) -> None:
        if not callable(network):
            raise GeneratorSpecError(f"generator {name!r}: the network is not callable.")
        low, high = (float(v) for v in output_range)
        if not high > low:
            raise GeneratorSpecError(
                f"generator {name!r}: output_range must be [low, high] with high > low, "
                f"got {list(output_range)}."
            )
        if batch_size < 1:
            raise GeneratorSpecError(f"batch_size must be >= 1, got {batch_size}.")
        self.network = network
        self.prior = prior
        self.output_range = (low, high)
        self.name = name
        self.batch_size = int(batch_size)
        if isinstance(network, torch.nn.Module):
            network.eval()  # BatchNorm/dropout in inference mode: samples do not depend on batching

    @property
    def latent_dim(self) -> int:
        return self.prior.latent_dim

    def with_prior(self, prior, name: str | None = None) -> Generator:
        """The same network sampled through another prior (e.g. a calibrated one)."""
        if prior.latent_dim != self.latent_dim:
            raise GeneratorSpecError(
                f"prior draws {prior.latent_dim}-d codes but {self.name!r} takes {self.latent_dim}."
            )
        return Generator(
            self.network,
            prior,
            output_range=self.output_range,
            name=name or self.name,
            batch_size=self.batch_size,
        )

    def sample_latents(self, n: int, seed: int) -> np.ndarray:
        """``n`` latent codes from the prior, float32 (n, latent_dim); reproducible per seed."""
        if n < 1:
            raise ValueError(f"n must be >= 1 latent codes, got {n}.")
        z = np.asarray(self.prior.sample(n, np.random.default_rng(seed)), dtype=np.float32)
        if z.shape != (n, self.latent_dim):
            raise GeneratorSpecError(
                f"prior of {self.name!r} returned shape {z.shape}, expected {(n, self.latent_dim)}."
            )
        return z

    def images(self, z: np.ndarray) -> np.ndarray:
        """uint8 RGB images (n, H, W, 3) of the latent codes ``z`` (n, latent_dim)."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"latent codes must have shape (n, {self.latent_dim}) for {self.name!r}, "
                f"got {z.shape}."
            )
        out = []
        device = _network_device(self.network)
        with torch.no_grad():
            for start in range(0, len(z), self.batch_size):
                batch = torch.from_numpy(z[start : start + self.batch_size]).to(device)
                out.append(self._to_uint8(self.network(batch)))
        return np.concatenate(out)

    def _to_uint8(self, images: Any) -> np.ndarray:
        if not isinstance(images, torch.Tensor):
            raise GeneratorSpecError(
                f"network of {self.name!r} returned {type(images).__name__}; it must return a "
                "torch tensor (B, C, H, W)."
            )
        images = images.detach().to("cpu", torch.float32)
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise GeneratorSpecError(
                f"network of {self.name!r} returned shape {tuple(images.shape)}; images must be "
                "(B, C, H, W) with C = 1 (grey) or 3 (RGB) channels."
            )
        if not torch.isfinite(images).all():
            raise GeneratorSpecError(f"network of {self.name!r} returned NaN or Inf values.")
        low, high = self.output_range
        unit = ((images - low) / (high - low)).clamp(0.0, 1.0)
        if unit.shape[1] == 1:
            unit = unit.expand(-1, 3, -1, -1)
        pixels = (unit * 255.0).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).contiguous().numpy()


def _network_device(network) -> torch.device:
    """Where a module's parameters live (latents are sent there); the CPU for other callables."""
    parameters = getattr(network, "parameters", None)
    if callable(parameters):
        for parameter in parameters():
            return parameter.device
    return torch.device("cpu")


# ----- loading from a config block -------------------------------------------------------------


def _import_module(module_name: str):
    """Import ``module_name``, also from the working directory (where Snakemake runs): scripts
    run from a copy elsewhere, so the working directory is not on ``sys.path`` by itself."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        cwd = os.getcwd()
        if cwd in sys.path or error.name != module_name.split(".")[0]:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module_name)


def _import_entry_point(entry_point: str, name: str) -> Callable:
    module_name, sep, attr = str(entry_point).partition(":")
    if not sep or not module_name or not attr:
        raise GeneratorSpecError(
            f"generator {name!r}: entry_point must look like 'package.module:function', "
            f"got {entry_point!r}."
        )
    try:
        module = _import_module(module_name)
    except ImportError as error:
        raise GeneratorSpecError(
            f"generator {name!r}: cannot import {module_name!r} ({error}); install the package or "
            "put the module on PYTHONPATH / in the working directory."
        ) from error
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise GeneratorSpecError(
                f"generator {name!r}: module {module_name!r} has no attribute {attr!r}."
            )
        target = getattr(target, part)
    if not callable(target):
        raise GeneratorSpecError(f"generator {name!r}: {entry_point!r} is not callable.")
    return target


def _load_network(spec: Mapping, name: str) -> Callable:
    has_entry, has_script = "entry_point" in spec, "torchscript" in spec
    if has_entry == has_script:
        raise GeneratorSpecError(
            f"generator {name!r}: give exactly one of `entry_point` ('package.module:function') "
            f"or `torchscript` (path of a .pt file); got keys {sorted(spec)}."
        )
    if has_script:
        if spec.get("kwargs"):
            raise GeneratorSpecError(
                f"generator {name!r}: `kwargs` only applies to an entry_point; a TorchScript file "
                "takes none."
            )
        path = Path(spec["torchscript"])
        if not path.is_file():
            raise GeneratorSpecError(
                f"generator {name!r}: TorchScript file {path} does not exist (save one with "
                "torch.jit.save(torch.jit.script(model), path))."
            )
        with warnings.catch_warnings():
            # torch >= 2.9 flags TorchScript as deprecated in favour of torch.export; it is still
            # the one self-contained format that every torch version of the last years loads.
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(str(path), map_location="cpu")
    factory = _import_entry_point(spec["entry_point"], name)
    network = factory(**dict(spec.get("kwargs") or {}))
    if not callable(network):
        raise GeneratorSpecError(
            f"generator {name!r}: {spec['entry_point']!r} returned {type(network).__name__}, "
            "not a callable network."
        )
    return network


def load_generator(spec: Mapping, name: str = "generator", *, prior=None) -> Generator:
    """A :class:`Generator` from a config block (see the module docstring for the keys).

    ``prior`` overrides the block's ``prior`` (used for calibrated samplers).
    """
    if not isinstance(spec, Mapping):
        raise GeneratorSpecError(f"generator {name!r}: expected a mapping, got {spec!r}.")
    if "latent_dim" not in spec:
        raise GeneratorSpecError(
            f"generator {name!r}: `latent_dim` is required (the length of one latent code)."
        )
    latent_dim = checked_latent_dim(spec["latent_dim"])
    if prior is None:  # checked before the network is built: a typo fails fast
        prior = load_prior(spec.get("prior", "normal"), latent_dim)
    network = _load_network(spec, name)
    return Generator(
        network,
        prior,
        output_range=tuple(spec.get("output_range", (-1.0, 1.0))),
        name=name,
        batch_size=int(spec.get("batch_size", 256)),
    )


# ----- sample sets -----------------------------------------------------------------------------


def sample_set_names(n: int) -> list[str]:
    """Image names of a sample set, in row order (sorted order is row order)."""
    return [f"{i:06d}.png" for i in range(n)]


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _write_zip(path: Path, names: list[str], blocks) -> None:
    """Write the images of ``blocks`` (uint8 (b, H, W, 3) arrays, in order) as PNGs named
    ``names`` into the zip ``path``, via a temporary name."""
    tmp = path.with_name(f".{path.name}.tmp")
    names_left = iter(names)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        for block in blocks:
            for image in block:
                info = zipfile.ZipInfo(next(names_left), date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, _png_bytes(image))  # fixed dates: byte-identical re-runs
    os.replace(tmp, path)


def _write_json(path: Path, description: Mapping) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_image_set(images: np.ndarray, out_dir: str | Path, description: Mapping) -> list[str]:
    """Write uint8 images (n, H, W, 3) as a sample set (``images.zip`` and ``sample_set.json``)
    - e.g. real training images at a generator's resolution, to embed like generated ones."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (n, H, W, 3), got {images.dtype} {images.shape}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sample_set_names(len(images))
    _write_zip(out_dir / IMAGES_FILE, names, [images])
    _write_json(out_dir / "sample_set.json", {**description, "n_images": len(images)})
    return names


def write_sample_set(
    generator: Generator, n: int, seed: int, out_dir: str | Path, *, progress: bool = True
) -> dict:
    """Draw ``n`` latent codes with ``seed``, write their images and codes to ``out_dir``.

    ``out_dir/images.zip`` holds ``000000.png ...`` (PNG: lossless, so the encoder sees exactly
    the generated pixels), ``out_dir/latents.npy`` the codes (row i made image i) and
    ``out_dir/sample_set.json`` what made them. Files are written under temporary names and
    renamed, so an interrupted job leaves no half-written set.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    z = generator.sample_latents(n, seed)
    starts = range(0, n, generator.batch_size)
    blocks = (
        generator.images(z[start : start + generator.batch_size])
        for start in tqdm(starts, desc=f"generating {generator.name}", disable=not progress)
    )
    _write_zip(out_dir / IMAGES_FILE, sample_set_names(n), blocks)
    tmp_latents = out_dir / f".{LATENTS_FILE}.tmp.npy"
    np.save(tmp_latents, z)
    os.replace(tmp_latents, out_dir / LATENTS_FILE)
    description = {
        "generator": generator.name,
        "n_images": n,
        "seed": seed,
        "latent_dim": generator.latent_dim,
        "prior": generator.prior.to_dict(),
        "image_shape": list(generator.images(z[:1]).shape[1:]),
    }
    _write_json(out_dir / "sample_set.json", description)
    return description


def read_latents(out_dir: str | Path) -> np.ndarray:
    """The latent codes of a sample set (row i made image ``sample_set_names(n)[i]``)."""
    return np.load(Path(out_dir) / LATENTS_FILE, allow_pickle=False)
