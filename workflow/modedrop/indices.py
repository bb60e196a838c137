"""Index files of the mode-drop protocol: which images form each evaluated subset.

The conditions are defined in :mod:`modedrop.design` and allocated over the combination cells
of the target attributes in :mod:`modedrop.allocation`; this module draws the images. An
intra-mode-collapse condition ``collapse<F>`` replaces a fraction f of the unbiased subset
(chosen at random) by images of a few identities: those with the most available images (ties
broken at random), at least ``collapse_identities`` of them and as many more as needed to
supply f x size distinct images; the images are drawn at random from their union.

The held-out **reference** of the reference-based metrics (FD, KID, PRDC, NDB, C2ST) is drawn
first, per (experiment, seed), and every condition from the other images (``exclude`` of
:func:`build_indices`): :mod:`modedrop.reference` draws it balanced like the unbiased condition
(default) or as a uniform sample of the data set (:func:`sample_reference`).

Sampling is deterministic per (attribute table, experiment name, seed, condition): the random
stream is a PCG64 generator seeded through ``numpy.random.SeedSequence`` with the seed and stable
SHA-256-derived integers of the experiment and condition names, and the selection is the first
``n`` rows of a stable ``argsort`` of uniform doubles - an algorithm that does not depend on
NumPy's ``choice``/``permutation`` implementation details. Each combination cell of the
unbiased condition has its own child stream, so the cells are independent of one another.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.allocation import condition_plans, without_excluded
from modedrop.design import (
    Design,
    Experiment,
    InfeasibleExperimentError,
    collapse_condition,
    with_random_attribute,
)

REFERENCE_STREAM = "__reference__"


def _stable_int(text: str) -> int:
    """A platform-independent 64-bit integer for a string (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def _seed_sequence(seed: int, experiment: str, condition: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), _stable_int(experiment), _stable_int(condition)])


def draw_subset(
    names: np.ndarray,
    cells: Mapping[tuple, np.ndarray],
    plan: Sequence[tuple[tuple, int]],
    experiment: Experiment,
    seed: int,
    condition: str,
) -> list[str]:
    """One condition's subset from an already checked allocation (see the module docstring).

    ``plan``: (combination, images to draw from its cell), e.g. from
    :func:`modedrop.allocation.condition_plans`; the random stream is the one of
    (``seed``, experiment name, ``condition``), one child stream per cell.
    """
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
    cells, plans = condition_plans(attributes, experiment)
    names = attributes.index.to_numpy()
    return draw_subset(names, cells, plans[condition], experiment, seed, condition)


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
    ``unbiased``: a fixed allocation of the unbiased condition (see
    :func:`modedrop.allocation.condition_plans`).
    :func:`modedrop.reference.experiment_indices` draws the reference and the conditions.
    """
    design = design or Design()
    table = with_random_attribute(without_excluded(attributes, exclude), experiment.attributes)
    cells, plans = condition_plans(table, experiment, design.doses, unbiased)
    names = table.index.to_numpy()
    subsets = {c: draw_subset(names, cells, plan, experiment, seed, c) for c, plan in plans.items()}
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
