"""Settings, training state and checkpoints of a DCGAN run (Mehta, *Measuring Mode Collapse in
GANs*): the settings a checkpoint must agree with, everything that changes during training,
and its atomic save and verified, bitwise resumable load."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modedrop.gan.dcgan_networks import (
    DATA_STREAM,
    NOISE_STREAM,
    Discriminator,
    Generator,
    build_networks,
    torch_seed,
)
from modedrop.gan.training_set import RESOLUTIONS

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointMismatchError",
    "TrainingState",
    "check_images",
    "fresh_state",
    "load_checkpoint",
    "load_checkpoint_generator",
    "positive_int",
    "run_settings",
    "save_checkpoint",
]

#: Bumped when the checkpoint layout changes, so an old checkpoint is refused, not misread.
CHECKPOINT_FORMAT = 1
_CPU = torch.device("cpu")


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with other settings (or data); it cannot be resumed."""


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or a ValueError naming ``name`` unless it is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def check_images(images: Any) -> np.ndarray:
    """``images`` as an array; a ValueError unless uint8 ``(N, R, R, 3)`` at a DCGAN
    resolution."""
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


def run_settings(images: np.ndarray, **values: Any) -> dict[str, Any]:
    """Everything a checkpoint must agree with to be resumed, as plain Python values."""
    settings: dict[str, Any] = {"format": CHECKPOINT_FORMAT}
    for key in ("latent_dim", "steps", "batch_size", "width", "eval_every", "ndb_bins"):
        settings[key] = positive_int(key, values[key])
    for key in ("ndb_reference", "ndb_generated", "ndb_n_init"):
        settings[key] = positive_int(key, values[key])
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
class TrainingState:
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


def fresh_state(settings: dict[str, Any], device: torch.device = _CPU) -> TrainingState:
    """The state at step 0: networks initialised from the seed, fresh optimisers and streams."""
    seed = settings["seed"]
    generator, discriminator = build_networks(
        settings["latent_dim"], settings["resolution"], settings["width"], seed
    )
    # On the training device before the optimisers exist: their state follows the parameters.
    generator, discriminator = generator.to(device), discriminator.to(device)
    betas = (settings["beta1"], 0.999)
    return TrainingState(
        generator=generator,
        discriminator=discriminator,
        opt_g=torch.optim.Adam(generator.parameters(), lr=settings["lr"], betas=betas),
        opt_d=torch.optim.Adam(discriminator.parameters(), lr=settings["lr"], betas=betas),
        noise=torch.Generator().manual_seed(torch_seed(seed, NOISE_STREAM)),
        data_rng=np.random.default_rng([seed, DATA_STREAM]),
    )


def save_checkpoint(path: Path, state: TrainingState, settings: dict[str, Any]) -> None:
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


def load_checkpoint(
    path: Path, settings: dict[str, Any], device: torch.device = _CPU
) -> TrainingState:
    """The state saved at ``path``, on ``device``, with every random stream where it was; a
    :class:`CheckpointMismatchError` if the file is unreadable or its settings differ."""
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
    state = fresh_state(settings, device)  # load_state_dict moves the tensors to the device
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


def load_checkpoint_generator(checkpoint: str | Path) -> Generator:
    """The generator of a DCGAN checkpoint, in eval mode (e.g. to export it again)."""
    payload = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
    settings = payload["settings"]
    generator = Generator(settings["latent_dim"], settings["resolution"], settings["width"])
    generator.load_state_dict(payload["generator"])
    return generator.eval()
