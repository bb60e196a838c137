"""Vendi score of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values
from modedrop.metrics.vendi import vendi_score


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    return {c: {"vendi": vendi_score(x, q=params["q"])} for c, x in inputs.sets.items()}, {}
