"""Index files of the mode-drop protocol: which images form each evaluated subset.

For an experiment with k target attributes, three conditions are sampled without replacement
from the data set's attribute table:

* ``unbiased``  - every one of the 2^k combinations of the target attributes' values is equally
  represented (size / 2^k images per combination): no mode is missing;
* ``target``    - only images with every target attribute = +1 (the -1 modes are dropped);
* ``nontarget`` - only images with every target attribute = -1 (the +1 modes are dropped).

Sampling is deterministic per (attribute table, experiment name, seed, condition): the random
stream is a PCG64 generator seeded through ``numpy.random.SeedSequence`` with the seed and stable
SHA-256-derived integers of the experiment and condition names, and the selection is the first
``n`` rows of a stable ``argsort`` of uniform doubles - an algorithm that does not depend on
NumPy's ``choice``/``permutation`` implementation details. Each combination cell of the
unbiased condition has its own child stream, so the cells are independent of one another.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CONDITIONS: tuple[str, ...] = ("unbiased", "target", "nontarget")


class InfeasibleExperimentError(ValueError):
    """An experiment asks for more images than a combination cell of the data set holds."""


@dataclass(frozen=True)
class Experiment:
    """One mode-drop experiment: its target attributes and the subset size per condition."""

    name: str
    attributes: tuple[str, ...]
    sizes: Mapping[str, int]

    @classmethod
    def from_config(cls, name: str, block: Mapping) -> Experiment:
        """Build from a config block ``{attributes: [...], size: int | {condition: int}}``."""
        size = block["size"]
        sizes = dict(size) if isinstance(size, Mapping) else dict.fromkeys(CONDITIONS, int(size))
        missing = [c for c in CONDITIONS if c not in sizes]
        if missing:
            raise ValueError(
                f"experiment {name!r}: size is missing for condition(s) {missing}; give one "
                f"integer for all conditions or a mapping with keys {list(CONDITIONS)}"
            )
        return cls(name=name, attributes=tuple(block["attributes"]), sizes=sizes)


def _stable_int(text: str) -> int:
    """A platform-independent 64-bit integer for a string (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _seed_sequence(seed: int, experiment: str, condition: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), _stable_int(experiment), _stable_int(condition)])


def combination_cells(attributes: pd.DataFrame, targets: Sequence[str]) -> dict[tuple, np.ndarray]:
    """Row positions of each of the 2^k value combinations of ``targets``, in table order."""
    values = attributes.loc[:, list(targets)].to_numpy()
    cells = {}
    for combo in itertools.product((1, -1), repeat=len(targets)):
        cells[combo] = np.flatnonzero((values == np.asarray(combo)).all(axis=1))
    return cells


def _cells_for_condition(
    cells: Mapping[tuple, np.ndarray], condition: str, size: int, k: int
) -> list[tuple[tuple, int]]:
    """(cell, number of images to draw from it) for one condition."""
    if condition == "unbiased":
        per_cell, remainder = divmod(size, 2**k)
        if remainder:
            raise ValueError(
                f"the unbiased condition needs a size divisible by 2^{k} = {2**k} (one equal share "
                f"per combination of the {k} target attribute(s)); got {size}. Use "
                f"{size - remainder} or {size - remainder + 2**k}."
            )
        return [(combo, per_cell) for combo in cells]
    if condition == "target":
        return [((1,) * k, size)]
    if condition == "nontarget":
        return [((-1,) * k, size)]
    raise ValueError(f"unknown condition {condition!r}; expected one of {list(CONDITIONS)}")


def _describe(targets: Sequence[str], combo: tuple) -> str:
    return ", ".join(f"{a}={'+1' if v == 1 else '-1'}" for a, v in zip(targets, combo, strict=True))


def _feasible_cells(attributes: pd.DataFrame, experiment: Experiment) -> dict[tuple, np.ndarray]:
    """The experiment's combination cells, after checking that every condition fits in them."""
    unknown = [a for a in experiment.attributes if a not in attributes.columns]
    if unknown:
        raise ValueError(
            f"experiment {experiment.name!r}: unknown attribute(s) {unknown}; the data set has "
            f"{list(attributes.columns)}"
        )
    k = len(experiment.attributes)
    cells = combination_cells(attributes, experiment.attributes)
    for condition in CONDITIONS:
        size = experiment.sizes[condition]
        plan = _cells_for_condition(cells, condition, size, k)
        smallest = min((combo for combo, _ in plan), key=lambda combo: len(cells[combo]))
        count = len(cells[smallest])
        per_cell = plan[0][1]
        if per_cell > count:
            largest = count * (2**k if condition == "unbiased" else 1)
            raise InfeasibleExperimentError(
                f"experiment {experiment.name!r}, condition {condition!r}: size {size} is "
                f"infeasible. It needs {per_cell} images from the cell "
                f"[{_describe(experiment.attributes, smallest)}], the smallest one it samples, "
                f"which holds only {count}. The largest feasible size for this condition is "
                f"{largest}. Lower experiments.{experiment.name}.size in the config."
            )
    return cells


def check_feasible(attributes: pd.DataFrame, experiment: Experiment) -> None:
    """Fail, before any heavy work, when a condition needs more images than a cell holds.

    The message names the smallest cell involved, its count and the largest feasible size.
    """
    _feasible_cells(attributes, experiment)


def _draw(
    names: np.ndarray,
    cells: dict[tuple, np.ndarray],
    experiment: Experiment,
    seed: int,
    condition: str,
) -> list[str]:
    """One condition's subset from already checked cells (see the module docstring)."""
    k = len(experiment.attributes)
    plan = _cells_for_condition(cells, condition, experiment.sizes[condition], k)
    children = _seed_sequence(seed, experiment.name, condition).spawn(len(plan))
    chosen = []
    for (combo, n), child in zip(plan, children, strict=True):
        rows = cells[combo]
        keys = np.random.Generator(np.random.PCG64(child)).random(len(rows))
        chosen.append(rows[np.argsort(keys, kind="stable")[:n]])
    return sorted(names[np.concatenate(chosen)].tolist())


def sample_condition(
    attributes: pd.DataFrame, experiment: Experiment, seed: int, condition: str
) -> list[str]:
    """Image names of one condition's subset, sampled without replacement, sorted."""
    cells = _feasible_cells(attributes, experiment)
    return _draw(attributes.index.to_numpy(), cells, experiment, seed, condition)


def build_indices(
    attributes: pd.DataFrame, experiment: Experiment, seed: int
) -> dict[str, list[str]]:
    """All conditions' subsets for one (experiment, seed); the cells are computed once."""
    cells = _feasible_cells(attributes, experiment)
    names = attributes.index.to_numpy()
    return {c: _draw(names, cells, experiment, seed, c) for c in CONDITIONS}


def write_index(path: str | Path, names: Sequence[str]) -> None:
    """One image file name per line, sorted, newline-terminated."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{n}\n" for n in sorted(names)))


def read_index(path: str | Path) -> list[str]:
    """Inverse of :func:`write_index`; rejects an empty file or duplicated names."""
    names = Path(path).read_text().split()
    if not names:
        raise ValueError(f"index file {path} is empty; re-run the build_indices rule")
    if len(set(names)) != len(names):
        raise ValueError(f"index file {path} lists an image twice; re-run the build_indices rule")
    return names
