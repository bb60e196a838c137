"""Classifier two-sample tests of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.c2st import classifier_two_sample_tests

#: The classifiers each condition is tested with, in the order of the result columns.
CLASSIFIERS = ("logistic", "knn")


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "c2st")
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        # Both classifiers on the same subsample and folds, each fold's projection fitted once.
        results = classifier_two_sample_tests(
            x,
            reference,
            classifiers=CLASSIFIERS,
            folds=params["folds"],
            pca_components=params["pca_components"],
            n_neighbors=params["n_neighbors"],
            seed=params["seed"],
        )
        values[condition] = {f"c2st_{name}": results[name].accuracy for name in CLASSIFIERS}
        details[condition] = {name: results[name].to_dict() for name in CLASSIFIERS}
    return values, details
