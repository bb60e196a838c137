"""NDB and JSD of every condition of one seed (see modedrop.evaluate).

The K-means bins are fit on a seeded random part of the reference (``metrics.ndb.fit_fraction``
of its rows, :func:`~modedrop.metrics.ndb.split_rows`) and the reference's bin proportions are
measured on the other rows, so the bins are not fit to the points they are tested with and NDB/K
is about ``alpha`` when a condition has the reference's distribution (module docstring of
:mod:`modedrop.metrics.ndb`). Each condition's details record ``n_fit``, the rows the bins were
fit on; their ``n_reference`` is the number of rows the proportions come from.

The number of bins K is ``metrics.ndb.bins``, lowered when needed so that the smaller of the
held-out reference part and the smallest evaluated set expects at least
``metrics.ndb.min_per_bin`` rows per bin: the per-bin z-test is a normal approximation, and
bins expecting a handful of rows can hardly reject (Richardson & Weiss 2018 ask for enough
samples per bin). ``n_bins`` in the details is the K used.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from modedrop.jobs import JobInputs, Values, require_reference
from modedrop.metrics.ndb import NDBBins, split_rows


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    reference = np.asarray(require_reference(inputs, "ndb"))
    smallest = min(len(x) for x in inputs.sets.values())
    bins = held_out_bins(reference, params, smallest)
    values, details = {}, {}
    for condition, x in inputs.sets.items():
        result = bins.evaluate(x, alpha=params["alpha"])
        values[condition] = {
            "ndb_fraction": result.ndb_fraction,
            "ndb_fraction_holm": result.ndb_holm / result.n_bins,
            "ndb_fraction_bh": result.ndb_bh / result.n_bins,
            "jsd": result.jsd,
        }
        details[condition] = {**result.to_dict(), "n_fit": bins.n_fit}
    return values, details


def bin_count(bins: int, min_per_bin: int, n_reference: int, n_evaluated: int) -> int:
    """K = ``bins``, lowered to ``min(n_reference, n_evaluated) // min_per_bin`` (at least 2).

    ``min_per_bin`` 0 keeps ``bins``.
    """
    if not min_per_bin:
        return int(bins)
    return int(max(2, min(bins, min(n_reference, n_evaluated) // min_per_bin)))


def held_out_bins(reference: np.ndarray, params: Mapping, n_evaluated: int) -> NDBBins:
    """Bins fit on ``fit_fraction`` of the reference rows, proportions from the others."""
    fit_rows, test_rows = split_rows(len(reference), params["fit_fraction"], params["seed"])
    n_bins = bin_count(params["bins"], params["min_per_bin"], len(test_rows), n_evaluated)
    if n_bins > len(fit_rows):
        # Name the config keys: the job's user sets these, not NDBBins' arguments.
        raise ValueError(
            f"metrics.ndb.bins={n_bins} exceeds the {len(fit_rows)} reference rows the "
            f"bins are fit on (metrics.ndb.fit_fraction={params['fit_fraction']} of "
            f"{len(reference)}). Lower metrics.ndb.bins or raise metrics.ndb.fit_fraction or "
            "reference.size."
        )
    return NDBBins(
        reference[test_rows],
        fit=reference[fit_rows],
        n_bins=n_bins,
        whiten=params["whiten"],
        seed=params["seed"],
    )
