"""Scores of a generated sample set against the training sample, from their feature caches.

The same metric functions as the main study, applied to a generator's sample set (see
:mod:`modedrop.generators`) and to a sample of real training images at the generator's
resolution (so that FD, KID and PRDC compare like with like). Diversity without a reference:
RankMe and the Vendi score of the set; with the reference: FD, KID (mean of the unbiased
MMD^2 over subsets), and precision/recall/density/coverage (Naeem et al. 2020).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.features import FeatureCache
from modedrop.metrics.frechet import frechet_distance
from modedrop.metrics.kid import kernel_distance
from modedrop.metrics.prdc import prdc
from modedrop.metrics.rankme import rankme
from modedrop.metrics.vendi import vendi_score

#: Columns of the generator score table, in order; lower is better for fd and kid.
SCORE_COLUMNS = (
    "rankme",
    "vendi",
    "fd",
    "kid",
    "precision",
    "recall",
    "density",
    "coverage",
)


def read_all_features(path: str | Path) -> np.ndarray:
    """Every row of a sample set's feature cache, float64 (n, D)."""
    with FeatureCache(path) as cache:
        return np.asarray(cache.features(cache.names), dtype=np.float64)


def score_sample_set(
    features: np.ndarray,
    reference: np.ndarray,
    *,
    prdc_k: int = 5,
    kid_subset_size: int = 500,
    kid_subsets: int = 50,
    seed: int = 0,
) -> dict[str, float]:
    """The scores of :data:`SCORE_COLUMNS` of ``features`` (generated) against ``reference``.

    KID uses subsets of ``min(kid_subset_size, n_generated, n_reference)`` rows, so small sets
    are scored rather than refused (the subset size is returned as ``kid_subset_size``).
    """
    features = np.asarray(features, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if features.shape[1] != reference.shape[1]:
        raise ValueError(
            f"generated features have {features.shape[1]} dimensions, the reference "
            f"{reference.shape[1]}: embed both sample sets with the same encoder."
        )
    subset = min(kid_subset_size, len(features), len(reference))
    kid_mean, kid_std = kernel_distance(
        features, reference, subsets=kid_subsets, subset_size=subset, seed=seed
    )
    scores = {
        "rankme": rankme(features),
        "vendi": vendi_score(features),
        "fd": frechet_distance(features, reference),
        "kid": kid_mean,
        **prdc(reference, features, k=prdc_k),
    }
    out = {key: float(scores[key]) for key in SCORE_COLUMNS}
    out.update(kid_std=float(kid_std), kid_subset_size=subset, n_generated=len(features))
    out["n_reference"] = len(reference)
    return out


def reference_scores(reference: np.ndarray) -> dict[str, float]:
    """The reference-free scores of the training sample itself: the level to compare with."""
    reference = np.asarray(reference, dtype=np.float64)
    return {"rankme": float(rankme(reference)), "vendi": float(vendi_score(reference))}


def scores_table(records: Iterable[Mapping]) -> pd.DataFrame:
    """One row per (generator, encoder) from the score records, generators in record order."""
    frame = pd.DataFrame(list(records))
    first = ["generator", "encoder", *SCORE_COLUMNS]
    rest = sorted(c for c in frame.columns if c not in first)
    return frame[first + rest]


def write_scores(path: str | Path, record: Mapping) -> None:
    """One sample set's scores as sorted JSON, written via a temporary name; refuses NaN."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(dict(record), indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(partial, path)


def read_scores(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
