"""Tests of the shared input validators in ``modedrop.validation``."""

from __future__ import annotations

import numpy as np
import pytest

from modedrop.validation import feature_matrix, positive_int, same_width, unit_rows


def test_feature_matrix_keeps_dtype_and_does_not_copy_by_default():
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out = feature_matrix(x, "features")
    assert out is x
    assert feature_matrix([[1, 2], [3, 4]], "features").dtype.kind == "i"


@pytest.mark.parametrize(
    ("dtype", "keep_float32", "expected"),
    [
        (np.float64, False, np.float64),
        (np.float64, True, np.float32),
        (np.float32, False, np.float32),
    ],
)
def test_feature_matrix_converts_float32_input(dtype, keep_float32, expected):
    x = np.ones((4, 2), dtype=np.float32)
    assert feature_matrix(x, "x", dtype=dtype, keep_float32=keep_float32).dtype == expected


def test_feature_matrix_keep_float32_sends_other_dtypes_to_dtype():
    ints = np.arange(6, dtype=np.int32).reshape(3, 2)
    out = feature_matrix(ints, "x", dtype=np.float64, keep_float32=True)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, ints)


def test_feature_matrix_copy_never_aliases_the_input():
    x = np.ones((3, 2))
    assert feature_matrix(x, "x", dtype=np.float64) is x
    out = feature_matrix(x, "x", dtype=np.float64, copy=True)
    out[0, 0] = 5.0
    assert x[0, 0] == 1.0


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_feature_matrix_catches_overflow_of_the_conversion():
    big = np.full((2, 2), 1e300)
    with pytest.raises(ValueError, match=r"NaN or infinity \(first at row 0\)"):
        feature_matrix(big, "x", dtype=np.float32)


@pytest.mark.parametrize(
    ("features", "kwargs", "message"),
    [
        (
            np.zeros(4),
            {},
            r"Expected 2-D reference, i\.e\. a 2-D array .* got a 1-D array.*reference\.reshape",
        ),
        (np.zeros((2, 2, 2)), {}, "got a 3-D array"),
        (np.zeros((2, 2), dtype=bool), {}, "real numeric reference .* got dtype bool"),
        (np.ones((2, 2), dtype=complex), {}, "real numeric"),
        (np.array([["a", "b"]]), {}, "real numeric"),
        (np.zeros((1, 3)), {"min_rows": 2}, r"reference has shape \(1, 3\); at least 2 rows"),
        (np.zeros((0, 3)), {}, "at least 1 row "),
        (np.zeros((3, 0)), {"min_rows": 0}, "1 feature"),
        (
            np.zeros((1, 3)),
            {"min_rows": 2, "size_message": "FD needs 2."},
            r"\(1, 3\); FD needs 2\.$",
        ),
        (np.array([[0.0, 1.0], [1.0, np.inf]]), {}, r"NaN or infinity \(first at row 1\)"),
    ],
)
def test_feature_matrix_errors(features, kwargs, message):
    with pytest.raises(ValueError, match=message):
        feature_matrix(features, "reference", **kwargs)


def test_feature_matrix_accepts_empty_rows_with_min_rows_zero():
    assert feature_matrix(np.zeros((0, 3)), "x", min_rows=0).shape == (0, 3)


def test_positive_int_accepts_python_and_numpy_integers():
    assert positive_int(3, "k") == 3
    out = positive_int(np.int64(4), "k")
    assert out == 4 and type(out) is int
    assert positive_int(0, "top", minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (0, 1, "k must be a positive integer, got 0"),
        (-1, 0, "k must be an integer >= 0, got -1"),
        (1, 2, "k must be an integer >= 2, got 1"),
        (True, 1, "k must be a positive integer, got True"),
        (2.0, 1, "k must be a positive integer, got 2.0"),
        ("3", 1, "got '3'"),
    ],
)
def test_positive_int_errors(value, minimum, message):
    with pytest.raises(ValueError, match=message):
        positive_int(value, "k", minimum=minimum)


def test_same_width_takes_arrays_or_counts():
    assert same_width(np.zeros((2, 5)), np.zeros((7, 5)), ("a", "b")) == 5
    assert same_width(np.zeros((2, 5)), 5, ("a", "b")) == 5
    with pytest.raises(ValueError, match="fake has 4 features but real has 5; .* encoder layer"):
        same_width(np.zeros((2, 4)), np.zeros((2, 5)), ("fake", "real"))
    with pytest.raises(ValueError, match="same identity descriptor"):
        same_width(4, np.int64(5), ("anchors", "samples"), source="identity descriptor")


def test_unit_rows_normalises_and_keeps_dtype():
    x = np.array([[3.0, 4.0], [0.0, 2.0]], dtype=np.float32)
    out = unit_rows(x, "x")
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    assert out.dtype == np.float32 and x[0, 0] == 3.0
    assert unit_rows(x, "x", in_place=True) is x
    np.testing.assert_allclose(x, out)


def test_unit_rows_rejects_zero_rows():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(
        ValueError, match=r"2 row\(s\) of x are all zeros, i\.e\. zero norm \(first at row 1\)"
    ):
        unit_rows(x, "x")
