"""Inception Score of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values
from modedrop.metrics.inception_score import inception_score as score


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    values, details = {}, {}
    for condition, logits in inputs.sets.items():
        result = score(
            logits, splits=params["splits"], shuffle=params["shuffle"], rng_seed=params["rng_seed"]
        )
        values[condition] = {"inception_score": result.mean}
        details[condition] = {"std_over_splits": result.std}
    return values, details
