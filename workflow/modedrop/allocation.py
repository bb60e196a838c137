"""How many images each condition takes from each combination cell, and whether they fit.

The unbiased condition is allocated with ``joint`` balance (size / 2^k images per combination
of the k target attributes) or ``marginal`` balance: each target attribute +1 in exactly half
of the images and the 2^k combinations as equal as the data set allows - the integer
allocation closest to size / 2^k per combination in L1 distance, under the cell sizes (an
integer linear program, solved by HiGHS through :func:`scipy.optimize.milp`). When joint
balance fits, both give the same allocation. The ``target``/``nontarget`` conditions take one
cell, the dose conditions scale the unbiased allocation (see :mod:`modedrop.design`).

The feasibility checks fail before any heavy work when a cell holds fewer images than a
condition needs, naming the cell and the largest size that fits.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from modedrop.design import (
    CONDITIONS,
    DOSE_PREFIX,
    Design,
    Experiment,
    InfeasibleExperimentError,
    collapse_condition,
    dose_condition,
    with_random_attribute,
)


def combination_cells(attributes: pd.DataFrame, targets: Sequence[str]) -> dict[tuple, np.ndarray]:
    """Row positions of each of the 2^k value combinations of ``targets``, in table order."""
    values = attributes.loc[:, list(targets)].to_numpy()
    cells = {}
    for combo in itertools.product((1, -1), repeat=len(targets)):
        cells[combo] = np.flatnonzero((values == np.asarray(combo)).all(axis=1))
    return cells


def joint_allocation(size: int, k: int) -> list[int]:
    """Images per combination under joint balance: ``size / 2^k`` each, in cell order.

    Raises ``ValueError`` naming the nearest valid sizes when ``size`` does not split evenly.
    """
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


def largest_marginal_size(combos: Sequence[tuple], capacities: Sequence[int]) -> int:
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
        plan = list(zip(cells, joint_allocation(size, k), strict=True))
    else:
        combos, capacities = list(cells), [len(rows) for rows in cells.values()]
        counts = marginal_allocation(combos, capacities, size)
        if counts is None:
            largest = largest_marginal_size(combos, capacities)
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
        f"[{describe_combination(experiment.attributes, combo)}], which holds only {count}. "
        f"The largest feasible size for this condition is {largest}. Lower "
        f"experiments.{experiment.name}.size in the config{hint}.",
        largest,
    )


def describe_combination(targets: Sequence[str], combo: tuple) -> str:
    """A combination cell for error messages, e.g. ``Male=+1, Young=-1``."""
    return ", ".join(f"{a}={'+1' if v == 1 else '-1'}" for a, v in zip(targets, combo, strict=True))


def condition_plans(
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


def without_excluded(attributes: pd.DataFrame, exclude: Collection[str]) -> pd.DataFrame:
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
    """Images of an unbiased subset of ``size`` that collapse fraction f replaces.

    The same rounding as the collapse draw of :func:`modedrop.indices.build_indices`.
    """
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


def check_conditions(
    table: pd.DataFrame,
    experiment: Experiment,
    design: Design,
    unbiased: Sequence[tuple[tuple, int]] | None = None,
) -> None:
    """Fail when a condition of the design does not fit ``table`` (the images left to draw from).

    Checks the cells of the base and dose conditions (``unbiased``: a fixed unbiased allocation,
    as :func:`condition_plans` takes it) and that the collapse conditions find their images.
    """
    condition_plans(table, experiment, design.doses, unbiased)
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

    Sizes go in steps of :func:`_size_step`. Each failing probe jumps down to the size its
    condition can reach, so a few probes suffice; the climb after the first fitting size absorbs
    the rounding of the dose conditions' estimate.
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
    table = with_random_attribute(without_excluded(attributes, exclude), experiment.attributes)
    check_with_advice(lambda e: check_conditions(table, e, design), experiment)


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
