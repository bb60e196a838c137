"""Birthday-paradox duplicates of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.duplicates import calibrate_threshold, duplicate_statistics


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    """Near-duplicate pairs per condition; the threshold calibrated on the reference.

    Nearest-neighbour similarities grow with the number of images, so the calibrated threshold
    is the quantile over a random reference subset of the evaluated set's size (the whole
    reference when the set is larger).
    """

    @cache
    def threshold_for(n_images: int) -> float:
        if params["threshold"] is not None:
            return float(params["threshold"])
        reference = require_reference(inputs, "duplicates")
        if n_images < len(reference):
            rows = np.random.default_rng(0).choice(len(reference), n_images, replace=False)
            reference = reference[np.sort(rows)]
        return calibrate_threshold(reference, quantile=params["threshold_quantile"])

    values, details = {}, {}
    for condition, x in inputs.sets.items():
        threshold = threshold_for(len(x))
        result = duplicate_statistics(x, threshold=threshold, top=params["top"])
        values[condition] = {
            "duplicate_pairs": result.n_duplicate_pairs,
            "support_size": result.support_size,
            "nn_similarity": result.nn_similarity_mean,
        }
        names = inputs.names[condition]
        pairs = [[names[i], names[j], float(s)] for i, j, s in result.top_pairs]
        details[condition] = {**result.to_dict(), "threshold": threshold, "top_pairs": pairs}
    return values, details
