"""DCGAN (Radford, Metz & Chintala 2016) trained while NDB tracks its mode coverage (seed 001).

Seed 001 trains a DCGAN on CelebA with latent sizes 100, 5 and 1 and computes NDB/K and the
bin-proportion JSD (Richardson & Weiss 2018) every few hundred batches, in pixel space, against
K-means bins of a fixed sample of training images: a small latent space should end with more
statistically different bins (partial, then complete mode collapse).

Architecture (Radford et al. 2016, Sec. 3 and the PyTorch DCGAN example): the generator is a
stack of stride-2 transposed convolutions from a 4x4 map to ``resolution`` pixels, BatchNorm and
ReLU after each but the last, Tanh output; the discriminator mirrors it with stride-2
convolutions, LeakyReLU(0.2), BatchNorm on all but the first layer and one logit out. Weights
N(0, 0.02), BatchNorm scale N(1, 0.02), biases 0; no bias before a BatchNorm (it would be
cancelled by the mean subtraction). ``width`` is ngf = ndf (64 in the paper); the channel count
doubles at every halving of the spatial size.

Training: Adam (lr 2e-4, beta1 0.5), BCE with logits, the non-saturating generator loss
(maximise log D(G(z)) instead of minimising log(1 - D(G(z)))), images scaled to [-1, 1], one
discriminator and one generator update per batch, epochs by reshuffling the training set with
a seeded generator (the last incomplete batch of an epoch is dropped).

Evaluation (every ``eval_every`` batches, at step 0 and at the last step): the generator, in
eval mode (BatchNorm running statistics, as the exported TorchScript generator runs), maps a
fixed latent batch to uint8 images, which are binned in pixel space (flattened, in [0, 1]) with
:class:`modedrop.metrics.ndb.NDBBins` built once on ``ndb_reference`` training images.

Reproducibility: every random draw comes from generators seeded by ``seed`` (weights, noise,
data order, reference sample, fixed latent batch, K-means), and checkpoints hold all their
states, so a run resumed from a checkpoint ends with bitwise the same weights and history as an
uninterrupted one (on the same machine and thread count; the ``seconds`` column is wall time).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from tqdm import tqdm

from modedrop import generators as interface
from modedrop.extraction import resolve_device
from modedrop.gan.training_set import RESOLUTIONS, draw_training_sample
from modedrop.metrics.ndb import NDBBins, NDBResult
from modedrop.priors import NormalPrior

__all__ = [
    "CHECKPOINT_FORMAT",
    "HISTORY_COLUMNS",
    "RECOMMENDED",
    "CheckpointMismatchError",
    "Discriminator",
    "FinalSamples",
    "Generator",
    "export_torchscript",
    "generate_images",
    "load_checkpoint_generator",
    "pixel_features",
    "pixel_ndb",
    "pixel_ndb_bins",
    "read_final_samples",
    "train_dcgan",
]

#: Bumped when the checkpoint layout changes, so an old checkpoint is refused, not misread.
CHECKPOINT_FORMAT = 1
HISTORY_COLUMNS = (
    "step",
    "epoch",
    "ndb",
    "ndb_fraction",
    "ndb_bh",
    "jsd",
    "loss_d",
    "loss_g",
    "seconds",
)
#: The default study's settings (synthfaces, 32 pixels, ngf = ndf = 16); see the README of the
#: study for the time budget they fit. 1000 generated images in 50 bins put ~20 samples in an
#: average bin, above the ~10 per bin Richardson & Weiss suggest for the z-test, and 4000
#: reference images give ~80 per bin for stable K-means bins.
RECOMMENDED: dict[str, Any] = {
    "resolution": 32,
    "width": 16,
    "batch_size": 64,
    "lr": 2e-4,
    "beta1": 0.5,
    "steps": 500,
    "eval_every": 50,
    "ndb_bins": 50,
    "ndb_alpha": 0.05,
    "ndb_reference": 4000,
    "ndb_generated": 1000,
    "ndb_n_init": 1,
    "checkpoint_every": 100,
}
# Independent random streams derived from the run's seed (SeedSequence keys [seed, stream]).
_CPU = torch.device("cpu")
_INIT_STREAM = 0
_DATA_STREAM = 1
_LATENT_STREAM = 2
_NOISE_STREAM = 3
_GENERATE_BATCH = 500


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with other settings (or data); it cannot be resumed."""


# ----- networks --------------------------------------------------------------------------------


def _check_architecture(resolution: int, width: int) -> tuple[int, int]:
    if int(resolution) not in RESOLUTIONS:
        raise ValueError(
            f"resolution must be one of {RESOLUTIONS} (4x4 doubled 3 or 4 times), got "
            f"{resolution}; build the training set at one of these resolutions."
        )
    if isinstance(width, bool) or int(width) < 1:
        raise ValueError(f"width (ngf = ndf) must be a positive int, got {width!r}.")
    return int(resolution), int(width)


def _channels(resolution: int, width: int) -> list[int]:
    """Channels of the 4x4, 8x8, ... feature maps: ``width * 2^k`` down to ``width``."""
    n_maps = int(math.log2(resolution)) - 2
    return [width * 2 ** (n_maps - 1 - i) for i in range(n_maps)]


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Radford et al.: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), all biases 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02, generator=generator)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02, generator=generator)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """DCGAN generator: ``(B, latent_dim)`` codes to ``(B, 3, resolution, resolution)`` images
    in [-1, 1] (the network of :class:`modedrop.generators.Generator`)."""

    def __init__(self, latent_dim: int, resolution: int = 32, width: int = 64) -> None:
        super().__init__()
        if isinstance(latent_dim, bool) or int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}.")
        resolution, width = _check_architecture(resolution, width)
        self.latent_dim = int(latent_dim)
        channels = _channels(resolution, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.latent_dim, channels[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError("latent codes must have shape (B, latent_dim)")
        # The transposed convolutions read the code as a 1x1 map with latent_dim channels.
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: ``(B, 3, resolution, resolution)`` images in [-1, 1] to ``(B,)``
    logits (real > 0)."""

    def __init__(self, resolution: int = 32, width: int = 64) -> None:
        super().__init__()
        resolution, width = _check_architecture(resolution, width)
        channels = _channels(resolution, width)[::-1]  # width, 2 width, ... (4x4 map last)
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(channels[-1], 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def _torch_seed(seed: int, stream: int) -> int:
    """A torch seed for one stream of the run, independent of the other streams."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0])


def _build_networks(
    latent_dim: int, resolution: int, width: int, seed: int
) -> tuple[Generator, Discriminator]:
    """Both networks, initialised from ``seed`` only (the caller's global RNG is untouched)."""
    with torch.random.fork_rng(devices=[]):  # nn layers draw a default init from the global RNG
        generator, discriminator = (
            Generator(latent_dim, resolution, width),
            Discriminator(resolution, width),
        )
    init = torch.Generator().manual_seed(_torch_seed(int(seed), _INIT_STREAM))
    _init_weights(generator, init)
    _init_weights(discriminator, init)
    return generator, discriminator


# ----- images and NDB in pixel space -------------------------------------------------------------


def _to_network(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(B, R, R, 3)`` to float ``(B, 3, R, R)`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flattened pixels in [0, 1] (float32): the space NDB bins in, as in Richardson & Weiss'
    CelebA experiment and the seed's notebook."""
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


def _write_final_samples(path: Path, images: np.ndarray, labels: np.ndarray, result) -> None:
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
    """The ``final_samples.npz`` written by :func:`train_dcgan`."""
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


# ----- settings, state and checkpoints -----------------------------------------------------------


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _check_images(images: Any) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images must be uint8 (N, R, R, 3) RGB, got {images.dtype} {images.shape}; read "
            "them with modedrop.gan.training_set.read_training_set."
        )
    if images.shape[1] != images.shape[2] or images.shape[1] not in RESOLUTIONS:
        raise ValueError(
            f"images must be square at one of {RESOLUTIONS} pixels, got {images.shape[1:3]}; "
            "build the training set at such a resolution."
        )
    return images


def _settings(images: np.ndarray, **values: Any) -> dict[str, Any]:
    """Everything a checkpoint must agree with to be resumed, as plain Python values."""
    settings: dict[str, Any] = {"format": CHECKPOINT_FORMAT}
    for key in ("latent_dim", "steps", "batch_size", "width", "eval_every", "ndb_bins"):
        settings[key] = _positive(key, values[key])
    for key in ("ndb_reference", "ndb_generated", "ndb_n_init"):
        settings[key] = _positive(key, values[key])
    settings["seed"] = int(values["seed"])
    settings["lr"] = float(values["lr"])
    settings["beta1"] = float(values["beta1"])
    settings["ndb_alpha"] = float(values["ndb_alpha"])
    settings["resolution"] = int(images.shape[1])
    settings["n_images"] = int(images.shape[0])
    settings["data_sha256"] = hashlib.sha256(np.ascontiguousarray(images).data).hexdigest()
    _check_settings(settings)
    return settings


def _check_settings(s: dict[str, Any]) -> None:
    if not s["lr"] > 0 or not 0.0 <= s["beta1"] < 1.0:
        raise ValueError(f"need lr > 0 and 0 <= beta1 < 1, got lr={s['lr']}, beta1={s['beta1']}.")
    if not 0.0 < s["ndb_alpha"] < 1.0:
        raise ValueError(f"ndb_alpha must lie strictly between 0 and 1, got {s['ndb_alpha']}.")
    if s["batch_size"] > s["n_images"]:
        raise ValueError(
            f"batch_size={s['batch_size']} exceeds the {s['n_images']} training images; use a "
            "smaller batch or a larger training set."
        )
    if s["ndb_reference"] > s["n_images"]:
        raise ValueError(
            f"ndb_reference={s['ndb_reference']} exceeds the {s['n_images']} training images; "
            "use at most that many reference images."
        )
    if s["ndb_bins"] > s["ndb_reference"]:
        raise ValueError(
            f"ndb_bins={s['ndb_bins']} exceeds ndb_reference={s['ndb_reference']}; K-means needs "
            "at least one reference image per bin (ideally dozens)."
        )


@dataclass
class _State:
    """Everything that changes during training; a checkpoint is this state, serialised."""

    generator: Generator
    discriminator: Discriminator
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    noise: torch.Generator
    data_rng: np.random.Generator
    permutation: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    loss_d_sum: float = 0.0
    loss_g_sum: float = 0.0
    loss_count: int = 0
    elapsed: float = 0.0


def _fresh_state(settings: dict[str, Any], device: torch.device = _CPU) -> _State:
    seed = settings["seed"]
    generator, discriminator = _build_networks(
        settings["latent_dim"], settings["resolution"], settings["width"], seed
    )
    # On the training device before the optimisers exist: their state follows the parameters.
    generator, discriminator = generator.to(device), discriminator.to(device)
    betas = (settings["beta1"], 0.999)
    return _State(
        generator=generator,
        discriminator=discriminator,
        opt_g=torch.optim.Adam(generator.parameters(), lr=settings["lr"], betas=betas),
        opt_d=torch.optim.Adam(discriminator.parameters(), lr=settings["lr"], betas=betas),
        noise=torch.Generator().manual_seed(_torch_seed(seed, _NOISE_STREAM)),
        data_rng=np.random.default_rng([seed, _DATA_STREAM]),
    )


def _save_checkpoint(path: Path, state: _State, settings: dict[str, Any]) -> None:
    """``torch.save`` of plain values and tensors only (loadable with ``weights_only=True``),
    to a temporary file renamed into place: a kill mid-write keeps the previous checkpoint."""
    payload = {
        "settings": settings,
        "step": state.step,
        "generator": state.generator.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "noise_rng": state.noise.get_state(),
        "numpy_rng": state.data_rng.bit_generator.state,
        "permutation": torch.from_numpy(state.permutation.copy()),
        "position": state.position,
        "history": state.history,
        "losses": [state.loss_d_sum, state.loss_g_sum, state.loss_count],
        "elapsed": state.elapsed,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _mismatch(path: Path, saved: Any, settings: dict[str, Any]) -> CheckpointMismatchError:
    if not isinstance(saved, dict):
        what = "it holds no settings (not a DCGAN checkpoint of this version)"
    else:
        keys = sorted(set(saved) | set(settings))
        what = "; ".join(
            f"{k}: {saved.get(k)!r} in the checkpoint, {settings.get(k)!r} now"
            for k in keys
            if saved.get(k) != settings.get(k)
        )
    return CheckpointMismatchError(
        f"checkpoint {path} was written with different settings or data ({what}). Delete it "
        f"(rm {path}) to train from scratch, or rerun with the settings it was written with."
    )


def _load_checkpoint(path: Path, settings: dict[str, Any], device: torch.device = _CPU) -> _State:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: say what to do, not just why
        # The message names the error type only: torch's own text suggests weights_only=False,
        # which would let a planted file run code.
        raise CheckpointMismatchError(
            f"checkpoint {path} cannot be read as a DCGAN checkpoint ({type(error).__name__}; "
            f"truncated or not written by train_dcgan). Delete it (rm {path}) to train from "
            "scratch."
        ) from error
    saved = payload.get("settings") if isinstance(payload, dict) else None
    if saved != settings:
        raise _mismatch(path, saved, settings)
    state = _fresh_state(settings, device)  # load_state_dict moves the tensors to the device
    state.generator.load_state_dict(payload["generator"])
    state.discriminator.load_state_dict(payload["discriminator"])
    state.opt_g.load_state_dict(payload["opt_g"])
    state.opt_d.load_state_dict(payload["opt_d"])
    torch.set_rng_state(payload["torch_rng"])
    state.noise.set_state(payload["noise_rng"])
    state.data_rng.bit_generator.state = payload["numpy_rng"]
    state.permutation = payload["permutation"].numpy().copy()
    state.position = int(payload["position"])
    state.step = int(payload["step"])
    state.history = list(payload["history"])
    state.loss_d_sum, state.loss_g_sum = (float(v) for v in payload["losses"][:2])
    state.loss_count = int(payload["losses"][2])
    state.elapsed = float(payload["elapsed"])
    return state


# ----- training ----------------------------------------------------------------------------------


def _next_batch(state: _State, n_images: int, batch_size: int) -> np.ndarray:
    """Indices of the next batch; a new seeded permutation starts each epoch."""
    if state.position + batch_size > len(state.permutation):
        state.permutation = state.data_rng.permutation(n_images)
        state.position = 0
    batch = state.permutation[state.position : state.position + batch_size]
    state.position += batch_size
    return batch


def _train_step(state: _State, real: torch.Tensor, latent_dim: int) -> tuple[float, float]:
    """One discriminator and one generator update; returns ``(loss_d, loss_g)``."""
    bce = nn.functional.binary_cross_entropy_with_logits
    ones = torch.ones(len(real))
    zeros = torch.zeros(len(real))
    device = next(state.generator.parameters()).device
    real = real.to(device)
    ones, zeros = ones.to(device), zeros.to(device)
    # Noise is drawn on the CPU: the same stream, hence the same run, on every device.
    z = torch.randn(len(real), latent_dim, generator=state.noise).to(device)
    fake = state.generator(z)

    state.opt_d.zero_grad(set_to_none=True)
    # Real and fake pass through D separately, so each batch is normalised with its own
    # BatchNorm statistics (as in the DCGAN reference implementations).
    loss_d = bce(state.discriminator(real), ones) + bce(state.discriminator(fake.detach()), zeros)
    loss_d.backward()
    state.opt_d.step()

    state.opt_g.zero_grad(set_to_none=True)
    loss_g = bce(state.discriminator(fake), ones)  # non-saturating: maximise log D(G(z))
    loss_g.backward()
    state.opt_g.step()
    return loss_d.detach().item(), loss_g.detach().item()


@dataclass
class _Evaluation:
    """What NDB needs at every evaluation, fixed for the whole run."""

    bins: NDBBins
    latents: np.ndarray
    alpha: float
    steps_per_epoch: int


def _evaluate(state: _State, ev: _Evaluation) -> tuple[np.ndarray, np.ndarray, NDBResult]:
    images = generate_images(state.generator, ev.latents)
    return images, *pixel_ndb(ev.bins, images, ev.alpha)


def _record(state: _State, ev: _Evaluation, result: NDBResult) -> None:
    mean = (lambda total: total / state.loss_count) if state.loss_count else lambda _: math.nan
    state.history.append(
        {
            "step": state.step,
            "epoch": state.step / ev.steps_per_epoch,
            "ndb": result.ndb,
            "ndb_fraction": result.ndb_fraction,
            "ndb_bh": result.ndb_bh,
            "jsd": result.jsd,
            "loss_d": mean(state.loss_d_sum),  # mean over the batches since the last record
            "loss_g": mean(state.loss_g_sum),
            "seconds": state.elapsed,
        }
    )
    state.loss_d_sum = state.loss_g_sum = 0.0
    state.loss_count = 0


def _evaluation(images: np.ndarray, settings: dict[str, Any]) -> _Evaluation:
    seed = settings["seed"]
    reference = draw_training_sample(len(images), settings["ndb_reference"], seed)
    bins = pixel_ndb_bins(images[reference], settings["ndb_bins"], seed, settings["ndb_n_init"])
    latents = NormalPrior(settings["latent_dim"]).sample(
        settings["ndb_generated"], np.random.default_rng([seed, _LATENT_STREAM])
    )
    steps_per_epoch = settings["n_images"] // settings["batch_size"]
    return _Evaluation(bins, latents, settings["ndb_alpha"], steps_per_epoch)


def _run(
    images: np.ndarray,
    state: _State,
    ev: _Evaluation,
    settings: dict[str, Any],
    checkpoint: Path,
    checkpoint_every: int,
    stop_after: int | None,
    bar: tqdm,
) -> None:
    steps, batch_size = settings["steps"], settings["batch_size"]
    started = time.perf_counter() - state.elapsed
    if state.step == 0 and not state.history:
        _record(state, ev, _evaluate(state, ev)[2])
    state.generator.train()
    state.discriminator.train()
    while state.step < steps and (stop_after is None or state.step < stop_after):
        batch = np.sort(_next_batch(state, len(images), batch_size))
        loss_d, loss_g = _train_step(state, _to_network(images[batch]), settings["latent_dim"])
        state.step += 1
        state.loss_d_sum += loss_d
        state.loss_g_sum += loss_g
        state.loss_count += 1
        state.elapsed = time.perf_counter() - started
        if state.step % settings["eval_every"] == 0 or state.step == steps:
            _record(state, ev, _evaluate(state, ev)[2])
            bar.set_postfix(ndb_k=f"{state.history[-1]['ndb_fraction']:.2f}")
        if state.step % checkpoint_every == 0 or state.step == steps:
            _save_checkpoint(checkpoint, state, settings)
        bar.update(1)


def train_dcgan(
    images: np.ndarray,
    *,
    latent_dim: int,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    beta1: float = 0.5,
    width: int,
    eval_every: int,
    ndb_bins: int,
    ndb_alpha: float,
    ndb_reference: int,
    ndb_generated: int,
    ndb_n_init: int = 1,
    seed: int,
    checkpoint: Path,
    checkpoint_every: int,
    threads: int = 1,
    progress: bool = True,
    torchscript: Path | None = None,
    final_samples: Path | None = None,
    stop_after: int | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """Train a DCGAN on ``images`` (uint8 ``(N, R, R, 3)``) and return its NDB history.

    The history has one row per evaluation (columns :data:`HISTORY_COLUMNS`; ``loss_d`` and
    ``loss_g`` are means over the batches since the previous row, NaN at step 0; ``seconds``
    is the training wall time so far). The run checkpoints to ``checkpoint`` every
    ``checkpoint_every`` steps and at the end, and resumes from it when it exists (a checkpoint
    of other settings or data is refused). At the end, ``torchscript`` receives the generator
    (:func:`export_torchscript`) and ``final_samples`` the last evaluation's images, bin labels
    and per-bin proportions (:func:`read_final_samples`).

    ``stop_after`` stops once that many steps are done, as a kill would (no extra checkpoint,
    no final outputs): for tests of resumption. ``device``: ``cpu``, ``cuda``, ``cuda:N`` or
    ``auto`` (CUDA when present); the latent noise and data order are drawn on the CPU, so a
    checkpoint resumes on another device (bitwise equality holds on one device only). ``threads`` is torch's intra-op thread count
    for this call; results are bitwise reproducible for a given count.
    """
    images = _check_images(images)
    settings = _settings(
        images,
        latent_dim=latent_dim,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        beta1=beta1,
        width=width,
        eval_every=eval_every,
        ndb_bins=ndb_bins,
        ndb_alpha=ndb_alpha,
        ndb_reference=ndb_reference,
        ndb_generated=ndb_generated,
        ndb_n_init=ndb_n_init,
        seed=seed,
    )
    checkpoint_every = _positive("checkpoint_every", checkpoint_every)
    threads = _positive("threads", threads)
    checkpoint = Path(checkpoint)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # fork_rng: the caller's global torch RNG is left as is; threadpool_limits: K-means and
        # numpy's BLAS stay within the same thread budget as torch.
        with torch.random.fork_rng(devices=[]), threadpool_limits(limits=threads):
            state = _start(checkpoint, settings, resolve_device(device))
            ev = _evaluation(images, settings)
            with tqdm(
                total=settings["steps"],
                initial=state.step,
                desc=f"DCGAN z={settings['latent_dim']}",
                unit="step",
                disable=not progress,
            ) as bar:
                _run(images, state, ev, settings, checkpoint, checkpoint_every, stop_after, bar)
            if state.step == settings["steps"]:
                _write_outputs(state, ev, torchscript, final_samples)
    finally:
        torch.set_num_threads(previous_threads)
    return pd.DataFrame(state.history, columns=list(HISTORY_COLUMNS))


def _start(checkpoint: Path, settings: dict[str, Any], device: torch.device = _CPU) -> _State:
    if checkpoint.exists():
        return _load_checkpoint(checkpoint, settings, device)
    torch.manual_seed(settings["seed"])  # any op drawing from the global RNG is seeded too
    return _fresh_state(settings, device)


def _write_outputs(
    state: _State, ev: _Evaluation, torchscript: Path | None, final_samples: Path | None
) -> None:
    if torchscript is not None:
        export_torchscript(state.generator, torchscript)
    if final_samples is not None:
        # The final weights regenerate the last evaluation exactly (eval mode, fixed latents).
        images, labels, result = _evaluate(state, ev)
        _write_final_samples(Path(final_samples), images, labels, result)


def load_checkpoint_generator(checkpoint: str | Path) -> Generator:
    """The generator of a DCGAN checkpoint, in eval mode (e.g. to export it again)."""
    payload = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
    settings = payload["settings"]
    generator = Generator(settings["latent_dim"], settings["resolution"], settings["width"])
    generator.load_state_dict(payload["generator"])
    return generator.eval()
