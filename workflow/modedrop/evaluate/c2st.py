"""Classifier two-sample tests of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.c2st import classifier_two_sample_test


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "c2st")
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        values[condition], details[condition] = {}, {}
        for classifier in ("logistic", "knn"):
            result = classifier_two_sample_test(
                x,
                reference,
                classifier=classifier,
                folds=params["folds"],
                pca_components=params["pca_components"],
                n_neighbors=params["n_neighbors"],
                seed=params["seed"],
            )
            values[condition][f"c2st_{classifier}"] = result.accuracy
            details[condition][classifier] = result.to_dict()
    return values, details
