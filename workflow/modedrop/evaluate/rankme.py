"""RankMe of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values
from modedrop.metrics.rankme import rankme as score


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    values = {
        c: {
            "rankme": score(
                x,
                epsilon=params["epsilon"],
                center=params["center"],
                batch_size=params["batch_size"],
            )
        }
        for c, x in inputs.sets.items()
    }
    return values, {}
