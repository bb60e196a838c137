"""DCGAN (Radford, Metz & Chintala 2016) trained while NDB tracks its mode coverage, as in
Mehta, *Measuring Mode Collapse in GANs*.

Mehta trains a DCGAN on CelebA with latent sizes 100, 5 and 1 and computes NDB/K and the
bin-proportion JSD (Richardson & Weiss 2018) every few hundred batches, in pixel space, against
K-means bins of a fixed sample of training images: a small latent space should end with more
statistically different bins (partial, then complete mode collapse).

Architecture (:mod:`modedrop.gan.dcgan_networks`; Radford et al. 2016, Sec. 3 and the PyTorch
DCGAN example): the generator is a stack of stride-2 transposed convolutions from a 4x4 map to
``resolution`` pixels, BatchNorm and ReLU after each but the last, Tanh output; the
discriminator mirrors it with stride-2 convolutions, LeakyReLU(0.2), BatchNorm on all but the
first layer and one logit out. Weights N(0, 0.02), BatchNorm scale N(1, 0.02), biases 0; no
bias before a BatchNorm (it would be cancelled by the mean subtraction). ``width`` is ngf = ndf
(64 in the paper); the channel count doubles at every halving of the spatial size.

Training: Adam (lr 2e-4, beta1 0.5), BCE with logits, the non-saturating generator loss
(maximise log D(G(z)) instead of minimising log(1 - D(G(z)))), images scaled to [-1, 1], one
discriminator and one generator update per batch, epochs by reshuffling the training set with
a seeded generator (the last incomplete batch of an epoch is dropped).

Evaluation (every ``eval_every`` batches, at step 0 and at the last step): the generator, in
eval mode (BatchNorm running statistics, as the exported TorchScript generator runs), maps a
fixed latent batch to uint8 images, which are binned in pixel space (flattened, in [0, 1]) with
:class:`modedrop.metrics.ndb.NDBBins` built once on ``ndb_reference`` training images
(:mod:`modedrop.gan.dcgan_samples`).

Reproducibility: every random draw comes from generators seeded by ``seed`` (weights, noise,
data order, reference sample, fixed latent batch, K-means), and checkpoints
(:mod:`modedrop.gan.dcgan_checkpoints`) hold all their states, so a run resumed from a
checkpoint ends with bitwise the same weights and history as an uninterrupted one (on the same
machine and thread count; the ``seconds`` column is wall time).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits
from torch import nn
from tqdm import tqdm

from modedrop.extraction import resolve_device
from modedrop.gan.dcgan_checkpoints import (
    TrainingState,
    check_images,
    fresh_state,
    load_checkpoint,
    positive_int,
    run_settings,
    save_checkpoint,
)
from modedrop.gan.dcgan_networks import LATENT_STREAM
from modedrop.gan.dcgan_samples import (
    export_torchscript,
    generate_images,
    pixel_ndb,
    pixel_ndb_bins,
    to_network,
    write_final_samples,
)
from modedrop.gan.training_set import draw_training_sample
from modedrop.metrics.ndb import NDBBins, NDBResult
from modedrop.priors import NormalPrior

__all__ = ["HISTORY_COLUMNS", "RECOMMENDED", "train_dcgan"]

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
_CPU = torch.device("cpu")


def _next_batch(state: TrainingState, n_images: int, batch_size: int) -> np.ndarray:
    """Indices of the next batch; a new seeded permutation starts each epoch."""
    if state.position + batch_size > len(state.permutation):
        state.permutation = state.data_rng.permutation(n_images)
        state.position = 0
    batch = state.permutation[state.position : state.position + batch_size]
    state.position += batch_size
    return batch


def _train_step(state: TrainingState, real: torch.Tensor, latent_dim: int) -> tuple[float, float]:
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


def _evaluate(state: TrainingState, ev: _Evaluation) -> tuple[np.ndarray, np.ndarray, NDBResult]:
    images = generate_images(state.generator, ev.latents)
    return images, *pixel_ndb(ev.bins, images, ev.alpha)


def _record(state: TrainingState, ev: _Evaluation, result: NDBResult) -> None:
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
        settings["ndb_generated"], np.random.default_rng([seed, LATENT_STREAM])
    )
    steps_per_epoch = settings["n_images"] // settings["batch_size"]
    return _Evaluation(bins, latents, settings["ndb_alpha"], steps_per_epoch)


def _run(
    images: np.ndarray,
    state: TrainingState,
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
        loss_d, loss_g = _train_step(state, to_network(images[batch]), settings["latent_dim"])
        state.step += 1
        state.loss_d_sum += loss_d
        state.loss_g_sum += loss_g
        state.loss_count += 1
        state.elapsed = time.perf_counter() - started
        if state.step % settings["eval_every"] == 0 or state.step == steps:
            _record(state, ev, _evaluate(state, ev)[2])
            bar.set_postfix(ndb_k=f"{state.history[-1]['ndb_fraction']:.2f}")
        if state.step % checkpoint_every == 0 or state.step == steps:
            save_checkpoint(checkpoint, state, settings)
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
    checkpoint resumes on another device (bitwise equality holds on one device only).
    ``threads`` is torch's intra-op thread count for this call; results are bitwise
    reproducible for a given count.
    """
    images = check_images(images)
    settings = run_settings(
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
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    threads = positive_int("threads", threads)
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


def _start(
    checkpoint: Path, settings: dict[str, Any], device: torch.device = _CPU
) -> TrainingState:
    if checkpoint.exists():
        return load_checkpoint(checkpoint, settings, device)
    torch.manual_seed(settings["seed"])  # any op drawing from the global RNG is seeded too
    return fresh_state(settings, device)


def _write_outputs(
    state: TrainingState, ev: _Evaluation, torchscript: Path | None, final_samples: Path | None
) -> None:
    if torchscript is not None:
        export_torchscript(state.generator, torchscript)
    if final_samples is not None:
        # The final weights regenerate the last evaluation exactly (eval mode, fixed latents).
        images, labels, result = _evaluate(state, ev)
        write_final_samples(Path(final_samples), images, labels, result)
