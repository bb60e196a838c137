"""Settings of a toy-GAN run (Martina-Perez, *Addressing mode collapse in GANs*, Section 4):
:class:`ToyGANSettings`, its defaults and the checks that turn a bad value into a clear error."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modedrop.gan.toy_activations import ACTIVATIONS
from modedrop.gan.toy_data import DATASETS

__all__ = ["ToyGANSettings"]


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

    Defaults: Martina-Perez's networks and optimiser; a schedule sized to the study's CPU budget
    (see "Budget" in :mod:`modedrop.gan.toy_training`); NDB with 25 bins (40 evaluated points
    per bin) on ``n_real`` real points; modes within ``k_sigma`` = 3 sigma, covered at a quarter
    of their expected count.
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
