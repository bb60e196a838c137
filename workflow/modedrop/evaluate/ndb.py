"""NDB and JSD of every condition of one seed (see modedrop.evaluate)."""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.ndb import NDBBins


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = require_reference(inputs, "ndb")
    bins = NDBBins(reference, n_bins=params["bins"], whiten=params["whiten"], seed=params["seed"])
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        result = bins.evaluate(x, alpha=params["alpha"])
        values[condition] = {
            "ndb_fraction": result.ndb_fraction,
            "ndb_fraction_holm": result.ndb_holm / result.n_bins,
            "ndb_fraction_bh": result.ndb_bh / result.n_bins,
            "jsd": result.jsd,
        }
        details[condition] = result.to_dict()
    return values, details
