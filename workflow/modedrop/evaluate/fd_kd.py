"""Fréchet and kernel distances of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.frechet import FrechetReference
from modedrop.metrics.kid import KernelReference


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "fd_kd")
    frechet = FrechetReference(reference)
    kernel = KernelReference(reference)
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        kd_mean, kd_std = kernel.distance(
            x,
            subsets=params["kid_subsets"],
            subset_size=min(params["kid_subset_size"], len(x), len(reference)),
            degree=params["kid_degree"],
            seed=params["kid_seed"],
        )
        values[condition] = {"fd": frechet.distance(x), "kd": kd_mean}
        details[condition] = {"kd_std": kd_std}
    return values, details
