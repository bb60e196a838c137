"""The seed's toy GAN (seed 002, Section 4), trained for several seeds at once and tracked.

Networks (seed 002): the generator is an MLP ``latent_dim -> 8 -> 4 -> 2`` with ReLU, the
discriminator ``2 -> 64 -> 8 -> 1`` with tanh and a sigmoid output; every weight and bias is
drawn from N(0, 1) ("standard normal initialization"); plain SGD, learning rate 5e-4 for both,
batch 32, latent N(0, I). All of these are settings (:class:`ToyGANSettings`).

Loss. The seed says "cross-entropy". The discriminator minimises the binary cross-entropy with
label 1 for real and 0 for generated points, ``-log D(x) - log(1 - D(G(z)))`` (batch means,
summed). The generator minimises the *non-saturating* cross-entropy ``-log D(G(z))``, i.e. the
same BCE with the generated points labelled real: it is what the usual PyTorch recipe
(``BCELoss(D(G(z)), ones)``) computes, and it is what Goodfellow et al. (2014) recommend
because the minimax form ``log(1 - D(G(z)))`` has vanishing gradients while D wins, which it
does early here. Losses are computed from the logit with softplus (``-log sigmoid(l) =
softplus(-l)``), the same value as BCE on the sigmoid without its overflow. One training step is
one discriminator update on a fresh real batch and a fresh latent batch, then one generator
update through the updated discriminator on the same latent batch (the PyTorch DCGAN recipe).

Speed. The nets are tiny, so the cost of a step is per-operation overhead, not arithmetic. All
seeds of one (data set, latent size) run as one *ensemble*: every parameter has a leading seed
axis and each layer is one stacked matmul over seeds. The forward and backward passes are
written out in numpy (measured on this machine, 3 seeds, one thread, per step: torch autograd
with ``baddbmm`` 1.14 ms, hand-written backward in torch 0.66 ms, hand-written backward in
numpy 0.31 ms); the tests check every gradient against torch autograd.

Budget. The default study is 3 data sets x latent sizes (1, 2, 4), 3 seeds each: 9 ensembles.
With the default 30,000 steps (11 snapshots) the 9 took 90.6 s of CPU time on one thread of
the 2-core project machine (8.8-14.7 s each, tracking and K-means included, about 0.3 ms per
step for 3 seeds; measured while other jobs loaded the machine), under the 150 s limit with
room to spare (40,000 steps took 134 s). The seed trained 150,000 steps. After 30,000 steps of
the seed's SGD 5e-4, means over 3 seeds: moons 51-61% of the points within 3 sigma, 1.7 of 2
moons covered (step 0: 2-15%, 0-0.3); ring 9-18%, 0.3-1 of 8 modes; grid about 1%, 0-0.3 of
25 modes. The moons are partly learned, the ring and the grid are not.

Seeds are independent of the ensemble: seed ``s`` gets its own streams
``SeedSequence(s, spawn_key=(k,))`` for the initial weights, the real batches, the latent
batches, the fixed evaluation latents and the real reference set, and every per-seed quantity
(matmul, sums over the batch, the optimiser update) involves only that seed's slice. So seed
2's history is the same whether it trains alone or with seeds 1 and 3 (tested).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import expit
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from modedrop.gan.toy_data import DATASETS, TRACK_METRICS, ToyDataset, get_dataset
from modedrop.metrics.ndb import NDBBins
from modedrop.stats import summarize

__all__ = [
    "ACTIVATIONS",
    "HISTORY_COLUMNS",
    "HISTORY_METRICS",
    "ToyGANSettings",
    "ToyRun",
    "load_run",
    "real_bins",
    "real_sample",
    "save_run",
    "summarize_history",
    "train_toy_gan",
]

#: Columns of :attr:`ToyRun.history` (long form, one row per seed, step and metric).
HISTORY_COLUMNS: tuple[str, ...] = ("dataset", "latent_dim", "seed", "step", "metric", "value")
#: Metrics recorded at every snapshot: the tracking metrics, then both losses on the fixed
#: evaluation batch.
HISTORY_METRICS: tuple[str, ...] = (*TRACK_METRICS, "d_loss", "g_loss")

# Per-seed random streams: SeedSequence(seed, spawn_key=(stream,)).
_STREAM_INIT, _STREAM_DATA, _STREAM_LATENT, _STREAM_EVAL, _STREAM_REAL = range(5)
# Steps whose real and latent batches are drawn at once. A constant, so that the draws of a
# seed never depend on `steps` or on the ensemble (a shorter run is a prefix of a longer one).
_CHUNK_STEPS = 256


# --------------------------------------------------------------------------- activations


@dataclass(frozen=True)
class _Activation:
    """``forward(a) -> h`` and its derivative ``grad(a, h) -> dh/da`` (elementwise)."""

    forward: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


_LEAK = np.float32(0.2)
ACTIVATIONS: dict[str, _Activation] = {
    "relu": _Activation(lambda a: np.maximum(a, 0), lambda a, h: a > 0),
    "leaky_relu": _Activation(
        lambda a: np.where(a > 0, a, _LEAK * a), lambda a, h: np.where(a > 0, 1, _LEAK)
    ),
    "tanh": _Activation(np.tanh, lambda a, h: 1 - h * h),
    "sigmoid": _Activation(lambda a: expit(a), lambda a, h: h * (1 - h)),
    "identity": _Activation(lambda a: a, lambda a, h: np.ones_like(a)),
}


# --------------------------------------------------------------------------- settings


def _int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _float(value: Any, name: str, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    number = float(value)
    if not (low < number < high):
        raise ValueError(f"{name} must lie in ({low}, {high}), got {value!r}.")
    return number


def _fraction(value: Any) -> float:
    number = _float(value, "coverage_fraction")
    if number > 1:
        raise ValueError(f"coverage_fraction must lie in (0, 1], got {value!r}.")
    return number


def _widths(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, int | str) or not isinstance(value, Sequence) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of layer widths, e.g. [8, 4].")
    return tuple(_int(w, f"{name} entries") for w in value)


def _activation(value: Any, name: str) -> str:
    if value not in ACTIVATIONS:
        raise ValueError(f"Unknown {name} {value!r}; choose one of {sorted(ACTIVATIONS)}.")
    return str(value)


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int | str) or not isinstance(value, Sequence) or len(value) == 0:
        raise ValueError(
            f"seeds must be a non-empty list of integers, e.g. [1, 2, 3]; got {value!r}."
        )
    seeds = tuple(_int(s, "every seed", minimum=0) for s in value)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}; drop the repeated ones.")
    return seeds


@dataclass(frozen=True)
class ToyGANSettings:
    """Everything that decides a toy-GAN run (JSON-serialisable; saved as settings.json).

    Defaults: the seed's networks and optimiser; a schedule sized to the study's CPU budget
    (see "Budget" in the module docstring); NDB with 25 bins (40 evaluated points per bin) on
    ``n_real`` real points; modes within ``k_sigma`` = 3 sigma, covered at a quarter of their
    expected count.
    """

    dataset: str
    latent_dim: int
    seeds: tuple[int, ...]
    steps: int = 30_000
    snapshot_every: int = 3_000
    n_eval: int = 1_000
    n_snapshot: int = 500
    n_real: int = 10_000
    ndb_bins: int = 25
    alpha: float = 0.05
    k_sigma: float = 3.0
    coverage_fraction: float = 0.25
    moons_sigma: float = 0.05
    g_hidden: tuple[int, ...] = (8, 4)
    g_activation: str = "relu"
    d_hidden: tuple[int, ...] = (64, 8)
    d_activation: str = "tanh"
    optimizer: str = "sgd"
    lr: float = 5e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    batch_size: int = 32
    init_std: float = 1.0

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(
                f"Unknown toy data set {self.dataset!r}; known data sets: {sorted(DATASETS)}."
            )
        checked = {
            "latent_dim": _int(self.latent_dim, "latent_dim"),
            "seeds": _seeds(self.seeds),
            "steps": _int(self.steps, "steps"),
            "snapshot_every": _int(self.snapshot_every, "snapshot_every"),
            "n_eval": _int(self.n_eval, "n_eval", minimum=2),
            "n_snapshot": _int(self.n_snapshot, "n_snapshot"),
            "n_real": _int(self.n_real, "n_real"),
            "ndb_bins": _int(self.ndb_bins, "ndb_bins", minimum=2),
            "alpha": _float(self.alpha, "alpha", 0.0, 1.0),
            "k_sigma": _float(self.k_sigma, "k_sigma"),
            "coverage_fraction": _fraction(self.coverage_fraction),
            "moons_sigma": _float(self.moons_sigma, "moons_sigma"),
            "g_hidden": _widths(self.g_hidden, "g_hidden"),
            "g_activation": _activation(self.g_activation, "g_activation"),
            "d_hidden": _widths(self.d_hidden, "d_hidden"),
            "d_activation": _activation(self.d_activation, "d_activation"),
            "lr": _float(self.lr, "lr"),
            "batch_size": _int(self.batch_size, "batch_size"),
            "init_std": _float(self.init_std, "init_std"),
        }
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}.")
        betas = tuple(self.adam_betas) if isinstance(self.adam_betas, Sequence) else ()
        if len(betas) != 2:
            raise ValueError(
                f"adam_betas must be a pair, e.g. (0.9, 0.999); got {self.adam_betas!r}."
            )
        checked["adam_betas"] = tuple(_float(b, "adam_betas entries", 0.0, 1.0) for b in betas)
        if checked["n_snapshot"] > checked["n_eval"]:
            raise ValueError(
                f"n_snapshot={self.n_snapshot} exceeds n_eval={self.n_eval}; the scatter snapshot "
                "is the first n_snapshot points of the evaluation batch. Lower n_snapshot."
            )
        if checked["ndb_bins"] > checked["n_real"]:
            raise ValueError(
                f"ndb_bins={self.ndb_bins} exceeds n_real={self.n_real}; K-means needs more real "
                "points than bins (ideally hundreds per bin). Raise n_real."
            )
        for key, value in checked.items():
            object.__setattr__(self, key, value)

    @property
    def snapshot_steps(self) -> tuple[int, ...]:
        """0, every ``snapshot_every`` steps, and the last step."""
        steps = list(range(0, self.steps + 1, self.snapshot_every))
        if steps[-1] != self.steps:
            steps.append(self.steps)
        return tuple(steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyGANSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown toy-GAN setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# --------------------------------------------------------------------------- ensemble MLPs


@functools.lru_cache(maxsize=8)
def _ones(n: int) -> np.ndarray:
    ones = np.ones((1, 1, n), dtype=np.float32)
    ones.setflags(write=False)
    return ones


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


class _EnsembleMLP:
    """``n_seeds`` MLPs of the same shape, parameters stacked on a leading seed axis.

    ``params`` alternates weights ``(S, in, out)`` and biases ``(S, 1, out)``, float32. Hidden
    layers use ``activation``; the output layer is linear (the discriminator's sigmoid is
    folded into its loss).
    """

    def __init__(self, params: list[np.ndarray], activation: str) -> None:
        self.params = params
        self.activation = ACTIVATIONS[activation]

    @classmethod
    def initialise(
        cls, sizes: Sequence[int], activation: str, rngs: Sequence[np.random.Generator], std: float
    ) -> _EnsembleMLP:
        """Every weight and bias ~ N(0, std^2), each seed from its own generator."""
        per_seed = []
        for rng in rngs:
            layers = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
                layers.append(rng.standard_normal((fan_in, fan_out)) * std)
                layers.append(rng.standard_normal((1, fan_out)) * std)
            per_seed.append(layers)
        params = [
            np.ascontiguousarray(np.stack([seed[i] for seed in per_seed]), dtype=np.float32)
            for i in range(len(per_seed[0]))
        ]
        return cls(params, activation)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Output ``(S, B, out)`` and the (input, pre-activation) of every layer."""
        cache = []
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            a = x @ self.params[2 * i] + self.params[2 * i + 1]
            cache.append((x, a))
            x = self.activation.forward(a) if i < n_layers - 1 else a
        return x, cache

    def backward(
        self, cache: list[tuple[np.ndarray, np.ndarray]], grad_out: np.ndarray, *, params: bool
    ) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
        """Gradients of the parameters (if ``params``) and otherwise of the input, given the
        gradient of the summed loss with respect to the output."""
        grads: list[np.ndarray] = []
        delta = grad_out  # d loss / d pre-activation of the current layer
        for i in range(len(cache) - 1, -1, -1):
            x, _ = cache[i]
            if params:
                # Bias gradient = sum over the batch, as a matmul with ones (faster than .sum).
                grads.append(_ones(delta.shape[1]) @ delta)
                grads.append(x.transpose(0, 2, 1) @ delta)
            if i == 0:
                break
            below = cache[i - 1][1]
            h = x  # the input of layer i is the activation of layer i - 1
            delta = (delta @ self.params[2 * i].transpose(0, 2, 1)) * self.activation.grad(below, h)
        if params:
            return grads[::-1], None
        return None, delta @ self.params[0].transpose(0, 2, 1)


def discriminator_gradients(
    generator: _EnsembleMLP, discriminator: _EnsembleMLP, real: np.ndarray, z: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, list]:
    """Gradients of every seed's discriminator loss ``mean softplus(-D(x)) + mean
    softplus(D(G(z)))`` (BCE, real 1, fake 0), and the fake batch with its generator cache."""
    batch = real.shape[1]
    fake, g_cache = generator.forward(z)
    logits, d_cache = discriminator.forward(np.concatenate([real, fake], axis=1))
    grad = expit(logits)  # d softplus(l) / dl; minus 1 for the real half (softplus(-l))
    grad[:, :batch] -= 1
    grad *= np.float32(1.0 / batch)
    grads, _ = discriminator.backward(d_cache, grad, params=True)
    return grads, fake, g_cache


def generator_gradients(
    generator: _EnsembleMLP, discriminator: _EnsembleMLP, fake: np.ndarray, g_cache: list
) -> list[np.ndarray]:
    """Gradients of every seed's non-saturating generator loss ``mean softplus(-D(G(z)))``."""
    logits, d_cache = discriminator.forward(fake)
    grad = (expit(logits) - 1) * np.float32(1.0 / fake.shape[1])
    _, grad_fake = discriminator.backward(d_cache, grad, params=False)
    grads, _ = generator.backward(g_cache, grad_fake, params=True)
    return grads


class _Optimiser:
    """Plain SGD or Adam (Kingma & Ba 2015, torch.optim.Adam's update, no weight decay);
    elementwise, so every seed's update uses only its own gradients."""

    def __init__(self, params: list[np.ndarray], settings: ToyGANSettings) -> None:
        self.params = params
        self.lr = np.float32(settings.lr)
        self.adam = settings.optimizer == "adam"
        self.beta1, self.beta2 = (np.float32(b) for b in settings.adam_betas)
        self.t = 0
        if self.adam:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        if not self.adam:
            for p, g in zip(self.params, grads, strict=True):
                p -= self.lr * g
            return
        self.t += 1
        c1 = 1 - float(self.beta1) ** self.t
        c2 = 1 - float(self.beta2) ** self.t
        step = np.float32(float(self.lr) / c1)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= step * m / (np.sqrt(v / np.float32(c2)) + np.float32(1e-8))


# --------------------------------------------------------------------------- real data


def real_sample(dataset: str, seed: int, n: int) -> np.ndarray:
    """The ``n`` real points of (data set, seed) that its NDB bins are built on, float32."""
    return get_dataset(dataset).sample(n, _stream(seed, _STREAM_REAL))


@functools.lru_cache(maxsize=64)
def real_bins(dataset: str, seed: int, n_real: int, n_bins: int) -> NDBBins:
    """NDB bins (K-means, ``n_bins``, seeded with ``seed``) on :func:`real_sample`; cached, so
    the latent sizes of one process share them."""
    return NDBBins(real_sample(dataset, seed, n_real), n_bins=n_bins, seed=seed)


# --------------------------------------------------------------------------- the run


@dataclass(eq=False)
class ToyRun:
    """One trained ensemble: its settings, tracking history, snapshots and final generators.

    ``history``: long table with :data:`HISTORY_COLUMNS`, every metric of
    :data:`HISTORY_METRICS` for every seed at every snapshot step (step 0 = before training).
    ``snapshots``: step -> float32 ``(n_seeds, n_snapshot, 2)``, the generator's output on a
    fixed latent batch per seed (the same latents at every step). ``generator``: parameter name
    -> float32 array with a leading seed axis (``"{layer}.weight"`` ``(S, in, out)``,
    ``"{layer}.bias"`` ``(S, out)``). ``elapsed_s``: training wall time (not saved).
    """

    settings: ToyGANSettings
    history: pd.DataFrame
    snapshots: dict[int, np.ndarray]
    generator: dict[str, np.ndarray]
    elapsed_s: float | None = field(default=None, compare=False)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.settings.seeds

    def generate(self, z: np.ndarray) -> np.ndarray:
        """Generated points ``(S, n, 2)`` of every seed's final generator for latents
        ``z`` of shape ``(S, n, latent_dim)``."""
        z = np.asarray(z, dtype=np.float32)
        d = self.settings.latent_dim
        if z.ndim != 3 or z.shape[0] != len(self.seeds) or z.shape[2] != d:
            raise ValueError(
                f"z must have shape (n_seeds={len(self.seeds)}, n, latent_dim={d}), got {z.shape}."
            )
        return _generator_from_state(self.generator, self.settings).forward(z)[0]


def _generator_state(net: _EnsembleMLP) -> dict[str, np.ndarray]:
    state = {}
    for i in range(len(net.params) // 2):
        state[f"{i}.weight"] = net.params[2 * i].copy()
        state[f"{i}.bias"] = net.params[2 * i + 1][:, 0, :].copy()
    return state


def _generator_from_state(state: dict[str, np.ndarray], settings: ToyGANSettings) -> _EnsembleMLP:
    params = []
    for i in range(len(settings.g_hidden) + 1):
        params.append(np.asarray(state[f"{i}.weight"], dtype=np.float32))
        params.append(np.asarray(state[f"{i}.bias"], dtype=np.float32)[:, None, :])
    return _EnsembleMLP(params, settings.g_activation)


def _draw_chunk(
    dataset: ToyDataset, data_rngs, latent_rngs, batch: int, latent_dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Real and latent batches of :data:`_CHUNK_STEPS` steps, ``(steps, S, B, .)``."""
    n = _CHUNK_STEPS * batch
    real = np.stack([dataset.sample(n, rng).reshape(_CHUNK_STEPS, batch, 2) for rng in data_rngs])
    z = np.stack(
        [
            rng.standard_normal((n, latent_dim), dtype=np.float32).reshape(_CHUNK_STEPS, batch, -1)
            for rng in latent_rngs
        ]
    )
    return np.ascontiguousarray(real.swapaxes(0, 1)), np.ascontiguousarray(z.swapaxes(0, 1))


def _softplus_mean(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x.astype(np.float64)).mean(axis=(1, 2))


class _Tracker:
    """Evaluates every seed's generator on its fixed latent batch at the snapshot steps."""

    def __init__(self, settings: ToyGANSettings, dataset: ToyDataset) -> None:
        self.settings, self.dataset = settings, dataset
        s = settings
        self.z = np.stack(
            [
                _stream(seed, _STREAM_EVAL).standard_normal((s.n_eval, s.latent_dim), np.float32)
                for seed in s.seeds
            ]
        )
        self.bins = [real_bins(s.dataset, seed, s.n_real, s.ndb_bins) for seed in s.seeds]
        self.real = np.stack(
            [real_sample(s.dataset, seed, s.n_real)[: s.n_eval] for seed in s.seeds]
        )
        self.rows: list[tuple] = []
        self.snapshots: dict[int, np.ndarray] = {}

    def __call__(self, step: int, gen: _EnsembleMLP, disc: _EnsembleMLP) -> None:
        s = self.settings
        fake = gen.forward(self.z)[0]
        if not np.all(np.isfinite(fake)):
            raise FloatingPointError(
                f"The generator of {s.dataset}, latent {s.latent_dim} produced NaN/inf at step "
                f"{step} (training diverged); lower lr or init_std."
            )
        d_real, d_fake = disc.forward(self.real)[0], disc.forward(fake)[0]
        d_loss = _softplus_mean(-d_real) + _softplus_mean(d_fake)
        g_loss = _softplus_mean(-d_fake)
        self.snapshots[step] = fake[:, : s.n_snapshot].copy()
        for i, seed in enumerate(s.seeds):
            values = self.dataset.track(
                fake[i],
                self.bins[i],
                alpha=s.alpha,
                k_sigma=s.k_sigma,
                coverage_fraction=s.coverage_fraction,
            )
            values.update(d_loss=float(d_loss[i]), g_loss=float(g_loss[i]))
            for metric in HISTORY_METRICS:
                self.rows.append((s.dataset, s.latent_dim, seed, step, metric, values[metric]))

    def history(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS))
        return frame.astype({"latent_dim": "int64", "seed": "int64", "step": "int64"})


def train_toy_gan(
    dataset: str,
    latent_dim: int,
    seeds: Sequence[int],
    *,
    progress: bool = True,
    **settings: Any,
) -> ToyRun:
    """Train the seed's toy GAN for every seed of ``seeds`` at once and track it.

    ``settings`` are the other fields of :class:`ToyGANSettings` (``steps``,
    ``snapshot_every``, ``n_eval``, ``n_real``, ``ndb_bins``, ``alpha``, networks, optimiser,
    ...). At step 0, every ``snapshot_every`` steps and at the last step, every seed's
    generator is evaluated on its fixed ``n_eval`` latents: the tracking metrics against that
    seed's real NDB bins (:func:`real_bins`), both losses, and a snapshot of the first
    ``n_snapshot`` points. ``progress`` shows a tqdm bar over steps. One numpy/BLAS thread.
    """
    fields = {f.name for f in dataclasses.fields(ToyGANSettings)} - {
        "dataset",
        "latent_dim",
        "seeds",
    }
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise ValueError(f"Unknown toy-GAN setting(s) {unknown}; known: {sorted(fields)}.")
    config = ToyGANSettings(dataset=dataset, latent_dim=latent_dim, seeds=seeds, **settings)
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        run = _train(config, progress)
    run.elapsed_s = time.perf_counter() - start
    return run


def _train(s: ToyGANSettings, progress: bool) -> ToyRun:
    data = get_dataset(s.dataset, moons_sigma=s.moons_sigma)
    init = [_stream(seed, _STREAM_INIT) for seed in s.seeds]
    gen = _EnsembleMLP.initialise((s.latent_dim, *s.g_hidden, 2), s.g_activation, init, s.init_std)
    disc = _EnsembleMLP.initialise((2, *s.d_hidden, 1), s.d_activation, init, s.init_std)
    g_opt, d_opt = _Optimiser(gen.params, s), _Optimiser(disc.params, s)
    data_rngs = [_stream(seed, _STREAM_DATA) for seed in s.seeds]
    latent_rngs = [_stream(seed, _STREAM_LATENT) for seed in s.seeds]
    tracker = _Tracker(s, data)
    snapshot_steps = set(s.snapshot_steps)
    tracker(0, gen, disc)
    bar = tqdm(
        total=s.steps, disable=not progress, desc=f"{s.dataset} latent {s.latent_dim}", leave=False
    )
    with bar, np.errstate(over="ignore"):  # exp overflow in expit/softplus saturates correctly
        for first in range(0, s.steps, _CHUNK_STEPS):
            real, z = _draw_chunk(data, data_rngs, latent_rngs, s.batch_size, s.latent_dim)
            last = min(first + _CHUNK_STEPS, s.steps)
            for i in range(last - first):
                d_grads, fake, g_cache = discriminator_gradients(gen, disc, real[i], z[i])
                d_opt.step(d_grads)
                g_opt.step(generator_gradients(gen, disc, fake, g_cache))
                if first + i + 1 in snapshot_steps:
                    tracker(first + i + 1, gen, disc)
            bar.update(last - first)
    return ToyRun(s, tracker.history(), tracker.snapshots, _generator_state(gen))


def summarize_history(history: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof 1), n and 95% CI over seeds per (dataset, latent_dim, step, metric),
    via :func:`modedrop.stats.summarize`; NaN values are left out."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks column(s) {missing}; expected {list(HISTORY_COLUMNS)}.")
    long = pd.DataFrame(
        {
            "dataset": history["dataset"].astype(str),
            "experiment": "toy_gan",
            "encoder": history["latent_dim"].astype("int64"),
            "metric": history["metric"].astype(str),
            "condition": history["step"].astype("int64"),
            "seed": history["seed"],
            "value": history["value"],
        }
    )
    out = summarize(long).rename(columns={"encoder": "latent_dim", "condition": "step"})
    out = out.drop(columns="experiment").astype({"latent_dim": "int64", "step": "int64"})
    return out.sort_values(["dataset", "latent_dim", "metric", "step"]).reset_index(drop=True)


# --------------------------------------------------------------------------- save / load

_FILES = ("history.csv", "snapshots.npz", "generator.pt", "settings.json")


def _atomic(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write through ``write(file)`` to a temporary name, then rename: a reader never sees a
    half-written file, and an interrupted run leaves no file that looks complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_npz(handle, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez`` with a fixed timestamp, so the same arrays give the same bytes."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", (1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def save_run(run: ToyRun, directory: str | os.PathLike) -> Path:
    """Write history.csv, snapshots.npz (``step_<n>`` arrays), generator.pt (torch state dict
    of the seed-stacked parameters) and settings.json into ``directory``; returns it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / "history.csv", lambda f: run.history.to_csv(f, index=False), mode="w")
    snapshots = {f"step_{step:09d}": run.snapshots[step] for step in sorted(run.snapshots)}
    _atomic(out / "snapshots.npz", lambda f: _write_npz(f, snapshots))
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in run.generator.items()}
    _atomic(out / "generator.pt", lambda f: torch.save(state, f))
    text = json.dumps(run.settings.to_dict(), indent=2, sort_keys=True) + "\n"
    _atomic(out / "settings.json", lambda f: f.write(text), mode="w")
    return out


def load_run(directory: str | os.PathLike) -> ToyRun:
    """Read a run written by :func:`save_run` (generator.pt with ``weights_only=True``)."""
    src = Path(directory)
    missing = [name for name in _FILES if not (src / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{src} lacks {missing}; it is not a complete toy-GAN run (save_run writes "
            f"{list(_FILES)}). Re-run the training job."
        )
    settings = ToyGANSettings.from_dict(json.loads((src / "settings.json").read_text("utf-8")))
    history = pd.read_csv(src / "history.csv")
    with np.load(src / "snapshots.npz", allow_pickle=False) as archive:
        snapshots = {int(k.removeprefix("step_")): archive[k] for k in archive.files}
    state = torch.load(src / "generator.pt", map_location="cpu", weights_only=True)
    generator = {k: v.numpy() for k, v in state.items()}
    return ToyRun(settings, history, snapshots, generator)
