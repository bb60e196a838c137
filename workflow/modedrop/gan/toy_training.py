"""The toy GAN of Martina-Perez, *Addressing mode collapse in GANs* (Section 4), trained for
several seeds at once and tracked.

Networks (Martina-Perez): the generator is an MLP ``latent_dim -> 8 -> 4 -> 2`` with ReLU, the
discriminator ``2 -> 64 -> 8 -> 1`` with tanh and a sigmoid output; every weight and bias is
drawn from N(0, 1) ("standard normal initialization"); plain SGD, learning rate 5e-4 for both,
batch 32, latent N(0, I). All of these are settings
(:class:`modedrop.gan.toy_settings.ToyGANSettings`, whose defaults are the paper's; the study's
default config switches to Adam, see "Budget").

Loss. Martina-Perez says "cross-entropy". The discriminator minimises the binary cross-entropy
with label 1 for real and 0 for generated points, ``-log D(x) - log(1 - D(G(z)))`` (batch
means, summed). The generator minimises the *non-saturating* cross-entropy ``-log D(G(z))``,
i.e. the same BCE with the generated points labelled real: it is what the usual PyTorch recipe
(``BCELoss(D(G(z)), ones)``) computes, and it is what Goodfellow et al. (2014) recommend
because the minimax form ``log(1 - D(G(z)))`` has vanishing gradients while D wins, which it
does early here. Losses are computed from the logit with softplus (``-log sigmoid(l) =
softplus(-l)``), the same value as BCE on the sigmoid without its overflow. One training step
is one discriminator update on a fresh real batch and a fresh latent batch, then one generator
update through the updated discriminator on the same latent batch (the PyTorch DCGAN recipe).

Speed. The nets are tiny, so the cost of a step is per-operation overhead, not arithmetic. All
seeds of one (data set, latent size) run as one *ensemble*: every parameter has a leading seed
axis and each layer is one stacked matmul over seeds. The forward and backward passes are
written out in numpy (measured on this machine, 3 seeds, one thread, per step: torch autograd
with ``baddbmm`` 1.14 ms, hand-written backward in torch 0.66 ms, hand-written backward in
numpy 0.31 ms; :mod:`modedrop.gan.toy_ensemble`); the tests check every gradient against torch
autograd.

Budget. The default study is 3 data sets x latent sizes (1, 2, 4), 3 seeds each: 9 ensembles of
30,000 steps (11 snapshots), one thread each, on the 2-core project machine (shared, so +-20%;
CPU process time, tracking and K-means included, measured by calling :func:`train_toy_gan`
directly). The paper's SGD at 5e-4 (these settings' defaults): 44.5 s for the 9; final
high-quality share (3 seeds, mean) moons 51-61% with 1.7 of 2 moons covered, ring 9-18% with
0.3-1 of 8 modes, grid 1-2% with 0-0.3 of 25 modes: the ring and the grid are not learned
(Martina-Perez trained 150,000 steps). Adam at 1e-3, betas (0.5, 0.999), the default config's
documented deviation: 66-80 s for the 9 (an Adam step costs about 1.5 SGD steps); moons 74-97%
with 1.7-2 moons, ring 64-84% with 1.7-3 modes, grid 23-45% with 3-3.7 modes. Neither, nor Adam
at 2e-4 / 5e-4, betas (0.9, 0.999), 50,000 Adam steps (106 s) or SGD at 5e-3, showed a
consistent latent-size effect (docs/generators.md lists them all).

Seeds are independent of the ensemble: seed ``s`` gets its own streams
``SeedSequence(s, spawn_key=(k,))`` for the initial weights, the real batches, the latent
batches, the fixed evaluation latents and the real reference set, and every per-seed quantity
(matmul, sums over the batch, the optimiser update) involves only that seed's slice. So seed
2's history is the same whether it trains alone or with seeds 1 and 3 (tested).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from modedrop.gan.toy_data import TRACK_METRICS, ToyDataset, get_dataset
from modedrop.gan.toy_ensemble import (
    STREAM_DATA,
    STREAM_EVAL,
    STREAM_INIT,
    STREAM_LATENT,
    EnsembleMLP,
    Optimiser,
    discriminator_gradients,
    generator_gradients,
    rng_stream,
)
from modedrop.gan.toy_real_data import real_bins, real_sample
from modedrop.gan.toy_settings import ToyGANSettings
from modedrop.stats import summarize

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_METRICS",
    "ToyRun",
    "summarize_history",
    "train_toy_gan",
]

#: Columns of :attr:`ToyRun.history` (long form, one row per seed, step and metric).
HISTORY_COLUMNS: tuple[str, ...] = ("dataset", "latent_dim", "seed", "step", "metric", "value")
#: Metrics recorded at every snapshot: the tracking metrics, then both losses on the fixed
#: evaluation batch.
HISTORY_METRICS: tuple[str, ...] = (*TRACK_METRICS, "d_loss", "g_loss")

# Steps whose real and latent batches are drawn at once. A constant, so that the draws of a
# seed never depend on `steps` or on the ensemble (a shorter run is a prefix of a longer one).
_CHUNK_STEPS = 256


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


def _generator_state(net: EnsembleMLP) -> dict[str, np.ndarray]:
    state = {}
    for i in range(len(net.params) // 2):
        state[f"{i}.weight"] = net.params[2 * i].copy()
        state[f"{i}.bias"] = net.params[2 * i + 1][:, 0, :].copy()
    return state


def _generator_from_state(state: dict[str, np.ndarray], settings: ToyGANSettings) -> EnsembleMLP:
    params = []
    for i in range(len(settings.g_hidden) + 1):
        params.append(np.asarray(state[f"{i}.weight"], dtype=np.float32))
        params.append(np.asarray(state[f"{i}.bias"], dtype=np.float32)[:, None, :])
    return EnsembleMLP(params, settings.g_activation)


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
                rng_stream(seed, STREAM_EVAL).standard_normal((s.n_eval, s.latent_dim), np.float32)
                for seed in s.seeds
            ]
        )
        self.bins = [real_bins(s.dataset, seed, s.n_real, s.ndb_bins) for seed in s.seeds]
        self.real = np.stack(
            [real_sample(s.dataset, seed, s.n_real)[: s.n_eval] for seed in s.seeds]
        )
        self.rows: list[tuple] = []
        self.snapshots: dict[int, np.ndarray] = {}

    def __call__(self, step: int, gen: EnsembleMLP, disc: EnsembleMLP) -> None:
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
    """Train Martina-Perez's toy GAN for every seed of ``seeds`` at once and track it.

    ``settings`` are the other fields of :class:`ToyGANSettings` (``steps``, ``snapshot_every``,
    ``n_eval``, ``n_real``, ``ndb_bins``, ``alpha``, networks, optimiser, ...). At step 0, every
    ``snapshot_every`` steps and at the last step, every seed's generator is evaluated on its
    fixed ``n_eval`` latents: the tracking metrics against that seed's real NDB bins
    (:func:`modedrop.gan.toy_real_data.real_bins`), both losses, and a snapshot of the first
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
    init = [rng_stream(seed, STREAM_INIT) for seed in s.seeds]
    gen = EnsembleMLP.initialise((s.latent_dim, *s.g_hidden, 2), s.g_activation, init, s.init_std)
    disc = EnsembleMLP.initialise((2, *s.d_hidden, 1), s.d_activation, init, s.init_std)
    g_opt, d_opt = Optimiser(gen.params, s), Optimiser(disc.params, s)
    data_rngs = [rng_stream(seed, STREAM_DATA) for seed in s.seeds]
    latent_rngs = [rng_stream(seed, STREAM_LATENT) for seed in s.seeds]
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
