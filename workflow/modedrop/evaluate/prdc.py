"""PRDC and improved precision/recall of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.prdc import PRDCReference


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "prdc")
    # Naeem et al.'s k and Kynkäänniemi et al.'s improved_k from one pass over the distances.
    k, improved_k = params["k"], params["improved_k"]
    real = PRDCReference(reference, k=k, block_size=params["block_size"], also_k=(improved_k,))
    values = {}
    for condition, x in inputs.sets.items():
        each_k = real.evaluate_each_k(x)
        scores, improved_scores = each_k[k], each_k[improved_k]
        values[condition] = {
            **{key: scores[key] for key in ("precision", "recall", "density", "coverage")},
            "improved_precision": improved_scores["precision"],
            "improved_recall": improved_scores["recall"],
        }
    return values, {}
