"""The attribute probes of one encoder on the data set's feature cache, and every data-set
image's held-out probabilities: what the attribution jobs look rows up in.

One job per encoder fits the probes (:func:`modedrop.probes.held_out_probabilities`): every
image gets a probability from a probe that saw neither the image nor its identity, and the
test partition's predictions give the probes' quality and error rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.data.celeba_format import read_attributes, read_identities, read_partition
from modedrop.features import FeatureCache
from modedrop.probes import ProbeSet, held_out_probabilities, probe_table

TEST_PARTITION = 2
TRAIN_PARTITION = 0


@dataclass(frozen=True)
class DatasetPredictions:
    """Every data-set image's held-out probe probabilities, labels and partition."""

    names: np.ndarray  # (n,) str
    attributes: tuple[str, ...]
    probabilities: np.ndarray  # (n, A)
    labels: np.ndarray  # (n, A) bool
    partition: np.ndarray  # (n,) int

    def save(self, path: str | Path) -> None:
        with open(path, "wb") as handle:
            np.savez_compressed(
                handle,
                names=self.names.astype(str),
                attributes=np.asarray(self.attributes, dtype=str),
                probabilities=self.probabilities,
                labels=self.labels,
                partition=self.partition,
            )

    @classmethod
    def load(cls, path: str | Path) -> DatasetPredictions:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                names=data["names"],
                attributes=tuple(str(a) for a in data["attributes"]),
                probabilities=data["probabilities"],
                labels=data["labels"].astype(bool),
                partition=data["partition"],
            )

    def rows(self, names: Sequence[str]) -> np.ndarray:
        """Row positions of ``names``; fails naming images the predictions do not hold."""
        position = {name: row for row, name in enumerate(self.names)}
        missing = [n for n in names if n not in position]
        if missing:
            raise KeyError(
                f"{len(missing)} image(s) have no probe prediction, e.g. {missing[:3]}: the "
                "index files and the attribution come from different data sets; re-run "
                "attribute_probes"
            )
        return np.fromiter((position[n] for n in names), dtype=np.int64, count=len(names))

    @property
    def test(self) -> np.ndarray:
        return self.partition == TEST_PARTITION


def fit_dataset_probes(
    cache_path: str | Path,
    attribute_path: str | Path,
    partition_path: str | Path,
    identity_path: str | Path,
    attributes: Sequence[str],
    settings: Mapping,
) -> tuple[ProbeSet, DatasetPredictions, pd.DataFrame]:
    """The probes of one encoder, every image's held-out probabilities and the probe table."""
    with FeatureCache(cache_path) as cache:
        names = cache.names
        features = np.asarray(cache.features(names), dtype=np.float64)
    table = read_attributes(attribute_path).loc[names, list(attributes)]
    labels = table.to_numpy() > 0
    partition = read_partition(partition_path).loc[names].to_numpy()
    identities = read_identities(identity_path).loc[names].to_numpy()
    probes, probabilities = held_out_probabilities(
        features,
        labels,
        list(attributes),
        partition,
        identities,
        folds=settings["folds"],
        C=settings["C"],
        max_iter=settings["max_iter"],
        seed=settings["seed"],
    )
    test = partition == TEST_PARTITION
    quality = probe_table(
        probabilities[test],
        labels[test],
        list(attributes),
        min_auroc=settings["min_auroc"],
        threshold=settings["threshold"],
        n_train=int((partition == TRAIN_PARTITION).sum()),
    )
    predictions = DatasetPredictions(
        np.asarray(names, dtype=str), tuple(attributes), probabilities, labels, partition
    )
    return probes, predictions, quality
