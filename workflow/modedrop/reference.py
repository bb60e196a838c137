"""The held-out reference of the reference-based metrics: one per (experiment, seed).

FD, KID, precision/recall/density/coverage, NDB/JSD, C2ST and the calibrations of MCCS and of
the near-duplicate threshold compare every condition with a reference set. Which reference
decides what they measure (``reference.distribution`` in the config):

* ``balanced`` (default) - drawn with the **unbiased condition's allocation**: the same share of
  every combination of the experiment's target attributes. Then ``unbiased`` vs reference is a
  same-distribution comparison, and a condition that moves away from the reference does so
  because of the mode it drops. With ``balance: joint`` both have ``size / 2^k`` images per
  combination. With ``balance: marginal`` the two are allocated together: one marginal
  allocation of ``unbiased size + reference size`` images (each target attribute +1 in exactly
  half, combinations as equal as the cells allow,
  :func:`modedrop.allocation.marginal_allocation`) is split into the reference's part (each
  attribute +1 in exactly half, each combination's count as close as integers allow to its
  proportional share) and the unbiased condition's part (the rest). So both have every target
  attribute at +1 in exactly half of their images and the same combination shares up to
  rounding, and no cell has to give more than it holds.
* ``natural`` - a uniform random sample of the data set (its natural attribute mix, e.g. CelebA:
  41.7 % Male, 77.4 % Young), one per seed and shared by the experiments
  (:func:`modedrop.indices.sample_reference`). The outputs then measure the distance to the
  natural distribution, which the balanced ``unbiased`` condition is itself away from.

Either way the reference is drawn first, and every condition of that (experiment, seed) is
drawn from the other images: no image is in both. The balanced reference's random stream is the
condition stream of :mod:`modedrop.indices` for the condition name ``reference``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from modedrop.allocation import (
    check_conditions,
    check_with_advice,
    combination_cells,
    describe_combination,
    joint_allocation,
    largest_marginal_size,
    marginal_allocation,
    without_excluded,
)
from modedrop.design import Design, Experiment, InfeasibleExperimentError, with_random_attribute
from modedrop.indices import build_indices, draw_subset, sample_reference

__all__ = ["REFERENCE", "check_experiment", "draw_reference", "experiment_indices"]

#: The reference's index file stem, beside the conditions': ``indices/{experiment}/seed{s}/``.
REFERENCE = "reference"

Plan = list[tuple[tuple, int]]


def _fix_hint(experiment: Experiment) -> str:
    return (
        f"Lower experiments.{experiment.name}.size or reference.size in the config, or set "
        "reference.distribution: natural (a uniform reference; see config/README.md)."
    )


def _joint_pair(cells: Mapping[tuple, np.ndarray], experiment: Experiment, size: int) -> tuple:
    k = len(experiment.attributes)
    if size % 2**k:
        step = 2**k
        raise ValueError(
            f"experiment {experiment.name!r} (joint balance over {k} attribute(s)): the balanced "
            f"reference needs reference.size divisible by 2^{k} = {step} (one equal share per "
            f"combination); got {size}. Use {size - size % step} or {size - size % step + step}."
        )
    unbiased = joint_allocation(experiment.sizes["unbiased"], k)
    reference = [size // 2**k] * 2**k
    combo = min(cells, key=lambda c: len(cells[c]))
    count = len(cells[combo])
    needed = unbiased[0] + reference[0]
    if needed > count:
        largest = max(0, count - reference[0]) * 2**k
        raise InfeasibleExperimentError(
            f"experiment {experiment.name!r}: the unbiased condition ({sum(unbiased)} images) "
            f"and its balanced reference ({size}) together need {needed} images from the cell "
            f"[{describe_combination(experiment.attributes, combo)}], which holds only {count}. "
            f"The largest feasible size of the unbiased condition with this reference is "
            f"{largest}. {_fix_hint(experiment)}",
            largest,
        )
    return unbiased, reference


def _marginal_pair(cells: Mapping[tuple, np.ndarray], experiment: Experiment, size: int) -> tuple:
    combos, capacities = list(cells), [len(rows) for rows in cells.values()]
    n_unbiased = experiment.sizes["unbiased"]
    if size % 2:
        raise ValueError(
            f"experiment {experiment.name!r} (marginal balance): the balanced reference needs an "
            f"even reference.size (half of it with each target attribute); got {size}."
        )
    combined = marginal_allocation(combos, capacities, n_unbiased + size)
    if combined is None:
        largest = max(0, largest_marginal_size(combos, capacities) - size)
        raise InfeasibleExperimentError(
            f"experiment {experiment.name!r} (marginal balance): the unbiased condition "
            f"({n_unbiased} images) and its balanced reference ({size}) together cannot put "
            f"each of {list(experiment.attributes)} at +1 in exactly half of their images "
            f"within the cell sizes {dict(zip(combos, capacities, strict=True))}. The largest "
            f"feasible size of the unbiased condition with this reference is {largest}. "
            f"{_fix_hint(experiment)}",
            largest,
        )
    shares = np.asarray(combined, dtype=float) * size / (n_unbiased + size)
    reference = marginal_allocation(combos, combined, size, targets=shares)
    if reference is None:  # integer rounding of the split: not seen on CelebA or synthfaces
        raise InfeasibleExperimentError(
            f"experiment {experiment.name!r}: the joint allocation {combined} of the unbiased "
            f"condition and the reference cannot be split into two marginally balanced parts "
            f"of {n_unbiased} and {size} images. Change reference.size by a few images.",
            None,
        )
    unbiased = [c - r for c, r in zip(combined, reference, strict=True)]
    return unbiased, reference


def paired_allocation(
    cells: Mapping[tuple, np.ndarray], experiment: Experiment, size: int
) -> tuple[Plan, Plan]:
    """(unbiased allocation, reference allocation) of a balanced reference of ``size`` images.

    See the module docstring; raises :class:`InfeasibleExperimentError` naming the binding
    cell when the unbiased condition and the reference do not fit the cells together.
    """
    pair = _joint_pair if experiment.balance == "joint" else _marginal_pair
    unbiased, reference = pair(cells, experiment, size)
    return list(zip(cells, unbiased, strict=True)), list(zip(cells, reference, strict=True))


def draw_reference(
    attributes: pd.DataFrame, experiment: Experiment, seed: int, design: Design
) -> tuple[list[str], Plan | None]:
    """The reference of one (experiment, seed), sorted, and the unbiased allocation it fixes.

    The allocation is ``None`` for a natural reference (or none at all, ``reference_size`` 0):
    the unbiased condition is then allocated on its own.
    """
    size = design.reference_size_for(experiment)
    if not size:
        return [], None
    if design.reference_distribution == "natural":
        return sample_reference(attributes.index, size, seed), None
    table = with_random_attribute(attributes, experiment.attributes)
    cells = combination_cells(table, experiment.attributes)
    unbiased, plan = paired_allocation(cells, experiment, size)
    names = table.index.to_numpy()
    return draw_subset(names, cells, plan, experiment, seed, REFERENCE), unbiased


def experiment_indices(
    attributes: pd.DataFrame,
    experiment: Experiment,
    seed: int,
    *,
    design: Design | None = None,
    identities: pd.Series | None = None,
) -> dict[str, list[str]]:
    """The reference (key :data:`REFERENCE`) and every condition of one (experiment, seed)."""
    design = design or Design()
    reference, unbiased = draw_reference(attributes, experiment, seed, design)
    subsets = build_indices(
        attributes,
        experiment,
        seed,
        design=design,
        exclude=reference,
        identities=identities,
        unbiased=unbiased,
    )
    return {REFERENCE: reference, **subsets}


def check_experiment(
    attributes: pd.DataFrame, experiment: Experiment, design: Design, seed: int
) -> None:
    """Fail before any heavy work when the reference or a condition does not fit the data set.

    The message names the binding cell and, for an experiment with one size, the largest size
    that fits every condition together with the reference (:func:`check_with_advice`).
    """
    table = with_random_attribute(attributes, experiment.attributes)

    def check(candidate: Experiment) -> None:
        reference, unbiased = draw_reference(table, candidate, seed, design)
        check_conditions(without_excluded(table, reference), candidate, design, unbiased)

    check_with_advice(check, experiment)
