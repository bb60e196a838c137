"""MCCS of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.mccs import (
    calibrate_radius,
    calibrate_theta,
    mccs_population_from_split,
    split_anchors,
)


def _reference_identities(inputs: JobInputs) -> np.ndarray:
    if inputs.identities is None or inputs.reference_names is None:
        raise ValueError("calibrating MCCS needs the reference set and the identity table")
    return inputs.identities.reindex(inputs.reference_names).to_numpy()


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "mccs")
    theta, radius = params["theta"], params["radius"]
    if theta is None:
        theta = calibrate_theta(
            reference, _reference_identities(inputs), quantile=params["theta_quantile"]
        )
    if radius is None:
        radius = calibrate_radius(
            reference, _reference_identities(inputs), quantile=params["radius_quantile"]
        )
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        anchors, samples = split_anchors(
            len(x), anchor_fraction=params["anchor_fraction"], seed=params["seed"]
        )
        result = mccs_population_from_split(
            x, anchors, samples, theta=theta, radius=radius, log=params["log"]
        )
        values[condition] = {
            "mccs_mean": result.mean,
            "mccs_std": result.std,
            "mccs_worst": result.worst_mccs,
        }
        worst_name = inputs.names[condition][result.worst_index]
        details[condition] = {**result.to_dict(), "worst_image": worst_name}
    return values, details
