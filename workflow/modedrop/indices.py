"""Index files of the mode-drop protocol: which images form each evaluated subset.

For an experiment with k target attributes, three conditions are sampled without replacement
from the data set's attribute table:

* ``unbiased``  - no mode is missing. How it is balanced is the experiment's ``balance``:

  - ``joint`` (default): every one of the 2^k combinations of the target attributes' values is
    equally represented (size / 2^k images per combination). For k = 1 this is the only
    meaning of "balanced".
  - ``marginal``: each target attribute is +1 in exactly half of the images, and the 2^k
    combinations are as equal as the data set allows - the integer allocation closest to
    size / 2^k per combination in L1 distance, under the cell sizes (an integer linear
    program, solved by HiGHS through :func:`scipy.optimize.milp`). When joint balance fits,
    both give the same allocation. CelebA needs it for the paper's three-attribute
    experiment: 21,760 images = 8 x 2,720, but the cell (Attractive, not High_Cheekbones,
    not Young) holds only 2,307 images.

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
BALANCES: tuple[str, ...] = ("joint", "marginal")


class InfeasibleExperimentError(ValueError):
    """An experiment asks for more images than a combination cell of the data set holds."""


@dataclass(frozen=True)
class Experiment:
    """One mode-drop experiment: its target attributes and the subset size per condition."""

    name: str
    attributes: tuple[str, ...]
    sizes: Mapping[str, int]
    balance: str = "joint"

    def __post_init__(self):
        if self.balance not in BALANCES:
            raise ValueError(
                f"experiment {self.name!r}: unknown balance {self.balance!r}; "
                f"expected one of {list(BALANCES)}"
            )

    @classmethod
    def from_config(cls, name: str, block: Mapping) -> Experiment:
        """Build from a config block ``{attributes: [...], size: ..., balance: ...}``.

        ``size`` is one integer for all conditions or a mapping ``{condition: int}``;
        ``balance`` (``joint`` when absent) says how the unbiased condition is balanced.
        """
        size = block["size"]
        sizes = dict(size) if isinstance(size, Mapping) else dict.fromkeys(CONDITIONS, int(size))
        missing = [c for c in CONDITIONS if c not in sizes]
        if missing:
            raise ValueError(
                f"experiment {name!r}: size is missing for condition(s) {missing}; give one "
                f"integer for all conditions or a mapping with keys {list(CONDITIONS)}"
            )
        return cls(
            name=name,
            attributes=tuple(block["attributes"]),
            sizes=sizes,
            balance=block.get("balance", "joint"),
        )


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


def _joint_allocation(size: int, k: int) -> list[int]:
    per_cell, remainder = divmod(size, 2**k)
    if remainder:
        raise ValueError(
            f"the unbiased condition with joint balance needs a size divisible by 2^{k} = {2**k} "
            f"(one equal share per combination of the {k} target attribute(s)); got {size}. "
            f"Use {size - remainder} or {size - remainder + 2**k}."
        )
    return [per_cell] * 2**k


def marginal_allocation(
    combos: Sequence[tuple], capacities: Sequence[int], size: int
) -> list[int] | None:
    """Images per combination with every attribute +1 in exactly ``size / 2`` of them.

    Among the integer allocations ``n`` with ``0 <= n_c <= capacity_c``, ``sum(n) = size`` and,
    for every attribute, ``sum(n_c for c with that attribute +1) = size / 2``, returns one that
    minimises ``sum_c |n_c - size / 2^k|`` (closest to joint balance). None when there is none.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    if size % 2:
        raise ValueError(
            f"the unbiased condition with marginal balance needs an even size (half of the "
            f"images with each target attribute); got {size}. Use {size - 1} or {size + 1}."
        )
    combos = np.asarray(combos)
    m, k = combos.shape
    target = size / m
    # Variables: n_1..n_m (integers), then t_1..t_m >= |n_c - target| (the objective).
    objective = np.concatenate([np.zeros(m), np.ones(m)])
    equalities = np.vstack([np.ones(m), (combos == 1).T.astype(float)])
    rhs = np.concatenate([[size], np.full(k, size / 2)])
    eye = np.eye(m)
    constraints = [
        LinearConstraint(np.hstack([equalities, np.zeros((k + 1, m))]), rhs, rhs),
        LinearConstraint(np.hstack([eye, -eye]), -np.inf, target),  # n - t <= target
        LinearConstraint(np.hstack([eye, eye]), target, np.inf),  # n + t >= target
    ]
    bounds = Bounds(
        np.zeros(2 * m), np.concatenate([np.asarray(capacities, float), np.full(m, np.inf)])
    )
    integrality = np.concatenate([np.ones(m), np.zeros(m)])
    result = milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)
    if result.status != 0:
        return None
    return [int(round(x)) for x in result.x[:m]]


def _largest_marginal_size(combos: Sequence[tuple], capacities: Sequence[int]) -> int:
    """The largest even size that marginal balance can reach (bisection on feasibility)."""
    low, high = 0, sum(capacities) // 2
    while low < high:
        half = (low + high + 1) // 2
        if marginal_allocation(combos, capacities, 2 * half) is None:
            high = half - 1
        else:
            low = half
    return 2 * low


def _allocation(
    cells: Mapping[tuple, np.ndarray], experiment: Experiment, condition: str
) -> list[tuple[tuple, int]]:
    """(combination, number of images to draw from its cell) for one condition.

    Raises :class:`InfeasibleExperimentError` when a cell holds fewer images than it must give.
    """
    k = len(experiment.attributes)
    size = experiment.sizes[condition]
    if condition == "target":
        plan = [((1,) * k, size)]
    elif condition == "nontarget":
        plan = [((-1,) * k, size)]
    elif condition != "unbiased":
        raise ValueError(f"unknown condition {condition!r}; expected one of {list(CONDITIONS)}")
    elif experiment.balance == "joint":
        plan = list(zip(cells, _joint_allocation(size, k), strict=True))
    else:
        combos, capacities = list(cells), [len(rows) for rows in cells.values()]
        counts = marginal_allocation(combos, capacities, size)
        if counts is None:
            raise InfeasibleExperimentError(
                f"experiment {experiment.name!r}, condition 'unbiased' (marginal balance): size "
                f"{size} is infeasible - no allocation puts each of "
                f"{list(experiment.attributes)} at +1 in exactly half of the images within the "
                f"cell sizes {dict(zip(combos, capacities, strict=True))}. The largest feasible "
                f"size is {_largest_marginal_size(combos, capacities)}. Lower "
                f"experiments.{experiment.name}.size in the config."
            )
        plan = list(zip(combos, counts, strict=True))
    _check_cells_hold(cells, experiment, condition, plan)
    return plan


def _check_cells_hold(
    cells: Mapping[tuple, np.ndarray],
    experiment: Experiment,
    condition: str,
    plan: Sequence[tuple[tuple, int]],
) -> None:
    short = [(combo, n) for combo, n in plan if n > len(cells[combo])]
    if not short:
        return
    combo, needed = min(short, key=lambda item: len(cells[item[0]]))
    count = len(cells[combo])
    k = len(experiment.attributes)
    largest = count * (2**k if condition == "unbiased" else 1)
    hint = (
        " or set balance: marginal (each attribute half +1, combinations as equal as possible)"
        if condition == "unbiased" and k > 1
        else ""
    )
    raise InfeasibleExperimentError(
        f"experiment {experiment.name!r}, condition {condition!r}: size "
        f"{experiment.sizes[condition]} is infeasible. It needs {needed} images from the cell "
        f"[{_describe(experiment.attributes, combo)}], which holds only {count}. The largest "
        f"feasible size for this condition is {largest}. Lower "
        f"experiments.{experiment.name}.size in the config{hint}."
    )


def _describe(targets: Sequence[str], combo: tuple) -> str:
    return ", ".join(f"{a}={'+1' if v == 1 else '-1'}" for a, v in zip(targets, combo, strict=True))


def _plans(attributes: pd.DataFrame, experiment: Experiment) -> tuple[dict, dict]:
    """The experiment's combination cells and every condition's checked allocation."""
    unknown = [a for a in experiment.attributes if a not in attributes.columns]
    if unknown:
        raise ValueError(
            f"experiment {experiment.name!r}: unknown attribute(s) {unknown}; the data set has "
            f"{list(attributes.columns)}"
        )
    cells = combination_cells(attributes, experiment.attributes)
    return cells, {c: _allocation(cells, experiment, c) for c in CONDITIONS}


def check_feasible(attributes: pd.DataFrame, experiment: Experiment) -> None:
    """Fail, before any heavy work, when a condition needs more images than a cell holds.

    The message names the smallest cell involved, its count and the largest feasible size.
    """
    _plans(attributes, experiment)


def _draw(
    names: np.ndarray,
    cells: Mapping[tuple, np.ndarray],
    plan: Sequence[tuple[tuple, int]],
    experiment: Experiment,
    seed: int,
    condition: str,
) -> list[str]:
    """One condition's subset from an already checked allocation (see the module docstring)."""
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
    cells, plans = _plans(attributes, experiment)
    names = attributes.index.to_numpy()
    return _draw(names, cells, plans[condition], experiment, seed, condition)


def build_indices(
    attributes: pd.DataFrame, experiment: Experiment, seed: int
) -> dict[str, list[str]]:
    """All conditions' subsets for one (experiment, seed); the cells are computed once."""
    cells, plans = _plans(attributes, experiment)
    names = attributes.index.to_numpy()
    return {c: _draw(names, cells, plans[c], experiment, seed, c) for c in CONDITIONS}


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
