"""Attribute probes on cached features: which attributes a sample set's features encode.

A probe is a logistic regression ``P(attribute = +1 | x) = expit(w . z + b)`` on the standardised
features ``z = (x - mean) / scale`` of one encoder (a *linear probe*, Alain & Bengio,
*Understanding intermediate layers using linear classifier probes*, 2016), one per attribute,
fit with scikit-learn's ``StandardScaler`` and ``LogisticRegression`` on the training partition
of a CelebA-format data set. The probes' probabilities estimate attribute prevalences in any
sample set embedded by the same encoder; their error rates, measured on held-out rows
(:func:`probe_table`, :func:`confusion_matrix`), are what corrects those estimates.

Combinations of ``k`` binary attributes are *cells* numbered ``0 .. 2**k - 1`` with the first
attribute as the most significant bit and bit 1 meaning ``+1`` (:func:`cell_labels`,
:func:`cell_index`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from modedrop.chunks import write_atomically
from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = [
    "MAX_CELL_ATTRIBUTES",
    "PROBE_FORMAT_VERSION",
    "ProbeSet",
    "cell_index",
    "cell_labels",
    "confusion_matrix",
    "fit_probes",
    "held_out_probabilities",
    "probe_table",
]

PROBE_FORMAT_VERSION = 1
"""Version of the ``.npz`` layout written by :meth:`ProbeSet.save`."""

MAX_CELL_ATTRIBUTES = 10
"""Most attributes combined into cells: 2**10 = 1024 cells, a 1024 x 1024 confusion matrix."""

_KIND = "modedrop.probes"
_ECE_BINS = 10
_PREDICT_CHUNK = 8192


def _attribute_names(attributes: Any, name: str = "attributes") -> tuple[str, ...]:
    try:
        if isinstance(attributes, str | bytes):
            raise TypeError
        names = tuple(str(a) for a in attributes)
    except TypeError:
        raise ValueError(
            f"{name} must be a sequence of attribute names, e.g. ['Male', 'Young'], got "
            f"{attributes!r}."
        ) from None
    if not names:
        raise ValueError(f"{name} is empty; pass at least one attribute name.")
    bad = [a for a in names if not a or "," in a or "=" in a or a != a.strip()]
    if bad:
        raise ValueError(
            f"{name} {bad!r} are not usable attribute names: names must be non-empty, without "
            "',' or '=' and without surrounding spaces (they appear in cell labels)."
        )
    duplicates = sorted({a for a in names if names.count(a) > 1})
    if duplicates:
        raise ValueError(f"{name} repeats {duplicates}; each attribute must appear once.")
    return names


def _columns(array: np.ndarray, name: str, columns: int) -> np.ndarray:
    if array.ndim != 2 or array.shape[1] != columns:
        raise ValueError(
            f"{name} must be 2-D (n_rows, n_attributes) with one column per named attribute "
            f"({columns}), in the same order; got shape {array.shape}."
        )
    return array


def _bool_matrix(values: Any, name: str, *, columns: int) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype != np.bool_:
        raise ValueError(
            f"{name} must be a boolean array (True = attribute +1), got dtype {array.dtype}. "
            f"Convert CelebA's +1/-1 labels with `{name} == 1`."
        )
    return _columns(array, name, columns)


def _same_rows(n: int, array: np.ndarray, name: str, reference: str) -> None:
    if len(array) != n:
        raise ValueError(
            f"{name} has {len(array)} rows but {reference} has {n}; pass the rows of the same "
            "images, in the same order."
        )


def _vector(values: Any, name: str, n: int, *, kinds: str = "") -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (kinds and array.dtype.kind not in kinds):
        raise ValueError(
            f"{name} must be 1-D{' integer' if kinds else ''} (one value per row), got shape "
            f"{array.shape} and dtype {array.dtype}."
        )
    _same_rows(n, array, name, "features")
    return array


def _number(value: Any, name: str, *, low: float, high: float, open_low: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not real or not (low < value if open_low else low <= value) or not value <= high:
        side = "(" if open_low else "["
        raise ValueError(f"{name} must be a number in {side}{low}, {high}], got {value!r}.")
    return float(value)


# ----- probes ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProbeSet:
    """Logistic-regression probes, one per attribute, fit on standardised features.

    ``P(attribute a = +1 | x) = expit(coef[a] . (x - mean) / scale + intercept[a])``, which is
    what scikit-learn's ``make_pipeline(StandardScaler(), LogisticRegression())`` computes for a
    binary target. The arrays are stored read-only; ``eq=False`` because array fields have no
    single truth value (compare the arrays with ``numpy.allclose``).
    """

    attributes: tuple[str, ...]
    mean: np.ndarray  # (D,) standardisation fit on the training rows
    scale: np.ndarray  # (D,)
    coef: np.ndarray  # (A, D)
    intercept: np.ndarray  # (A,)

    def __post_init__(self) -> None:
        names = _attribute_names(self.attributes)
        keys = ("mean", "scale", "coef", "intercept")
        arrays = {key: np.array(getattr(self, key), dtype=np.float64) for key in keys}
        a, d = len(names), arrays["mean"].shape[-1]
        for key, shape in zip(keys, [(d,), (d,), (a, d), (a,)], strict=True):
            if arrays[key].shape != shape or not np.isfinite(arrays[key]).all():
                raise ValueError(
                    f"ProbeSet.{key} must be a finite array of shape {shape} for {a} attributes "
                    f"and {d} features, got shape {arrays[key].shape}; build it with fit_probes."
                )
            arrays[key].setflags(write=False)
            object.__setattr__(self, key, arrays[key])
        if (self.scale <= 0).any():
            raise ValueError("ProbeSet.scale must be positive; build it with fit_probes.")
        object.__setattr__(self, "attributes", names)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """``(n, A)`` float64 ``P(attribute = +1)`` per row and attribute (formula above).

        Computed in float64, in chunks of rows, so float32 caches need no float64 copy.
        """
        x = feature_matrix(features, "features", min_rows=0)
        same_width(x, len(self.mean), ("features", "the probes' training features"))
        out = np.empty((len(x), len(self.attributes)), dtype=np.float64)
        for start in range(0, len(x), _PREDICT_CHUNK):
            z = (x[start : start + _PREDICT_CHUNK].astype(np.float64) - self.mean) / self.scale
            out[start : start + _PREDICT_CHUNK] = expit(z @ self.coef.T + self.intercept)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the probes to ``path`` (``.npz``, numeric and string arrays only, no pickle)."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"a probe file must end in .npz, got {path}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"mean": self.mean, "scale": self.scale, "coef": self.coef}
        arrays |= {"intercept": self.intercept, "attributes": np.array(self.attributes, dtype=str)}
        arrays |= {"kind": np.array(_KIND), "format_version": np.int64(PROBE_FORMAT_VERSION)}
        write_atomically(path, lambda handle: np.savez(handle, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ProbeSet:
        """The probes written by :meth:`save` (read with ``numpy.load(allow_pickle=False)``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"probe file {path} does not exist; write it with ProbeSet.save (fit_probes)."
            )
        fix = "write it again with ProbeSet.save"
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy file: one array
                raise ValueError("it holds one array")
            with data:
                arrays = {key: data[key] for key in data.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{path} is not a .npz file without pickles ({error}); {fix}."
            ) from error
        if str(arrays.get("kind", "")) != _KIND:
            raise ValueError(f"{path} is not a modedrop probe file (no kind={_KIND!r}); {fix}.")
        version = int(arrays.get("format_version", -1))
        if version != PROBE_FORMAT_VERSION:
            raise ValueError(
                f"{path} has probe format version {version}, this code reads "
                f"{PROBE_FORMAT_VERSION}; {fix}."
            )
        try:
            fields = {key: arrays[key] for key in ("mean", "scale", "coef", "intercept")}
            names = tuple(str(name) for name in np.atleast_1d(arrays["attributes"]))
        except KeyError as error:
            raise ValueError(f"{path} lacks the array {error}; {fix}.") from error
        return cls(attributes=names, **fields)


def fit_probes(
    features: np.ndarray,
    labels: np.ndarray,
    attributes: Sequence[str],
    *,
    C: float = 1.0,
    max_iter: int = 1000,
) -> ProbeSet:
    """One logistic-regression probe per attribute on standardised ``features``.

    ``features`` (n, D) are standardised with ``sklearn.preprocessing.StandardScaler`` (its
    ``mean_`` and ``scale_`` are kept), then for each attribute
    ``LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter)`` is fit to
    ``labels[:, a]`` (bool, True = attribute +1); :meth:`ProbeSet.predict_proba` reproduces
    the pipeline's ``predict_proba`` up to float rounding.

    Why ``class_weight="balanced"``: it weights each class by ``n / (2 n_class)``, so both
    classes carry equal total weight in the loss. Without it a probe for a skewed attribute
    (e.g. 5 % Eyeglasses) minimises the loss by leaning towards the majority class, and
    thresholding at 0.5 then trades sensitivity for specificity; balanced, the 0.5 threshold
    sits where the two error rates are balanced (the loss is that of a 50 % prevalence), so
    the sensitivity and specificity that correct the prevalence estimates are both usable.

    Raises ``ValueError`` when an attribute has a single class in ``labels`` (a probe needs
    both), naming the attribute.
    """
    C = _number(C, "C (inverse L2 regularisation strength)", low=0, high=np.inf, open_low=True)
    max_iter = positive_int(max_iter, "max_iter")
    names = _attribute_names(attributes)
    x = feature_matrix(features, "features", min_rows=2, dtype=np.float64, keep_float32=True)
    y = _bool_matrix(labels, "labels", columns=len(names))
    _same_rows(len(x), y, "labels", "features")
    counts = zip(names, y.sum(axis=0), strict=True)
    single = [f"{n} (all {'+1' if p else '-1'})" for n, p in counts if p in (0, len(y))]
    if single:
        raise ValueError(
            f"attributes {', '.join(single)} have a single class in the {len(y)} training rows; "
            "a probe needs rows of both classes. Drop these attributes or add rows with the "
            "other value."
        )
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    coef = np.empty((len(names), x.shape[1]), dtype=np.float64)
    intercept = np.empty(len(names), dtype=np.float64)
    for a in range(len(names)):
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter)
        model.fit(z, y[:, a])
        coef[a], intercept[a] = model.coef_[0], model.intercept_[0]
    return ProbeSet(names, scaler.mean_, scaler.scale_, coef, intercept)


def _both_classes(labels: np.ndarray, row_sets: Sequence[np.ndarray]) -> np.ndarray:
    """(A,) bool: the attributes with both classes in every one of ``row_sets``."""
    fittable = np.ones(labels.shape[1], dtype=bool)
    for rows in row_sets:
        positives = labels[rows].sum(axis=0)
        fittable &= (positives > 0) & (positives < len(rows))
    return fittable


def _fit_or_constant(
    x: np.ndarray,
    y: np.ndarray,
    names: tuple[str, ...],
    fittable: np.ndarray,
    share: np.ndarray,
    *,
    C: float,
    max_iter: int,
) -> ProbeSet:
    """:func:`fit_probes` for the ``fittable`` attributes; the others predict ``share`` (their
    share in the whole training partition, the same in every fold)."""
    share = np.clip(share, 1e-6, 1 - 1e-6)
    coef = np.zeros((len(names), x.shape[1]), dtype=np.float64)
    intercept = np.log(share / (1 - share))
    scaler = StandardScaler().fit(x)
    if fittable.any():
        fitted = fit_probes(
            x,
            y[:, fittable],
            [n for n, f in zip(names, fittable, strict=True) if f],
            C=C,
            max_iter=max_iter,
        )
        coef[fittable], intercept[fittable] = fitted.coef, fitted.intercept
    return ProbeSet(names, scaler.mean_, scaler.scale_, coef, intercept)


def held_out_probabilities(
    features: np.ndarray,
    labels: np.ndarray,
    attributes: Sequence[str],
    partition: np.ndarray,
    identities: np.ndarray,
    *,
    folds: int = 5,
    C: float = 1.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> tuple[ProbeSet, np.ndarray]:
    """The probes fit on the training partition and a held-out probability for every row.

    Returns ``(probes, probabilities)``: ``probes`` are :func:`fit_probes` on every training
    row (``partition == 0``); ``probabilities`` (n, A) give each row ``P(attribute = +1)`` from
    a probe that saw neither that row nor any row of its identity:

    * rows outside the training partition: ``probes.predict_proba``;
    * training rows: out-of-fold probabilities from ``GroupKFold(folds)`` over the training
      rows grouped by ``identities`` (shuffled with ``seed`` where scikit-learn supports it),
      each fold predicted by probes fit on the other folds.

    Why: a sample set drawn from the data set (a planted drop, or a generator that memorised
    its training set) contains training images. In-sample probabilities on them would be more
    accurate than the test-partition error rates used to correct the prevalence estimates, so
    the correction would be wrong. Grouping by identity keeps a probe from recognising a person
    it was fit on (faces of one identity share attributes and features).

    ``labels`` are (n, A) bool (True = +1) for every row; ``partition`` holds CelebA's split
    codes (0 = train, 1 = validation, 2 = test); ``identities`` one identity per row.

    An attribute with a single class in the training rows, or in the training part of any
    fold (a rare attribute carried by few identities, e.g. Bald in a small data set), gets a
    constant probe that predicts its training share everywhere: its AUROC is 0.5, so
    :func:`probe_table` reports it unmeasurable instead of the whole job failing.
    """
    names = _attribute_names(attributes)
    x = feature_matrix(features, "features", min_rows=2, dtype=np.float64, keep_float32=True)
    y = _bool_matrix(labels, "labels", columns=len(names))
    _same_rows(len(x), y, "labels", "features")
    split = _vector(partition, "partition (0 = train, 1 = val, 2 = test)", len(x), kinds="iu")
    groups = _vector(identities, "identities", len(x))
    folds = positive_int(folds, "folds", minimum=2)
    seed = positive_int(seed, "seed", minimum=0)
    train = np.flatnonzero(split == 0)
    n_groups = len(np.unique(groups[train])) if len(train) else 0
    if n_groups < folds:
        raise ValueError(
            f"the training partition (partition == 0) has {len(train)} rows of {n_groups} "
            f"identities, fewer than folds={folds}; pass fewer folds or more training identities."
        )
    try:  # shuffled by seed where scikit-learn supports it (>= 1.6)
        splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    except TypeError:  # older scikit-learn: deterministic, balanced by group size
        splitter = GroupKFold(n_splits=folds)
    splits = [
        (train[fit_rows], train[held_rows])
        for fit_rows, held_rows in splitter.split(x[train], groups=groups[train])
    ]
    fittable = _both_classes(y, [train] + [fit_at for fit_at, _ in splits])
    share = y[train].mean(axis=0)
    probes = _fit_or_constant(x[train], y[train], names, fittable, share, C=C, max_iter=max_iter)
    probabilities = np.full((len(x), len(names)), np.nan, dtype=np.float64)
    others = np.flatnonzero(split != 0)
    probabilities[others] = probes.predict_proba(x[others])
    for fit_at, held_at in splits:
        fold = _fit_or_constant(
            x[fit_at], y[fit_at], names, fittable, share, C=C, max_iter=max_iter
        )
        probabilities[held_at] = fold.predict_proba(x[held_at])
    return probes, probabilities


# ----- error rates -------------------------------------------------------------------------------


def _expected_calibration_error(p: np.ndarray, y: np.ndarray) -> float:
    """ECE with 10 equal-width bins on [0, 1] (Naeini et al., AAAI 2015; Guo et al., ICML 2017).

    ``ECE = sum_b (n_b / n) |mean(y in b) - mean(p in b)|``, computed as
    ``sum_b |sum(y in b) - sum(p in b)| / n``; the last bin includes 1.
    """
    bins = np.clip(np.floor(p * _ECE_BINS).astype(np.int64), 0, _ECE_BINS - 1)
    sum_p = np.bincount(bins, weights=p, minlength=_ECE_BINS)
    sum_y = np.bincount(bins, weights=y.astype(np.float64), minlength=_ECE_BINS)
    return float(np.abs(sum_y - sum_p).sum() / len(p))


def probe_table(
    probabilities: np.ndarray,
    labels: np.ndarray,
    attributes: Sequence[str],
    *,
    min_auroc: float = 0.75,
    threshold: float = 0.5,
    n_train: int | None = None,
) -> pd.DataFrame:
    """How well each probe predicts its attribute on held-out rows, one row per attribute.

    Pass the held-out (test partition) ``probabilities`` (n, A) and ``labels`` (n, A, bool).
    Columns, per attribute ``a`` with ``p = probabilities[:, a]`` and ``y = labels[:, a]``:

    * ``attribute``, ``n_test`` (n), ``prevalence`` (``mean(y)``, the labelled share of +1);
    * ``auroc``: ``sklearn.metrics.roc_auc_score(y, p)``; NaN when ``y`` has one class;
    * ``brier``: ``mean((p - y)^2)`` (Brier 1950);
    * ``ece``: expected calibration error, 10 equal-width bins weighted by bin count;
    * ``sensitivity`` ``P(p > threshold | y)`` and ``specificity`` ``P(p <= threshold | not y)``
      (NaN without rows of that class); predicted +1 means ``p > threshold``, scikit-learn's
      ``predict`` rule at 0.5;
    * ``youden_j = sensitivity + specificity - 1`` (Youden 1950);
    * ``measurable``: ``auroc >= min_auroc and youden_j > 0``; a probe below that floor
      cannot tell its attribute apart, so its prevalence correction would divide by ~0;
    * ``n_train`` (training rows of the probes) when given.
    """
    names = _attribute_names(attributes)
    p = np.asarray(probabilities)
    p = feature_matrix(_columns(p, "probabilities", len(names)), "probabilities", dtype=np.float64)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]; pass ProbeSet.predict_proba output.")
    y = _bool_matrix(labels, "labels", columns=len(names))
    _same_rows(len(p), y, "labels", "probabilities")
    min_auroc = _number(min_auroc, "min_auroc", low=0.0, high=1.0)
    threshold = _number(threshold, "threshold", low=0.0, high=1.0)
    if n_train is not None:
        n_train = positive_int(n_train, "n_train", minimum=0)
    rows = []
    for a, name in enumerate(names):
        pa, ya = p[:, a], y[:, a]
        predicted = pa > threshold
        n_pos, n_neg = int(ya.sum()), int((~ya).sum())
        auroc = float(roc_auc_score(ya, pa)) if n_pos and n_neg else np.nan
        sensitivity = float((predicted & ya).sum() / n_pos) if n_pos else np.nan
        specificity = float((~predicted & ~ya).sum() / n_neg) if n_neg else np.nan
        youden = sensitivity + specificity - 1.0
        row = {
            "attribute": name,
            "n_test": len(pa),
            "prevalence": float(ya.mean()),
            "auroc": auroc,
            "brier": float(np.mean((pa - ya) ** 2)),
            "ece": _expected_calibration_error(pa, ya),
            "sensitivity": sensitivity,
            "specificity": specificity,
            "youden_j": youden,
            "measurable": bool(auroc >= min_auroc and youden > 0),
        }
        if n_train is not None:
            row["n_train"] = n_train
        rows.append(row)
    return pd.DataFrame(rows)


# ----- cells -------------------------------------------------------------------------------------


def _cell_bits(bits: Any, name: str) -> np.ndarray:
    array = np.asarray(bits)
    if array.dtype != np.bool_:
        raise ValueError(
            f"{name} must be a boolean array (True = attribute +1), got dtype {array.dtype}; "
            f"convert +1/-1 labels with `{name} == 1` or probabilities with `{name} > 0.5`."
        )
    if array.ndim != 2 or not 1 <= array.shape[1] <= MAX_CELL_ATTRIBUTES:
        raise ValueError(
            f"{name} must be 2-D (n_rows, k) with 1 <= k <= {MAX_CELL_ATTRIBUTES} attributes, "
            f"got shape {array.shape}."
        )
    return array


def cell_labels(attributes: Sequence[str]) -> list[str]:
    """The ``2**k`` combinations of ``k`` binary attributes, in cell-index order.

    Cell ``i`` has attribute ``j`` at ``+1`` when bit ``k - 1 - j`` of ``i`` is 1 (the first
    attribute is the most significant bit). Labels read ``"Attractive=+1,Young=-1"``: all ``k``
    attributes, comma-separated, no spaces. ``cell_labels(["Male"]) == ["Male=-1", "Male=+1"]``.
    """
    names = _attribute_names(attributes)
    if (k := len(names)) > MAX_CELL_ATTRIBUTES:
        raise ValueError(f"{k} attributes make 2**{k} cells; combine <= {MAX_CELL_ATTRIBUTES}.")
    return [
        ",".join(
            f"{name}={'+1' if (cell >> (k - 1 - j)) & 1 else '-1'}" for j, name in enumerate(names)
        )
        for cell in range(2**k)
    ]


def cell_index(bits: np.ndarray) -> np.ndarray:
    """Cell index ``sum_j bits[:, j] * 2**(k - 1 - j)`` of each row of ``bits`` (n, k) bool.

    The order of :func:`cell_labels`: the first column is the most significant bit.
    """
    b = _cell_bits(bits, "bits")
    k = b.shape[1]
    weights = 2 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    return b.astype(np.int64) @ weights


def confusion_matrix(
    predicted_bits: np.ndarray, true_bits: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(rates, counts)``: how the probes' predicted cells follow the true cells.

    ``predicted_bits`` and ``true_bits`` are (n, k) bool for the same rows and attributes.
    ``counts[i, j]`` (int64, ``2**k x 2**k``) counts rows whose true cell is ``i`` and predicted
    cell ``j`` (cells as in :func:`cell_index`); ``rates[i, j] = counts[i, j] / sum_j
    counts[i, j]`` estimates ``P(predicted cell j | true cell i)``, each row summing to 1.

    A true cell with no rows gets the identity row (``rates[i, i] = 1``): a cell absent from
    the held-out data cannot be estimated, so it is treated as perfectly predicted.
    """
    predicted = _cell_bits(predicted_bits, "predicted_bits")
    true = _cell_bits(true_bits, "true_bits")
    if predicted.shape != true.shape:
        raise ValueError(
            f"predicted_bits has shape {predicted.shape} but true_bits has {true.shape}; pass "
            "the same rows and attributes, in the same order."
        )
    cells = 2 ** true.shape[1]
    flat = cell_index(true) * cells + cell_index(predicted)
    counts = np.bincount(flat, minlength=cells * cells).reshape(cells, cells).astype(np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(
        counts, totals, out=np.eye(cells, dtype=np.float64), where=totals > 0, dtype=np.float64
    )
    return rates, counts
