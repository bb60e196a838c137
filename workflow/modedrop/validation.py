"""Input validation shared by the metrics, the latent priors, the calibration and the toy data.

Every metric validates its inputs where they enter (shape, dtype, finiteness, sizes) and fails
with a ``ValueError`` that says what is wrong, names the argument and says how to fix it
(scikit-learn style). These helpers hold those checks once, so the messages read the same in
every module. Each returns the validated value, so a call reads
``x = feature_matrix(x, "reference", min_rows=2)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "feature_matrix",
    "generator",
    "positive_int",
    "same_width",
    "unit_feature_rows",
    "unit_rows",
]


def feature_matrix(
    features: Any,
    name: str,
    *,
    min_rows: int = 1,
    dtype: DTypeLike | None = None,
    keep_float32: bool = False,
    copy: bool = False,
    size_message: str | None = None,
) -> np.ndarray:
    """``features`` as a checked N x D array of finite real numbers.

    Checks, in this order: the array is 2-D; its dtype is real numeric (float, signed or
    unsigned integer; bool, complex, strings and objects are refused); it has at least
    ``min_rows`` rows and 1 column; every value is finite (the error names the first bad row).

    Parameters
    ----------
    features
        Anything ``numpy.asarray`` accepts.
    name
        The argument's name, used in the error messages (e.g. ``"reference"``).
    min_rows
        Fewest rows accepted (0 accepts an empty set with at least 1 column).
    dtype
        ``None`` keeps the input's dtype (an ndarray comes back as it is, not copied).
        Otherwise the result has this dtype, converted (and copied) only where needed.
        Finiteness is checked after the conversion, so values it overflows are caught.
    keep_float32
        With ``dtype``: float32 input stays float32 (half the memory of float64), every other
        dtype becomes ``dtype``.
    copy
        Always return a new array, which the caller may then modify in place.
    size_message
        What follows ``"<name> has shape <shape>; "`` when there are too few rows or no column:
        what the caller needs them for and how to fix it. Default: a generic sentence.
    """
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(
            f"Expected 2-D {name}, i.e. a 2-D array of shape (n_samples, n_features), got a "
            f"{x.ndim}-D array with shape {x.shape}. Flatten each sample to one row: "
            f"{name}.reshape(len({name}), -1)."
        )
    if x.dtype.kind not in "fiu":
        raise ValueError(
            f"Expected real numeric {name} (float32/float64), got dtype {x.dtype}. Convert "
            f"them with {name}.astype(numpy.float32)."
        )
    if x.shape[0] < min_rows or x.shape[1] < 1:
        if size_message is None:
            rows = "row" if min_rows == 1 else "rows"
            size_message = (
                f"at least {min_rows} {rows} (samples) and 1 feature are needed. Pass more samples."
            )
        raise ValueError(f"{name} has shape {x.shape}; {size_message}")
    if dtype is None:
        target = x.dtype
    elif keep_float32 and x.dtype == np.float32:
        target = np.dtype(np.float32)
    else:
        target = np.dtype(dtype)
    x = x.astype(target, copy=copy)
    finite_rows = np.isfinite(x).all(axis=1)
    if not finite_rows.all():
        bad = int(np.flatnonzero(~finite_rows)[0])
        raise ValueError(
            f"{name} contain NaN or infinity (first at row {bad}). Drop or re-embed the "
            "affected samples."
        )
    return x


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as a Python ``int`` after checking it is an integer ``>= minimum``.

    Python and numpy integers are accepted; ``bool`` and floats (even ``2.0``) are not, so a
    misplaced flag or a computed float is caught rather than silently truncated. Pass
    ``minimum=0`` for counts that may be zero, or a larger one (e.g. 2 for cross-validation
    folds).
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value!r}.")
    return int(value)


def same_width(
    a: np.ndarray | int,
    b: np.ndarray | int,
    names: tuple[str, str],
    *,
    source: str = "encoder layer",
) -> int:
    """The common number of features (columns) of two feature sets, after checking they match.

    ``a`` and ``b`` are 2-D arrays or feature counts; ``names`` name them in the message,
    e.g. ``("evaluated", "the reference")``; ``source`` is what both must come from.
    """
    widths = [int(w) if isinstance(w, int | np.integer) else int(w.shape[1]) for w in (a, b)]
    if widths[0] != widths[1]:
        raise ValueError(
            f"{names[0]} has {widths[0]} features but {names[1]} has {widths[1]}; both sets "
            f"must come from the same {source}."
        )
    return widths[0]


def unit_rows(x: np.ndarray, name: str, *, in_place: bool = False) -> np.ndarray:
    """The rows of the 2-D float array ``x`` scaled to unit L2 norm, in ``x``'s dtype.

    An all-zero row has no direction, so its cosine similarity is undefined: it is an error.
    ``in_place`` divides ``x`` itself (only for an array the caller owns, e.g. from
    ``feature_matrix(..., copy=True)``), which saves a second N x D array.
    """
    norms = np.linalg.norm(x, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{zero.size} row(s) of {name} are all zeros, i.e. zero norm (first at row "
            f"{int(zero[0])}); cosine similarity is undefined for them. Drop those rows "
            f"(e.g. {name}[numpy.any({name} != 0, axis=1)]) or check the encoder's output."
        )
    if in_place:
        x /= norms[:, None]
        return x
    return x / norms[:, None]


def unit_feature_rows(features: Any, name: str) -> np.ndarray:
    """``features`` checked (:func:`feature_matrix`) as float64, rows scaled to unit L2 norm.

    The input of the MCCS distance ``d = arccos(<u, v>) / pi`` (Wu et al., *Black-Box Diagnosis
    and Calibration on GAN Intra-Mode Collapse*, Eq. 4), shared by :mod:`modedrop.metrics.mccs`
    and the calibration modules. An all-zero row is an error (:func:`unit_rows`).
    """
    x = feature_matrix(
        features,
        name,
        dtype=np.float64,
        size_message="MCCS needs at least 1 image (row) and 1 feature.",
    )
    return unit_rows(x, name)


def generator(rng: Any) -> np.random.Generator:
    """``rng`` itself when it is a numpy Generator; otherwise an error saying how to make one."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator, got {type(rng).__name__}; pass "
            "numpy.random.default_rng(seed)."
        )
    return rng
