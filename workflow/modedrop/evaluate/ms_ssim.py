"""MS-SSIM diversity of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values
from modedrop.metrics.ms_ssim import ms_ssim_diversity


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    values, details = {}, {}
    for condition, images in inputs.sets.items():
        result = ms_ssim_diversity(
            images,
            n_pairs=params["pairs"],
            seed=params["seed"],
            batch_size=params["batch_size"],
            kernel_size=params["kernel_size"],
        )
        values[condition] = {"ms_ssim": result.mean}
        details[condition] = result.to_dict()
    return values, details
