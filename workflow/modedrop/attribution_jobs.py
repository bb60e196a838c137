"""The attribution jobs' plumbing: from the feature caches and index files to the tables.

The probes job (:mod:`modedrop.dataset_probes`) stores, for every image of the data set, a
probability from a probe that never saw the image nor its identity. These jobs look rows up:

* a condition of the main study is attributed against its (experiment, seed) reference, which
  is drawn like the unbiased condition, so a planted drop is the only difference;
* a generator's sample set (a network's or a folder's) is attributed against the whole data
  set, its probabilities from the probes fit on the training partition.

The test partition's predictions give the probes' error rates that correct every estimate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.attribution import attribution_table
from modedrop.dataset_probes import DatasetPredictions
from modedrop.features import FeatureCache
from modedrop.indices import read_index
from modedrop.probes import ProbeSet, cell_index, cell_labels


def measurable(quality: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(quality["attribute"], quality["measurable"].astype(bool), strict=True))


def labelled_shares(labels: np.ndarray, attributes: Sequence[str], groups: Mapping) -> dict:
    """The labelled share of +1 per attribute and of every cell of every group."""
    shares = {a: float(labels[:, i].mean()) for i, a in enumerate(attributes)}
    for group in groups.values():
        columns = [attributes.index(a) for a in group]
        counts = np.bincount(cell_index(labels[:, columns]), minlength=2 ** len(group))
        shares.update(zip(cell_labels(group), counts / len(labels), strict=True))
    return shares


def probed_groups(groups: Mapping[str, Sequence[str]], attributes: Sequence[str]) -> dict:
    """The groups whose every attribute has a probe (the Random pseudo-attribute has none)."""
    return {name: list(g) for name, g in groups.items() if g and set(g) <= set(attributes)}


def attribute_rows(
    predictions: DatasetPredictions,
    set_probabilities: np.ndarray,
    baseline_rows: np.ndarray,
    quality: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    settings: Mapping,
    *,
    seed_offset: int = 0,
) -> pd.DataFrame:
    """One sample set's attribution against the baseline rows of the data set."""
    attributes = list(predictions.attributes)
    groups = probed_groups(groups, attributes)
    return attribution_table(
        set_probabilities,
        predictions.probabilities[predictions.test],
        predictions.labels[predictions.test],
        predictions.probabilities[baseline_rows],
        attributes,
        measurable=measurable(quality),
        groups=groups,
        baseline_prevalence=labelled_shares(predictions.labels[baseline_rows], attributes, groups),
        threshold=settings["threshold"],
        n_boot=settings["bootstrap"],
        seed=settings["seed"] + seed_offset,
        alpha=settings["alpha"],
    )


def attribute_conditions(
    predictions: DatasetPredictions,
    quality: pd.DataFrame,
    index_paths: Sequence[str | Path],
    reference_path: str | Path,
    targets: Sequence[str],
    settings: Mapping,
    *,
    experiment: str,
    seed: int,
) -> pd.DataFrame:
    """Every condition of one (experiment, seed) attributed against its reference, with the
    labelled (true) shares of the set and of the reference beside each estimate."""
    attributes = list(predictions.attributes)
    groups = probed_groups({experiment: targets}, attributes)
    reference = predictions.rows(read_index(reference_path))
    baseline_truth = labelled_shares(predictions.labels[reference], attributes, groups)
    tables = []
    for offset, path in enumerate(index_paths):
        rows = predictions.rows(read_index(path))
        table = attribute_rows(
            predictions,
            predictions.probabilities[rows],
            reference,
            quality,
            groups,
            settings,
            seed_offset=1000 * seed + offset,
        )
        truth = labelled_shares(predictions.labels[rows], attributes, groups)
        table["true_prevalence"] = table["feature"].map(truth)
        table["baseline_true_prevalence"] = table["feature"].map(baseline_truth)
        table.insert(0, "condition", Path(path).stem)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.insert(0, "seed", seed)
    out.insert(0, "experiment", experiment)
    return out


def attribute_sample_set(
    cache_path: str | Path,
    probes: ProbeSet,
    predictions: DatasetPredictions,
    quality: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    settings: Mapping,
) -> pd.DataFrame:
    """A generator's sample set attributed against the whole data set."""
    with FeatureCache(cache_path) as cache:
        features = np.asarray(cache.features(cache.names), dtype=np.float64)
    baseline = np.arange(len(predictions.names))
    return attribute_rows(
        predictions, probes.predict_proba(features), baseline, quality, groups, settings
    )
