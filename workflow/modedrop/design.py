"""The study design: experiments, their conditions, and the Random negative control.

For an experiment with k target attributes, three conditions are sampled without replacement
from the data set's attribute table (the protocol of Haratian (2024), *RankMe for Detecting
Mode-Drop in Generative AI*):

* ``unbiased``  - no mode is missing. How it is balanced is the experiment's ``balance``:

  - ``joint`` (default): every one of the 2^k combinations of the target attributes' values is
    equally represented (size / 2^k images per combination). For k = 1 this is the only
    meaning of "balanced".
  - ``marginal``: each target attribute is +1 in exactly half of the images, and the 2^k
    combinations are as equal as the data set allows (:mod:`modedrop.allocation`). CelebA
    needs it for the paper's three-attribute experiment: 21,760 images = 8 x 2,720, but the
    cell (Attractive, not High_Cheekbones, not Young) holds only 2,307 images.

* ``target``    - only images with every target attribute = +1 (the -1 modes are dropped);
* ``nontarget`` - only images with every target attribute = -1 (the +1 modes are dropped).

Beyond these three conditions, a :class:`Design` adds, for every experiment:

* ``dose<P>`` (e.g. ``dose25``) - dose-response: the unbiased allocation with the modes that the
  ``target`` condition drops under-represented by a fraction p (their share of the subset is
  multiplied by 1 - p and the kept combination fills the rest). p = 0 is ``unbiased`` and
  p = 1 is ``target``, so ``unbiased, dose25, dose50, dose75, target`` is one dose axis.
* ``collapse<F>`` (e.g. ``collapse25``) - intra-mode collapse (the duplicated-identity set of
  Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode Collapse*): the unbiased
  subset with a fraction f of its images (chosen at random) replaced by images of a few
  identities (see :mod:`modedrop.indices`).

The pseudo-attribute ``Random`` (:data:`RANDOM_ATTRIBUTE`) is +1 for a fixed random half of the
images (a SHA-256 of the image name): an experiment on it is a negative control - a split that
no image content can explain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONDITIONS: tuple[str, ...] = ("unbiased", "target", "nontarget")
BALANCES: tuple[str, ...] = ("joint", "marginal")
RANDOM_ATTRIBUTE = "Random"
DOSE_PREFIX = "dose"
COLLAPSE_PREFIX = "collapse"
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
