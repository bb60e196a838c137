"""Before/after scores of a calibrated generator (Wu et al., *Black-Box Diagnosis and Calibration
on GAN Intra-Mode Collapse*, Sec. 4.4): worst-case MCCS, ``mu``, ``sigma``, the Fréchet distance
to a reference and the share of images still on the calibrated dense mode - one table row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modedrop.calibration import within_radius
from modedrop.metrics.frechet import frechet_distance
from modedrop.metrics.mccs import LogBase, mccs_population_from_split, split_anchors
from modedrop.validation import unit_feature_rows

__all__ = ["evaluate_generator_set"]


def evaluate_generator_set(
    features: Any,
    *,
    anchor_fraction: float = 0.5,
    seed: int = 0,
    theta: float,
    radius: float,
    log: LogBase = "ln",
    reference_features: Any = None,
    dense_mode_feature: Any = None,
) -> dict[str, Any]:
    """One table row for one generator's feature set: worst-case MCCS, ``mu``, ``sigma``, FD.

    The set is split into anchors and samples as in :func:`~modedrop.calibration.diagnose`.
    ``fd`` is the Fréchet distance to ``reference_features`` (NaN without them); ``dense_share``
    the share of *all* rows within ``radius`` of ``dense_mode_feature`` (e.g. the original
    generator's ``I_w``; NaN without it) - how much of the set still falls on the calibrated
    mode.
    """
    x = unit_feature_rows(features, "features")
    anchor_idx, sample_idx = split_anchors(len(x), anchor_fraction, seed)
    result = mccs_population_from_split(
        x, anchor_idx, sample_idx, theta=theta, radius=radius, log=log
    )
    fd = math.nan
    if reference_features is not None:
        fd = frechet_distance(np.asarray(features), reference_features)
    share = math.nan
    if dense_mode_feature is not None:
        share = float(within_radius(dense_mode_feature, x, radius).mean())
    return {
        "worst_mccs": result.worst_mccs,
        "mccs_mean": result.mean,
        "mccs_std": result.std,
        "worst_neighbours": result.worst_neighbours,
        "n_anchors": result.n_anchors,
        "n_samples": result.n_samples,
        "fd": float(fd),
        "dense_share": share,
    }
