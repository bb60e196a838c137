"""Diversity metrics: one pure function (or reference class) per module, numpy-based.

``METRICS`` is the registry the workflow iterates over: one entry per metric *family* - one
config block, one Snakemake rule, one job per (experiment, encoder, seed) that scores every
condition of that seed. A family reports one or more *outputs* (e.g. ``prdc`` reports
precision, recall, density and coverage); each output is one column of the study's tables and
declares which direction is *worse* (less diverse, or further from the reference), which is
what the detection statistics test for.

The workflow builds one rule per family from this registry (``workflow/rules/metrics.smk``):
what the job reads (``input``, ``reference``, ``identities``) decides the rule's inputs, and the
generic script ``workflow/scripts/metric.py`` runs the family's ``evaluate`` function from
``modedrop.evaluate.<name>``. To add a metric, write ``modedrop/metrics/<name>.py`` (the pure
function), ``modedrop/evaluate/<name>.py`` (its ``evaluate(inputs, params)``), a config block in
the schema, and one ``MetricSpec`` below. The metric modules are not imported here, so reading
the registry stays cheap (Snakemake reads it at parse time).

Two families share one formula: ``inception_score`` is the Inception Score of a classifier's
logits, ``inception_score_features`` the same formula on an encoder's own feature vector (softmax
over its D dimensions), the "VicReg + IS" / "Dino + IS" pairing of Haratian (2024), "RankMe for
Detecting Mode-Drop in Generative AI".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["METRICS", "OUTPUTS", "MetricSpec", "Output", "PIXELS", "output_labels", "worse"]

#: The "encoder" of metrics computed on pixels (MS-SSIM) in the tables and file paths.
PIXELS = "pixels"


@dataclass(frozen=True)
class Output:
    """One reported number: its column name, its axis label and its worse direction."""

    name: str
    label: str
    worse: Literal["higher", "lower"]


@dataclass(frozen=True)
class MetricSpec:
    """A metric family.

    ``input``: ``"features"`` (encoder embeddings, N x D), ``"logits"`` (classifier logits,
    N x C) or ``"pixels"`` (the images themselves). ``reference``: the job also reads the
    seed's held-out reference set (reference-based metrics, calibrations). ``identities``: the
    job also reads the data set's identity table (MCCS calibrates on same-identity pairs).
    """

    name: str
    input: Literal["features", "logits", "pixels"]
    reference: bool
    outputs: tuple[Output, ...]
    identities: bool = False

    @property
    def label(self) -> str:
        """The axis label of the family's first output (the figure panel's title)."""
        return self.outputs[0].label

    @property
    def module(self) -> str:
        """The module whose ``evaluate(inputs, params)`` scores one seed's conditions."""
        return f"modedrop.evaluate.{self.name}"


def _spec(name, input, reference, *outputs, identities=False) -> MetricSpec:
    return MetricSpec(name, input, reference, tuple(Output(*o) for o in outputs), identities)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        _spec("rankme", "features", False, ("rankme", "RankMe", "lower")),
        _spec("inception_score", "logits", False, ("inception_score", "Inception Score", "lower")),
        _spec(
            "inception_score_features",
            "features",
            False,
            ("inception_score_features", "IS on the encoder's features", "lower"),
        ),
        _spec(
            "fd_kd",
            "features",
            True,
            ("fd", "Fréchet distance", "higher"),
            ("kd", "Kernel distance (KID)", "higher"),
        ),
        _spec(
            "prdc",
            "features",
            True,
            ("precision", "Precision (k=5)", "lower"),
            ("recall", "Recall (k=5)", "lower"),
            ("density", "Density (k=5)", "lower"),
            ("coverage", "Coverage (k=5)", "lower"),
            ("improved_precision", "Improved precision (k=3)", "lower"),
            ("improved_recall", "Improved recall (k=3)", "lower"),
        ),
        _spec("vendi", "features", False, ("vendi", "Vendi score", "lower")),
        _spec(
            "ndb",
            "features",
            True,
            ("ndb_fraction", "NDB/K", "higher"),
            ("ndb_fraction_holm", "NDB/K (Holm)", "higher"),
            ("ndb_fraction_bh", "NDB/K (BH)", "higher"),
            ("jsd", "JSD of bin proportions", "higher"),
        ),
        _spec(
            "mccs",
            "features",
            True,
            ("mccs_mean", "MCCS mean (μ)", "higher"),
            ("mccs_std", "MCCS std (σ)", "higher"),
            ("mccs_worst", "MCCS of the worst-case dense mode", "higher"),
            identities=True,
        ),
        _spec(
            "c2st",
            "features",
            True,
            ("c2st_logistic", "C2ST accuracy (logistic)", "higher"),
            ("c2st_knn", "C2ST accuracy (k-NN)", "higher"),
        ),
        _spec("ms_ssim", "pixels", False, ("ms_ssim", "MS-SSIM (mean over pairs)", "higher")),
        _spec(
            "duplicates",
            "features",
            True,
            ("duplicate_pairs", "Near-duplicate pairs", "higher"),
            ("support_size", "Birthday-paradox support size", "lower"),
            ("nn_similarity", "Mean nearest-neighbour cosine", "higher"),
        ),
    )
}

#: Every output of every family, by output name.
OUTPUTS: dict[str, Output] = {o.name: o for spec in METRICS.values() for o in spec.outputs}


def worse() -> dict[str, str]:
    """Output name -> ``"higher"`` or ``"lower"``: the direction of a worse set."""
    return {name: output.worse for name, output in OUTPUTS.items()}


def output_labels() -> dict[str, str]:
    """Output name -> axis label, in registry order (the order of figure panels)."""
    return {name: output.label for name, output in OUTPUTS.items()}
