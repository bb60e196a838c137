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

Beyond the seed's three conditions, a :class:`Design` adds, for every experiment:

* ``dose<P>`` (e.g. ``dose25``) - dose-response: the unbiased allocation with the modes that the
  ``target`` condition drops under-represented by a fraction p (their share of the subset is
  multiplied by 1 - p and the kept combination fills the rest). p = 0 is ``unbiased`` and
  p = 1 is ``target``, so ``unbiased, dose25, dose50, dose75, target`` is one dose axis.
* ``collapse<F>`` (e.g. ``collapse25``) - intra-mode collapse (seed 004's duplicated-identity
  set): the unbiased subset with a fraction f of its images (chosen at random) replaced by images
  of a few identities. The identities are those with the most available images (ties broken at
  random), at least ``collapse_identities`` of them and as many more as needed to supply f x size
  distinct images; the images are drawn at random from their union.

The held-out **reference** of the reference-based metrics (FD, KID, PRDC, NDB, C2ST) is drawn
first, per (experiment, seed), and every condition from the other images (``exclude`` of
:func:`build_indices`): :mod:`modedrop.reference` draws it balanced like the unbiased condition
(default) or as a uniform sample of the data set (:func:`sample_reference`).

The pseudo-attribute ``Random`` (:data:`RANDOM_ATTRIBUTE`) is +1 for a fixed random half of the
images (a SHA-256 of the image name): an experiment on it is a negative control - a split that
no image content can explain.

Sampling is deterministic per (attribute table, experiment name, seed, condition): the random
stream is a PCG64 generator seeded through ``numpy.random.SeedSequence`` with the seed and stable
SHA-256-derived integers of the experiment and condition names, and the selection is the first
``n`` rows of a stable ``argsort`` of uniform doubles - an algorithm that does not depend on
NumPy's ``choice``/``permutation`` implementation details. Each combination cell of the
unbiased condition has its own child stream, so the cells are independent of one another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CONDITIONS: tuple[str, ...] = ("unbiased", "target", "nontarget")
BALANCES: tuple[str, ...] = ("joint", "marginal")
RANDOM_ATTRIBUTE = "Random"
DOSE_PREFIX = "dose"
COLLAPSE_PREFIX = "collapse"
REFERENCE_STREAM = "__reference__"
REFERENCE_DISTRIBUTIONS: tuple[str, ...] = ("balanced", "natural")


class InfeasibleExperimentError(ValueError):
    """An experiment asks for more images than a combination cell of the data set holds.

    ``largest``: the largest size the failing condition (or, from :func:`check_feasible` for an
    experiment with one size, every condition) can reach; ``None`` where it is not known.
    """

    def __init__(self, message: str, largest: int | None = None):
        super().__init__(message)
        self.largest = largest


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


def _percent(fraction: float, what: str) -> str:
    percent = fraction * 100
    if not 0 < fraction < 1 + 1e-12 or abs(percent - round(percent)) > 1e-9:
        raise ValueError(
            f"{what} fraction {fraction} must be in (0, 1] and a whole percentage (e.g. 0.25)"
        )
    return f"{round(percent):02d}"


def dose_condition(dose: float) -> str:
    """Condition name of a dose-response fraction p, e.g. 0.25 -> ``dose25``."""
    if dose >= 1:
        raise ValueError("dose fraction 1 is the target condition; list fractions below 1")
    return DOSE_PREFIX + _percent(dose, "dose")


def collapse_condition(fraction: float) -> str:
    """Condition name of an intra-mode-collapse fraction f, e.g. 0.25 -> ``collapse25``."""
    return COLLAPSE_PREFIX + _percent(fraction, "collapse")


def condition_fraction(condition: str) -> tuple[str, float]:
    """(axis, fraction) of a condition: ``dose`` (unbiased 0 ... target 1) or ``collapse``.

    ``nontarget`` has no axis: ``("none", nan)``.
    """
    if condition == "unbiased":
        return "dose", 0.0
    if condition == "target":
        return "dose", 1.0
    for prefix in (DOSE_PREFIX, COLLAPSE_PREFIX):
        if condition.startswith(prefix) and condition[len(prefix) :].isdigit():
            return prefix, int(condition[len(prefix) :]) / 100
    return "none", float("nan")


@dataclass(frozen=True)
class Design:
    """What every experiment gets besides its own block.

    ``reference_size``: images of the held-out reference per (experiment, seed); ``None``: as
    many as the experiment's unbiased condition (:meth:`reference_size_for`); 0: none;
    ``reference_distribution``: ``balanced`` (drawn with the unbiased condition's allocation,
    :mod:`modedrop.reference`) or ``natural`` (a uniform sample of the data set);
    ``doses``: dose-response fractions p strictly between 0 and 1;
    ``collapse``: intra-mode-collapse fractions f; ``collapse_identities``: the fewest
    identities the replacing images come from.
    """

    reference_size: int | None = 0
    reference_distribution: str = "balanced"
    doses: tuple[float, ...] = ()
    collapse: tuple[float, ...] = ()
    collapse_identities: int = 5

    def __post_init__(self):
        if self.reference_distribution not in REFERENCE_DISTRIBUTIONS:
            raise ValueError(
                f"reference.distribution {self.reference_distribution!r} is unknown; expected "
                f"one of {list(REFERENCE_DISTRIBUTIONS)}"
            )
        for dose in self.doses:
            dose_condition(dose)
        for fraction in self.collapse:
            collapse_condition(fraction)

    @classmethod
    def from_config(cls, config: Mapping) -> Design:
        collapse = config.get("intra_mode_collapse", {})
        reference = config.get("reference", {})
        return cls(
            reference_size=reference.get("size", 0),
            reference_distribution=reference.get("distribution", "balanced"),
            doses=tuple(config.get("dose_response", {}).get("fractions", ())),
            collapse=tuple(collapse.get("fractions", ())),
            collapse_identities=int(collapse.get("identities", 5)),
        )

    def reference_size_for(self, experiment: Experiment) -> int:
        """Images of the experiment's reference: ``reference_size``, or the unbiased size."""
        if self.reference_size is None:
            return int(experiment.sizes["unbiased"])
        return int(self.reference_size)

    @property
    def conditions(self) -> tuple[str, ...]:
        """Every condition of an experiment, in display order."""
        return (
            *CONDITIONS,
            *(dose_condition(d) for d in self.doses),
            *(collapse_condition(f) for f in self.collapse),
        )


def random_attribute(names: Sequence[str]) -> np.ndarray:
    """+1/-1 for a fixed random half of the images: bit 0 of SHA-256 of ``Random:<name>``."""
    bits = [hashlib.sha256(f"{RANDOM_ATTRIBUTE}:{n}".encode()).digest()[0] & 1 for n in names]
    return np.where(np.asarray(bits, dtype=bool), 1, -1)


def with_random_attribute(attributes: pd.DataFrame, targets: Sequence[str]) -> pd.DataFrame:
    """The table with the ``Random`` pseudo-attribute added when an experiment uses it."""
    if RANDOM_ATTRIBUTE not in targets or RANDOM_ATTRIBUTE in attributes.columns:
        return attributes
    return attributes.assign(**{RANDOM_ATTRIBUTE: random_attribute(attributes.index)})


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
    combos: Sequence[tuple],
    capacities: Sequence[int],
    size: int,
    targets: Sequence[float] | None = None,
) -> list[int] | None:
    """Images per combination with every attribute +1 in exactly ``size / 2`` of them.

    Among the integer allocations ``n`` with ``0 <= n_c <= capacity_c``, ``sum(n) = size`` and,
    for every attribute, ``sum(n_c for c with that attribute +1) = size / 2``, returns one that
    minimises ``sum_c |n_c - target_c|``: ``target_c = size / 2^k`` (closest to joint balance)
    unless ``targets`` are given. None when there is none.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    if size % 2:
        raise ValueError(
            f"the unbiased condition with marginal balance needs an even size (half of the "
            f"images with each target attribute); got {size}. Use {size - 1} or {size + 1}."
        )
    combos = np.asarray(combos)
    m, k = combos.shape
    target = np.full(m, size / m) if targets is None else np.asarray(targets, dtype=float)
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
            largest = _largest_marginal_size(combos, capacities)
            raise InfeasibleExperimentError(
                f"experiment {experiment.name!r}, condition 'unbiased' (marginal balance): size "
                f"{size} is infeasible - no allocation puts each of "
                f"{list(experiment.attributes)} at +1 in exactly half of the images within the "
                f"cell sizes {dict(zip(combos, capacities, strict=True))}. The largest feasible "
                f"size is {largest}. Lower experiments.{experiment.name}.size in the config.",
                largest,
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
    size = sum(n for _, n in plan)
    largest = count * (2**k if condition == "unbiased" else 1)
    if condition.startswith(DOSE_PREFIX):
        largest = int(count * size / needed)  # the kept combination's share scales with size
    hint = (
        " or set balance: marginal (each attribute half +1, combinations as equal as possible)"
        if condition == "unbiased" and k > 1
        else ""
    )
    raise InfeasibleExperimentError(
        f"experiment {experiment.name!r}, condition {condition!r}: size "
        f"{size} is infeasible. It needs {needed} images from the cell "
        f"[{_describe(experiment.attributes, combo)}], which holds only {count}. The largest "
        f"feasible size for this condition is {largest}. Lower "
        f"experiments.{experiment.name}.size in the config{hint}.",
        largest,
    )


def _describe(targets: Sequence[str], combo: tuple) -> str:
    return ", ".join(f"{a}={'+1' if v == 1 else '-1'}" for a, v in zip(targets, combo, strict=True))


def _plans(
    attributes: pd.DataFrame,
    experiment: Experiment,
    doses: Sequence[float] = (),
    unbiased: Sequence[tuple[tuple, int]] | None = None,
) -> tuple[dict, dict]:
    """The experiment's combination cells and every condition's checked allocation.

    ``unbiased``: the unbiased condition's allocation when it is fixed beforehand (drawn
    together with a balanced reference, :mod:`modedrop.reference`); computed here otherwise.
    """
    unknown = [a for a in experiment.attributes if a not in attributes.columns]
    if unknown:
        raise ValueError(
            f"experiment {experiment.name!r}: unknown attribute(s) {unknown}; the data set has "
            f"{list(attributes.columns)}"
        )
    cells = combination_cells(attributes, experiment.attributes)
    plans = {
        c: _allocation(cells, experiment, c)
        for c in CONDITIONS
        if unbiased is None or c != "unbiased"
    }
    if unbiased is not None:
        _check_cells_hold(cells, experiment, "unbiased", unbiased)
        plans["unbiased"] = list(unbiased)
    for dose in doses:
        condition = dose_condition(dose)
        plan = _dose_allocation(plans["unbiased"], len(experiment.attributes), dose)
        _check_cells_hold(cells, experiment, condition, plan)
        plans[condition] = plan
    return cells, plans


def _dose_allocation(
    unbiased: Sequence[tuple[tuple, int]], k: int, dose: float
) -> list[tuple[tuple, int]]:
    """The unbiased allocation with every combination but the target's scaled by 1 - dose.

    The kept combination (every target attribute +1, the ``target`` condition's) fills the
    freed places so the size stays the same; the scaled counts are rounded by largest remainder
    so they sum exactly.
    """
    kept = (1,) * k
    size = sum(n for _, n in unbiased)
    others = [(combo, n) for combo, n in unbiased if combo != kept]
    exact = np.array([n * (1.0 - dose) for _, n in others])
    counts = np.floor(exact).astype(int)
    total = int(np.floor(sum(n for _, n in others) * (1.0 - dose) + 0.5))
    shortfall = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:shortfall]] += 1
    scaled = [(combo, int(n)) for (combo, _), n in zip(others, counts, strict=True)]
    return [(kept, size - int(counts.sum())), *scaled]


def _usable(attributes: pd.DataFrame, exclude: Collection[str]) -> pd.DataFrame:
    """The attribute table without the excluded images (the held-out reference)."""
    if not len(exclude):
        return attributes
    missing = set(exclude).difference(attributes.index)
    if missing:
        raise ValueError(
            f"{len(missing)} excluded image(s) are not in the attribute table, e.g. "
            f"{sorted(missing)[:3]}; the reference index comes from another data set - delete "
            "the indices folder so it is rebuilt"
        )
    return attributes.drop(index=list(exclude))


def _collapse_replaced(fraction: float, size: int) -> int:
    """Images of an unbiased subset of ``size`` that collapse fraction f replaces (as _collapse)."""
    return int(np.floor(fraction * size + 0.5))


def _size_step(experiment: Experiment) -> int:
    """Unbiased sizes go in steps of 2^k under joint balance (equal cells), of 2 under marginal."""
    return 2 ** len(experiment.attributes) if experiment.balance == "joint" else 2


def _largest_collapse_size(fraction: float, available: int, step: int) -> int:
    """The largest unbiased size s (a multiple of ``step``) with s + replaced(s) <= available."""
    size = int(available / (1 + fraction)) // step * step
    while size > 0 and size + _collapse_replaced(fraction, size) > available:
        size -= step
    while size + step + _collapse_replaced(fraction, size + step) <= available:
        size += step
    return size


def _check_collapse(table: pd.DataFrame, experiment: Experiment, design: Design) -> None:
    """The images that replace part of the unbiased subset must exist outside it.

    Counted without sampling: every image not in the unbiased subset (nor the excluded
    reference) can come in, as every image has an identity (the data-set check ensures it).
    """
    size = experiment.sizes["unbiased"]
    available = len(table) - size
    for fraction in design.collapse:
        replaced = _collapse_replaced(fraction, size)
        if replaced <= available:
            continue
        largest = _largest_collapse_size(fraction, len(table), _size_step(experiment))
        raise InfeasibleExperimentError(
            f"experiment {experiment.name!r}, condition {collapse_condition(fraction)!r}: "
            f"replacing {replaced} of the {size} unbiased images needs {replaced} images "
            f"outside the unbiased subset and the held-out reference, but the data set has "
            f"only {available} more ({len(table)} images besides the reference). The largest "
            f"unbiased size this fraction allows is {largest}. Lower "
            f"experiments.{experiment.name}.size, the fraction in intra_mode_collapse.fractions "
            f"or reference.size in the config.",
            largest,
        )


def _check_conditions(
    table: pd.DataFrame,
    experiment: Experiment,
    design: Design,
    unbiased: Sequence[tuple[tuple, int]] | None = None,
) -> None:
    _plans(table, experiment, design.doses, unbiased)
    _check_collapse(table, experiment, design)


def _resized(experiment: Experiment, size: int) -> Experiment:
    return dataclasses.replace(experiment, sizes=dict.fromkeys(experiment.sizes, size))


def _fits(check: Callable[[Experiment], None], experiment: Experiment, size: int) -> bool:
    try:
        check(_resized(experiment, size))
    except InfeasibleExperimentError:
        return False
    return True


def largest_common_size(
    check: Callable[[Experiment], None], experiment: Experiment, largest: int | None
) -> int:
    """The largest single size every condition reaches (0: none), for the error message.

    Sizes go in steps of :func:`_size_step`. Each failing probe jumps down to the size its condition can reach, so a
    few probes suffice; the climb after the first fitting size absorbs the rounding of the
    dose conditions' estimate.
    """
    step = _size_step(experiment)
    size = experiment.sizes["unbiased"]
    while True:
        size = min(size - step, largest if largest is not None else size) // step * step
        if size < step:
            return 0
        try:
            check(_resized(experiment, size))
            break
        except InfeasibleExperimentError as error:
            largest = error.largest
    while _fits(check, experiment, size + step):
        size += step
    return size


def check_feasible(
    attributes: pd.DataFrame,
    experiment: Experiment,
    design: Design | None = None,
    exclude: Collection[str] = (),
) -> None:
    """Fail, before any heavy work, when a condition needs more images than the data set has.

    Checks every condition of the design: the cells of the unbiased, target, nontarget and dose
    conditions, and that the collapse conditions find enough images outside the unbiased
    subset. The message names the smallest cell involved, its count and the largest feasible
    size for that condition; for an experiment with one size for every condition it also gives
    the largest size that fits them all, so one edit of the config fixes it.
    ``exclude`` (the held-out reference) is removed from the table first.
    """
    design = design or Design()
    table = with_random_attribute(_usable(attributes, exclude), experiment.attributes)
    check_with_advice(lambda e: _check_conditions(table, e, design), experiment)


def check_with_advice(check: Callable[[Experiment], None], experiment: Experiment) -> None:
    """Run ``check(experiment)``; on failure add the largest size every condition reaches."""
    try:
        check(experiment)
    except InfeasibleExperimentError as error:
        if len(set(experiment.sizes.values())) > 1:
            raise
        common = largest_common_size(check, experiment, error.largest)
        raise InfeasibleExperimentError(
            f"{error} {_common_size_advice(experiment, common)}", common
        ) from None


def _common_size_advice(experiment: Experiment, common: int) -> str:
    key = f"experiments.{experiment.name}.size"
    if common == 0:
        return (
            f"No single size fits every condition of this experiment on this data set: give "
            f"{key} one size per condition, or pick other attributes."
        )
    return (
        f"The largest single size that every condition of the design can reach is {common}: "
        f"set {key}: {common}."
    )


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


def _random_order(n: int, stream: np.random.SeedSequence) -> np.ndarray:
    """A random permutation of range(n) by stable argsort of uniform doubles (see above)."""
    keys = np.random.Generator(np.random.PCG64(stream)).random(n)
    return np.argsort(keys, kind="stable")


def sample_condition(
    attributes: pd.DataFrame, experiment: Experiment, seed: int, condition: str
) -> list[str]:
    """Image names of one base condition's subset, sampled without replacement, sorted."""
    cells, plans = _plans(attributes, experiment)
    names = attributes.index.to_numpy()
    return _draw(names, cells, plans[condition], experiment, seed, condition)


def sample_reference(names: Sequence[str], size: int, seed: int) -> list[str]:
    """The held-out reference of one seed: ``size`` images drawn uniformly, sorted.

    Uniform over the whole data set, so its attributes follow the data set's natural
    distribution. The stream depends on the seed only: every experiment of a seed shares it.
    """
    names = np.asarray(names)
    if not 0 < size < len(names):
        raise ValueError(
            f"reference.size is {size} but the data set has {len(names)} images; the reference "
            "must leave images for the evaluated subsets - lower reference.size in the config"
        )
    order = _random_order(len(names), _seed_sequence(seed, REFERENCE_STREAM, "reference"))
    return sorted(names[order[:size]].tolist())


def _collapse(
    unbiased: Sequence[str],
    pool: pd.Series,
    fraction: float,
    min_identities: int,
    stream: np.random.SeedSequence,
    where: str,
) -> list[str]:
    """The unbiased subset with ``fraction`` of it replaced by images of a few identities.

    ``pool`` maps every image that may come in (not in the subset, not in the reference) to its
    identity. See the module docstring for how the identities are chosen.
    """
    remove_stream, identity_stream, draw_stream = stream.spawn(3)
    n_replaced = int(np.floor(fraction * len(unbiased) + 0.5))
    if n_replaced > len(pool):
        raise InfeasibleExperimentError(
            f"{where}: replacing {n_replaced} images needs that many images outside the "
            f"subset and the reference, but only {len(pool)} remain; lower the fraction in "
            "intra_mode_collapse.fractions or the experiment's size"
        )
    counts = pool.value_counts(sort=False)
    tie_break = np.random.Generator(np.random.PCG64(identity_stream)).random(len(counts))
    order = np.lexsort((tie_break, -counts.to_numpy()))
    cumulative = np.cumsum(counts.to_numpy()[order])
    needed = int(np.searchsorted(cumulative, n_replaced)) + 1
    chosen = set(counts.index[order[: max(min_identities, needed)]])
    candidates = np.sort(pool.index[pool.isin(chosen)].to_numpy())
    drawn = candidates[_random_order(len(candidates), draw_stream)[:n_replaced]]
    kept = np.asarray(sorted(unbiased))[_random_order(len(unbiased), remove_stream)]
    return sorted([*kept[n_replaced:].tolist(), *drawn.tolist()])


def build_indices(
    attributes: pd.DataFrame,
    experiment: Experiment,
    seed: int,
    *,
    design: Design | None = None,
    exclude: Collection[str] = (),
    identities: pd.Series | None = None,
    unbiased: Sequence[tuple[tuple, int]] | None = None,
) -> dict[str, list[str]]:
    """Every condition's subset for one (experiment, seed); the cells are computed once.

    ``exclude`` (the held-out reference) is never drawn. ``design`` adds the dose and
    collapse conditions; the collapse conditions need ``identities`` (image name -> identity).
    ``unbiased``: a fixed allocation of the unbiased condition (see :func:`_plans`).
    :func:`modedrop.reference.experiment_indices` draws the reference and the conditions.
    """
    design = design or Design()
    table = with_random_attribute(_usable(attributes, exclude), experiment.attributes)
    cells, plans = _plans(table, experiment, design.doses, unbiased)
    names = table.index.to_numpy()
    subsets = {c: _draw(names, cells, plan, experiment, seed, c) for c, plan in plans.items()}
    if design.collapse:
        if identities is None:
            raise ValueError("the intra-mode collapse conditions need the identity table")
        outside = identities.reindex(table.index.difference(subsets["unbiased"]))
        for fraction in design.collapse:
            condition = collapse_condition(fraction)
            subsets[condition] = _collapse(
                subsets["unbiased"],
                outside.dropna(),
                fraction,
                design.collapse_identities,
                _seed_sequence(seed, experiment.name, condition),
                f"experiment {experiment.name!r}, condition {condition!r}",
            )
    return {c: subsets[c] for c in design.conditions}


def describe_subsets(
    subsets: Mapping[str, Sequence[str]],
    attributes: pd.DataFrame,
    targets: Sequence[str],
    identities: pd.Series | None = None,
) -> dict[str, dict]:
    """Per condition: its size, the share of each target attribute at +1, and identities."""
    table = with_random_attribute(attributes, targets)
    summary = {}
    for condition, names in subsets.items():
        rows = table.loc[list(names), list(targets)]
        entry = {
            "n_images": len(names),
            "fraction_positive": {a: float((rows[a] == 1).mean()) for a in targets},
        }
        if identities is not None:
            counts = identities.reindex(list(names)).value_counts()
            entry["n_identities"] = int(len(counts))
            entry["largest_identity_images"] = int(counts.max()) if len(counts) else 0
        summary[condition] = entry
    return summary


def write_index(path: str | Path, names: Sequence[str]) -> None:
    """One image file name per line, sorted, newline-terminated.

    Written to a temporary name and renamed, so a job killed mid-write never leaves a truncated
    index that a later run would take for a complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text("".join(f"{n}\n" for n in sorted(names)))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_index(path: str | Path) -> list[str]:
    """Inverse of :func:`write_index`; rejects an empty file or duplicated names."""
    names = Path(path).read_text().split()
    if not names:
        raise ValueError(f"index file {path} is empty; re-run the build_indices rule")
    if len(set(names)) != len(names):
        raise ValueError(f"index file {path} lists an image twice; re-run the build_indices rule")
    return names
