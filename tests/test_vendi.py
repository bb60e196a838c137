"""Vendi score: agreement with the vendi_score 0.0.3 package, planted cases, input validation."""

from __future__ import annotations

import numpy as np
import pytest
from vendi_score import vendi

from modedrop.metrics.vendi import vendi_score, vendi_score_from_eigenvalues

SHAPES = [(50, 200), (300, 40)]  # N < D (N x N kernel) and N > D (D x D dual matrix)


def features(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # A common offset makes the cosine similarities non-trivial (score well below min(N, D)).
    return rng.standard_normal(shape) * np.linspace(0.2, 2.0, shape[1]) + 0.5


@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")  # package's
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_package_q1(shape):
    x = features(shape, seed=shape[0])
    expected = vendi.score_X(x)
    assert 2.0 < expected < min(shape) - 1.0
    assert vendi_score(x) == pytest.approx(expected, rel=1e-6)
    assert vendi_score(x, block_size=7) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("q", [0.5, 2.0, "inf"])
def test_matches_package_other_orders(shape, q):
    # score_X ignores q; score_dual (same normalisation, D x D matrix) honours it.
    x = features(shape, seed=1)
    assert vendi_score(x, q=q) == pytest.approx(vendi.score_dual(x, q=q), rel=1e-6)


def test_float_infinity_equals_package_string_inf():
    x = features((80, 30), seed=2)
    assert vendi_score(x, q=float("inf")) == vendi_score(x, q="inf")


def test_identical_rows_give_one():
    row = np.random.default_rng(3).standard_normal(64)
    x = np.tile(row, (40, 1)) * np.linspace(0.5, 3.0, 40)[:, None]  # scale is normalised away
    for q in (0.0, 0.5, 1.0, 2.0, "inf"):
        assert vendi_score(x, q=q) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("n", [5, 32])
def test_orthogonal_rows_give_n(n):
    rng = np.random.default_rng(n)
    rotation, _ = np.linalg.qr(rng.standard_normal((64, 64)))
    x = rotation[:n] * rng.uniform(0.5, 2.0, size=(n, 1))
    for q in (0.0, 1.0, 2.0, "inf"):
        assert vendi_score(x, q=q) == pytest.approx(n, rel=1e-9)


def test_q0_counts_the_rank_despite_rounding():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((200, 7)) @ rng.standard_normal((7, 50))  # rank 7, N > D
    assert vendi_score(x, q=0) == pytest.approx(7.0, rel=1e-12)


def test_float32_and_float64_agree():
    x = features((120, 24), seed=5)
    assert vendi_score(x.astype(np.float32)) == pytest.approx(vendi_score(x), rel=1e-5)


def test_from_eigenvalues_formula():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    assert vendi_score_from_eigenvalues(p) == pytest.approx(np.exp(1.5 * np.log(2)), rel=1e-12)
    assert vendi_score_from_eigenvalues(p, q=2) == pytest.approx(1 / 0.375, rel=1e-12)
    assert vendi_score_from_eigenvalues(p, q="inf") == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (np.zeros(5), {}, "2-D array"),
        (np.array([["a"]]), {}, "real numeric"),
        (np.zeros((0, 4)), {}, "at least 1 row"),
        (np.array([[1.0, 2.0], [np.inf, 0.0]]), {}, r"NaN or infinity \(first at row 1\)"),
        (np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]]), {}, "Row 1 of features is all zeros"),
        (np.ones((3, 2)), {"q": -1.0}, "q must be a number >= 0"),
        (np.ones((3, 2)), {"q": "big"}, "q must be a number >= 0"),
        (np.ones((3, 2)), {"block_size": 0}, "block_size must be a positive integer"),
    ],
)
def test_invalid_inputs_raise(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        vendi_score(x, **kwargs)


def test_zero_row_is_found_in_later_blocks():
    x = np.ones((50, 3))
    x[37] = 0.0
    with pytest.raises(ValueError, match="Row 37 of features is all zeros"):
        vendi_score(x, block_size=8)
