"""Which attributes, and which combinations of attributes, a sample set under- or
over-represents: probe predictions corrected for the probes' error rates, with bootstrap
confidence intervals, Fisher tests against a baseline set and Holm's correction.

A probe (:mod:`modedrop.probes`) predicts each image's attribute bits. The predicted share of a
value is biased by the probe's errors (a probe with specificity 0.85 "finds" 15% of a dropped
value), so the true share is recovered from the confusion rates measured on held-out labelled
images (the matrix method, :func:`corrected_prevalence`). The test of a difference needs no
correction: under the null of equal true shares, and with the same probes applied to both sets,
the predicted shares are equal too.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import fisher_exact

from modedrop.probes import cell_index, cell_labels, confusion_matrix
from modedrop.stats import holm
from modedrop.validation import feature_matrix, positive_int

__all__ = [
    "TABLE_COLUMNS",
    "attribute_set",
    "attribution_table",
    "corrected_prevalence",
]

#: Columns of :func:`attribution_table`, in order.
TABLE_COLUMNS = [
    "feature",
    "kind",
    "group",
    "measurable",
    "n",
    "observed",
    "estimate",
    "ci_low",
    "ci_high",
    "baseline_observed",
    "baseline_prevalence",
    "ratio",
    "p_value",
    "p_holm",
    "named",
]

_SET_COLUMNS = [
    "cell",
    "n",
    "observed",
    "estimate",
    "ci_low",
    "ci_high",
    "baseline_observed",
    "p_value",
]
_STATISTICS = [c for c in TABLE_COLUMNS if c not in ("feature", "kind", "group", "measurable")]
_SUM_TOLERANCE = 1e-6


def corrected_prevalence(observed: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """True cell shares ``pi`` of a set from its predicted cell shares and the probes' confusion.

    With ``rates[i, j] = P(predicted cell j | true cell i)`` (row-stochastic, measured on
    held-out labelled images) the expected predicted shares are ``observed = rates.T @ pi``, so
    ``pi`` solves that linear system: the matrix method of misclassification correction
    (Buonaccorsi, *Measurement Error: Models, Methods, and Applications*, 2010, ch. 3; Greenland,
    *Am. J. Epidemiol.* 112(4):564-569, 1980). For one attribute (two cells, ``-1`` then ``+1``)
    it is the Rogan & Gladen (1978, *Am. J. Epidemiol.* 107(1):71-76) estimator
    ``pi_+ = (p + spec - 1) / (sens + spec - 1)``.

    Sampling noise can push the plain inverse outside [0, 1] (e.g. a dropped value whose observed
    share falls below ``1 - spec``), so the system is solved by non-negative least squares
    (``scipy.optimize.nnls``: ``argmin_{pi >= 0} ||rates.T pi - observed||``) and the solution is
    normalised to sum 1; where the inverse is already a distribution the two agree.

    Parameters
    ----------
    observed
        (2^k,) predicted cell shares of the set, non-negative, summing to 1.
    rates
        (2^k, 2^k) row-stochastic confusion rates ``P(pred j | true i)``.
    """
    obs = np.asarray(observed, dtype="float64")
    if obs.ndim != 1 or obs.size < 2:
        raise ValueError(
            f"observed must be a 1-D array of at least 2 cell shares; got shape {obs.shape}."
        )
    if not np.isfinite(obs).all() or (obs < 0).any() or abs(obs.sum() - 1) > _SUM_TOLERANCE:
        raise ValueError(
            "observed must hold finite, non-negative cell shares summing to 1; divide the cell "
            "counts by the set size."
        )
    r = _rates(rates, obs.size)
    return _solve(r.T, obs)


def _rates(rates, size: int) -> np.ndarray:
    r = np.asarray(rates, dtype="float64")
    if r.shape != (size, size):
        raise ValueError(
            f"rates must have shape ({size}, {size}) to match observed; got {r.shape}. Pass the "
            "rates of modedrop.probes.confusion_matrix for the same attributes."
        )
    if (
        not np.isfinite(r).all()
        or (r < 0).any()
        or (np.abs(r.sum(axis=1) - 1) > _SUM_TOLERANCE).any()
    ):
        raise ValueError(
            "rates must be finite, non-negative and row-stochastic (each row P(pred j | true i) "
            "sums to 1); a NaN row means a true cell without held-out examples."
        )
    return r


def _solve(matrix: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """NNLS solution of ``matrix @ pi = obs`` normalised to sum 1 (uniform if it is all 0)."""
    pi, _ = nnls(matrix, obs)
    total = pi.sum()
    if total <= 0:
        return np.full(obs.size, 1.0 / obs.size)
    return pi / total


def _bits(bits, name: str, k: int | None = None) -> np.ndarray:
    """``bits`` checked as a non-empty (n, k) boolean array."""
    array = np.asarray(bits)
    if array.ndim != 2 or array.dtype != bool:
        raise ValueError(
            f"{name} must be a 2-D boolean array (n_samples, n_attributes); got dtype "
            f"{array.dtype}, shape {array.shape}. Threshold probabilities (p >= 0.5) or compare "
            "+1/-1 labels with > 0."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample.")
    if array.shape[1] == 0 or (k is not None and array.shape[1] != k):
        want = "at least 1" if k is None else str(k)
        raise ValueError(
            f"{name} has {array.shape[1]} attribute columns; expected {want} (the same "
            "attributes in the same order for every argument)."
        )
    return array


def _empty_true_cells(true_bits: np.ndarray) -> list[str]:
    """Labels of the cells that have no held-out example (their confusion row is undefined)."""
    k = true_bits.shape[1]
    counts = np.bincount(cell_index(true_bits), minlength=2**k)
    labels = cell_labels([f"a{j}" for j in range(k)])
    return [labels[i] for i in np.flatnonzero(counts == 0)]


def attribute_set(
    set_bits,
    test_predicted_bits,
    test_true_bits,
    baseline_bits,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Attribution of one sample set over the 2^k cells of one group of k attributes.

    ``observed`` is the share of the set's images predicted in each cell; ``estimate`` corrects
    it with the confusion rates of the held-out images (:func:`corrected_prevalence`).
    ``ci_low``/``ci_high`` are a percentile bootstrap (Efron & Tibshirani, *An Introduction to
    the Bootstrap*, 1993, ch. 13): each of ``n_boot`` replicates redraws the set's cell counts
    ~ Multinomial(n, observed) and each confusion row ~ Multinomial(held-out count of true cell
    i, rates[i]), and recomputes the correction, so the interval includes the error of the
    estimated rates. The shares redrawn from carry a Jeffreys pseudo-count of 1/2 per cell
    (the smoothed bootstrap), so a cell observed empty gets an interval above 0 rather than the
    single point 0. ``p_value`` is the two-sided Fisher exact test of
    ``[cell count, n - cell count]`` against ``[baseline cell count, m - baseline cell count]``:
    under the null of equal true shares, with the same probes on both sets, the predicted
    shares are equal, so the test needs no misclassification correction.

    Parameters
    ----------
    set_bits
        (n, k) bool: predicted bits of the sample set.
    test_predicted_bits, test_true_bits
        (t, k) bool: predicted and labelled bits of held-out (test-partition) images; every
        true cell needs at least one image.
    baseline_bits
        (m, k) bool: predicted bits of the baseline set.
    n_boot, seed, ci
        Bootstrap replicates, seed of its ``numpy.random.default_rng``, interval level.

    Returns
    -------
    One row per cell in ``modedrop.probes.cell_labels`` order (generic labels ``a0``, ``a1``,
    ...; :func:`attribution_table` names them) with columns cell, n (set size), observed,
    estimate, ci_low, ci_high, baseline_observed, p_value.
    """
    sample = _bits(set_bits, "set_bits")
    k = sample.shape[1]
    test_pred = _bits(test_predicted_bits, "test_predicted_bits", k)
    test_true = _bits(test_true_bits, "test_true_bits", k)
    if test_pred.shape != test_true.shape:
        raise ValueError(
            f"test_predicted_bits {test_pred.shape} and test_true_bits {test_true.shape} must "
            "have the same shape (one row per held-out image)."
        )
    baseline = _bits(baseline_bits, "baseline_bits", k)
    n_boot = positive_int(n_boot, "n_boot")
    seed = positive_int(seed, "seed", minimum=0)
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie strictly between 0 and 1 (e.g. 0.95); got {ci!r}.")
    empty = _empty_true_cells(test_true)
    if empty:
        raise ValueError(
            f"test_true_bits has no image in cell(s) {empty} (attributes a0, a1, ... in column "
            "order), so their confusion rates are undefined; use fewer attributes in the group or "
            "a larger held-out partition."
        )
    cells = 2**k
    n, m = sample.shape[0], baseline.shape[0]
    counts = np.bincount(cell_index(sample), minlength=cells)
    base_counts = np.bincount(cell_index(baseline), minlength=cells)
    observed = counts / n
    rates, confusion_counts = confusion_matrix(test_pred, test_true)
    rates = _rates(rates, cells)
    test_totals = np.bincount(cell_index(test_true), minlength=cells)
    estimate = _solve(rates.T, observed)

    # Resampled from Jeffreys-smoothed shares (+1/2 per cell): a share observed as exactly 0 or
    # 1 would otherwise be redrawn as 0 or 1 every time, a zero-width interval at the boundary.
    smoothed = (counts + 0.5) / (n + 0.5 * cells)
    smoothed_rates = (confusion_counts + 0.5) / (test_totals[:, None] + 0.5 * cells)
    rng = np.random.default_rng(seed)
    boot_observed = rng.multinomial(n, smoothed, size=n_boot) / n
    boot_rates = (
        rng.multinomial(test_totals, smoothed_rates, size=(n_boot, cells)) / test_totals[:, None]
    )
    boot = np.stack([_solve(r.T, o) for r, o in zip(boot_rates, boot_observed, strict=True)])
    low, high = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2], axis=0)

    p_values = [
        fisher_exact([[counts[i], n - counts[i]], [base_counts[i], m - base_counts[i]]])[1]
        for i in range(cells)
    ]
    return pd.DataFrame(
        {
            "cell": cell_labels([f"a{j}" for j in range(k)]),
            "n": n,
            "observed": observed,
            "estimate": estimate,
            "ci_low": low,
            "ci_high": high,
            "baseline_observed": base_counts / m,
            "p_value": np.asarray(p_values, dtype="float64"),
        },
        columns=_SET_COLUMNS,
    )


def _probabilities(values, name: str, width: int) -> np.ndarray:
    x = feature_matrix(
        values,
        name,
        dtype=np.float64,
        size_message="at least 1 image (row) is needed; pass a non-empty set.",
    )
    if x.shape[1] != width:
        raise ValueError(
            f"{name} has {x.shape[1]} columns but {width} attributes were given; pass one "
            "probability column per attribute, in the order of attributes."
        )
    if (x < 0).any() or (x > 1).any():
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; got values in [{x.min():g}, {x.max():g}]. "
            "Pass the probes' predict_proba, not decision scores."
        )
    return x


def _measurable(measurable, attributes: list[str]) -> np.ndarray:
    if isinstance(measurable, Mapping):
        missing = [a for a in attributes if a not in measurable]
        if missing:
            raise ValueError(f"measurable has no entry for attribute(s) {missing}.")
        flags = np.array([bool(measurable[a]) for a in attributes])
    else:
        flags = np.asarray(measurable)
        if flags.dtype != bool or flags.shape != (len(attributes),):
            raise ValueError(
                f"measurable must be a boolean array of shape ({len(attributes)},) (one flag per "
                f"attribute) or a mapping attribute -> bool; got dtype {flags.dtype}, shape "
                f"{flags.shape}."
            )
    return flags


def _stream(seed: int, key: str) -> int:
    """A seed for one group's bootstrap, from ``seed`` and a stable hash (CRC-32) of ``key``."""
    return int(np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))]).integers(2**63))


def _prevalence(mapping: Mapping[str, float], key: str) -> float:
    value = float(mapping[key])
    if not 0 <= value <= 1:
        raise ValueError(f"baseline_prevalence[{key!r}] must lie in [0, 1]; got {value!r}.")
    return value


def _nan_rows(features: list[str], kind: str, group: str) -> pd.DataFrame:
    frame = pd.DataFrame({"feature": features, "kind": kind, "group": group, "measurable": False})
    for column in _STATISTICS:
        frame[column] = np.nan
    frame["named"] = ""
    return frame


def attribution_table(
    set_probabilities,
    test_probabilities,
    test_labels,
    baseline_probabilities,
    attributes: Sequence[str],
    *,
    measurable,
    groups: Mapping[str, Sequence[str]] = {},  # noqa: B006 -- read only, never mutated
    baseline_prevalence: Mapping[str, float] | None = None,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The attribution of one sample set: every attribute's and every group cell's corrected
    prevalence, its ratio to the baseline prevalence, Holm-corrected tests and the named
    under-/over-represented features.

    Predicted bit = probability > ``threshold`` (as :func:`modedrop.probes.probe_table`).
    Rows: one per attribute (kind ``attribute``, group ``""``): the ``+1`` cell of its one-attribute :func:`attribute_set`; then, for each
    ``groups`` name -> attributes, one per cell of their joint attribution (kind
    ``combination``, feature = the ``modedrop.probes.cell_labels`` label). An unmeasurable
    attribute (``measurable`` False), a group with one, or a feature whose held-out images lack
    a true cell (a warning says so) gets rows with ``measurable`` False and NaN statistics:
    reported, not tested.

    ``baseline_prevalence`` is ``baseline_prevalence[attribute]`` (the labelled share of +1)
    where given — then for every measurable attribute — and ``baseline_prevalence[cell label]``
    for a group whose every cell it holds; otherwise the corrected estimate of the baseline set.
    ``ratio = estimate / baseline_prevalence`` (NaN where the latter is 0). ``p_holm`` is Holm's
    adjustment (:func:`modedrop.stats.holm`) over every measurable row; ``named`` is ``under``
    where ``p_holm < alpha`` and estimate < baseline_prevalence, ``over`` where estimate >
    baseline_prevalence, else ``""`` (the test decides whether the set differs, the corrected
    estimate on which side: predicted shares can move the other way for a combination). Each feature's bootstrap draws from its own stream,
    ``default_rng([seed, crc32(key)])``, so adding a group leaves the other rows unchanged.

    Parameters
    ----------
    set_probabilities, baseline_probabilities, test_probabilities
        (n, A), (m, A), (t, A) probe probabilities in [0, 1], columns in ``attributes`` order.
    test_labels
        (t, A) bool labels of the held-out images (True = +1).
    attributes
        The A attribute names.
    measurable
        (A,) bool, or a mapping attribute -> bool: whose probes are good enough to use.
    """
    attributes = [str(a) for a in attributes]
    if not attributes or len(set(attributes)) != len(attributes):
        raise ValueError("attributes must be a non-empty sequence of distinct attribute names.")
    width = len(attributes)
    sample = _probabilities(set_probabilities, "set_probabilities", width)
    test = _probabilities(test_probabilities, "test_probabilities", width)
    baseline = _probabilities(baseline_probabilities, "baseline_probabilities", width)
    labels = _bits(test_labels, "test_labels", width)
    if labels.shape[0] != test.shape[0]:
        raise ValueError(
            f"test_labels has {labels.shape[0]} rows but test_probabilities has {test.shape[0]}; "
            "pass one label row per held-out image."
        )
    flags = _measurable(measurable, attributes)
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie strictly between 0 and 1; got {threshold!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1; got {alpha!r}.")
    seed = positive_int(seed, "seed", minimum=0)
    column = {a: j for j, a in enumerate(attributes)}
    for name, members in groups.items():
        unknown = [a for a in members if a not in column]
        if not members or unknown or len(set(members)) != len(members):
            raise ValueError(
                f"groups[{name!r}] must list distinct attributes of `attributes`; unknown: "
                f"{unknown}."
            )
    if baseline_prevalence is not None:
        missing = [a for a, ok in zip(attributes, flags, strict=True) if ok]
        missing = [a for a in missing if a not in baseline_prevalence]
        if missing:
            raise ValueError(
                f"baseline_prevalence has no entry for measurable attribute(s) {missing}; give "
                "every one, or pass None to use the baseline set's corrected estimate."
            )
    bits = {
        "set": sample > threshold,
        "test": test > threshold,
        "baseline": baseline > threshold,
    }

    def run(key: str, members: list[str], kind: str, group: str) -> pd.DataFrame:
        cols = [column[a] for a in members]
        labels_k = cell_labels(members)
        if not flags[cols].all():
            return _nan_rows(labels_k if kind == "combination" else members, kind, group)
        empty = _empty_true_cells(labels[:, cols])
        if empty:
            warnings.warn(
                f"{key}: the held-out images lack true cell(s) of {members}, so its confusion "
                "rates are undefined; reported as unmeasurable.",
                stacklevel=3,
            )
            return _nan_rows(labels_k if kind == "combination" else members, kind, group)
        table = attribute_set(
            bits["set"][:, cols],
            bits["test"][:, cols],
            labels[:, cols],
            bits["baseline"][:, cols],
            n_boot=n_boot,
            seed=_stream(seed, key),
        )
        table["feature"] = labels_k
        rates, _ = confusion_matrix(bits["test"][:, cols], labels[:, cols])
        base_estimate = corrected_prevalence(table["baseline_observed"].to_numpy(), rates)
        if baseline_prevalence is not None and all(c in baseline_prevalence for c in labels_k):
            table["baseline_prevalence"] = [_prevalence(baseline_prevalence, c) for c in labels_k]
        else:
            table["baseline_prevalence"] = base_estimate
        if kind == "attribute":
            table = table.iloc[[1]].copy()
            table["feature"] = members[0]
            if baseline_prevalence is not None:
                table["baseline_prevalence"] = _prevalence(baseline_prevalence, members[0])
        table["kind"], table["group"], table["measurable"] = kind, group, True
        return table

    parts = [run(f"attribute:{a}", [a], "attribute", "") for a in attributes]
    parts += [
        run(f"group:{g}", [str(a) for a in members], "combination", str(g))
        for g, members in groups.items()
    ]
    table = pd.concat(parts, ignore_index=True)
    prevalence = table["baseline_prevalence"].to_numpy(dtype="float64")
    estimate = table["estimate"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["ratio"] = np.where(prevalence > 0, estimate / prevalence, np.nan)
    measured = table["measurable"].to_numpy(dtype=bool)
    table["p_holm"] = holm(np.where(measured, table["p_value"].to_numpy(dtype="float64"), np.nan))
    significant = measured & (table["p_holm"].to_numpy() < alpha)
    # The side comes from the corrected estimate: misclassification moves predicted mass
    # between cells, so a cell truly emptied can be *predicted* more often than in the
    # baseline (the set's images of a neighbouring cell mispredicted into it).
    diff = estimate - prevalence
    table["named"] = np.where(
        significant & (diff < 0), "under", np.where(significant & (diff > 0), "over", "")
    )
    table["n"] = np.where(measured, sample.shape[0], np.nan)
    table["measurable"] = measured
    return table[TABLE_COLUMNS]
