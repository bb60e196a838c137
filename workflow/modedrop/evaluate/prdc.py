"""PRDC and improved precision/recall of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.prdc import PRDCReference


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "prdc")
    naeem = PRDCReference(reference, k=params["k"], block_size=params["block_size"])
    improved = PRDCReference(reference, k=params["improved_k"], block_size=params["block_size"])
    values = {}
    for condition, x in inputs.sets.items():
        scores = naeem.evaluate(x)
        improved_scores = improved.evaluate(x)
        values[condition] = {
            **{key: scores[key] for key in ("precision", "recall", "density", "coverage")},
            "improved_precision": improved_scores["precision"],
            "improved_recall": improved_scores["recall"],
        }
    return values, {}
