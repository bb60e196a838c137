"""Birthday-paradox duplicates of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.duplicates import calibrate_threshold, duplicate_statistics

#: Random stream of the calibration sample and of the evaluated subsample (fixed: reproducible).
SAMPLING_SEED = 0


def _rows(n: int, size: int) -> np.ndarray:
    """``size`` sorted random rows of ``n`` (all of them when ``size >= n``)."""
    if size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLING_SEED).choice(n, size, replace=False))


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    """Near-duplicate pairs per condition; the threshold calibrated on an equally large sample.

    Nearest-neighbour similarities grow with the number of images, so a calibrated threshold
    (``threshold: null``) is the ``threshold_quantile`` of the nearest-neighbour cosines of a
    random reference sample **exactly as large as the evaluated set**. The reference is drawn
    like the unbiased condition and disjoint from every condition (modedrop.reference). When a
    set is larger than the reference, a random subsample of the reference's size is evaluated
    instead: the counts and the support size then describe that many images of the set
    (``n_evaluated`` in the details), compared with a reference sample of the same size.
    """
    fixed = params["threshold"]
    reference = None if fixed is not None else require_reference(inputs, "duplicates")

    @cache
    def threshold_for(n_images: int) -> float:
        if fixed is not None:
            return float(fixed)
        sample = reference[_rows(len(reference), n_images)]
        return calibrate_threshold(sample, quantile=params["threshold_quantile"])

    values, details = {}, {}
    for condition, x in inputs.sets.items():
        rows = _rows(len(x), len(x) if reference is None else len(reference))
        x = x[rows]
        threshold = threshold_for(len(x))
        result = duplicate_statistics(x, threshold=threshold, top=params["top"])
        values[condition] = {
            "duplicate_pairs": result.n_duplicate_pairs,
            "support_size": result.support_size,
            "nn_similarity": result.nn_similarity_mean,
        }
        names = [inputs.names[condition][r] for r in rows]
        pairs = [[names[i], names[j], float(s)] for i, j, s in result.top_pairs]
        details[condition] = {
            **result.to_dict(),
            "threshold": threshold,
            "n_evaluated": len(x),
            "n_set": len(inputs.names[condition]),
            "n_calibration": len(x) if reference is not None else 0,
            "top_pairs": pairs,
        }
    return values, details
