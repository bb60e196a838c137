"""Kernel distance (KID): agreement with torch-fidelity 0.4.0, reuse, planted cases, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from modedrop.metrics.kid import DEFAULT_SEED, KernelReference, kernel_distance


def torch_fidelity_kid(
    evaluated: np.ndarray, reference: np.ndarray, **kwargs
) -> tuple[float, float]:
    """torch-fidelity's KID with the evaluated set as input 1 and the reference as input 2."""
    out = kid_features_to_metric(
        torch.from_numpy(evaluated), torch.from_numpy(reference), verbose=False, **kwargs
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def shifted_pair(seed: int = 0, n_e: int = 130, n_r: int = 110, d: int = 24):
    """Sets of *different* sizes, so a swapped role or draw order changes the draws."""
    rng = np.random.default_rng(seed)
    evaluated = rng.standard_normal((n_e, d)) * 1.2 + 0.3
    reference = rng.standard_normal((n_r, d))
    return evaluated, reference


@pytest.mark.parametrize("subset_size", [50, 110])  # smaller than, and equal to, a set size
def test_matches_torch_fidelity(subset_size):
    evaluated, reference = shifted_pair()
    expected = torch_fidelity_kid(evaluated, reference, kid_subsets=15, kid_subset_size=subset_size)
    assert expected[0] > 0.05  # clearly non-zero
    got = kernel_distance(evaluated, reference, subsets=15, subset_size=subset_size)
    assert got == pytest.approx(expected, rel=1e-6)


def test_roles_matter_and_match_torch_fidelity_inputs():
    evaluated, reference = shifted_pair(seed=1)
    expected = torch_fidelity_kid(evaluated, reference, kid_subsets=10, kid_subset_size=40)
    swapped = torch_fidelity_kid(reference, evaluated, kid_subsets=10, kid_subset_size=40)
    got = kernel_distance(evaluated, reference, subsets=10, subset_size=40)
    assert got == pytest.approx(expected, rel=1e-6)
    assert got[0] != pytest.approx(swapped[0], rel=1e-6)  # the test can tell the roles apart


def test_kernel_parameters_and_seed_match_torch_fidelity():
    evaluated, reference = shifted_pair(seed=2)
    expected = torch_fidelity_kid(
        evaluated,
        reference,
        kid_subsets=8,
        kid_subset_size=60,
        kid_kernel_poly_degree=2,
        kid_kernel_poly_gamma=0.1,
        kid_kernel_poly_coef0=0.5,
        rng_seed=7,
    )
    got = kernel_distance(
        evaluated, reference, subsets=8, subset_size=60, degree=2, gamma=0.1, coef0=0.5, seed=7
    )
    assert got == pytest.approx(expected, rel=1e-6)


def test_float32_features_close_to_torch_fidelity_float32():
    # torch-fidelity keeps float32; this module computes in float64: close, not identical.
    evaluated, reference = (a.astype(np.float32) for a in shifted_pair(seed=3))
    expected = torch_fidelity_kid(evaluated, reference, kid_subsets=10, kid_subset_size=100)
    got = kernel_distance(evaluated, reference, subsets=10, subset_size=100)
    assert got[0] == pytest.approx(expected[0], rel=1e-4)


def test_blocks_and_reference_reuse_do_not_change_values():
    evaluated, reference = shifted_pair(seed=4)
    expected = kernel_distance(evaluated, reference, subsets=12, subset_size=50, block_size=4096)
    ref = KernelReference(reference, block_size=7)
    assert ref.distance(evaluated, subsets=12, subset_size=50) == pytest.approx(expected, rel=1e-10)
    # A second evaluated set of another size draws other reference subsets; then the first again.
    other = evaluated[:90] - 0.3
    assert ref.distance(other, subsets=12, subset_size=50) == pytest.approx(
        kernel_distance(other, reference, subsets=12, subset_size=50), rel=1e-10
    )
    assert ref.distance(evaluated, subsets=12, subset_size=50) == pytest.approx(expected, rel=1e-10)


def test_reference_caches_per_kernel():
    evaluated, reference = shifted_pair(seed=6)
    ref = KernelReference(reference)
    for degree, coef0 in [(3, 1.0), (2, 0.5), (3, 1.0)]:
        kwargs = {"subsets": 6, "subset_size": 40, "degree": degree, "coef0": coef0}
        expected = torch_fidelity_kid(
            evaluated,
            reference,
            kid_subsets=6,
            kid_subset_size=40,
            kid_kernel_poly_degree=degree,
            kid_kernel_poly_coef0=coef0,
        )
        assert ref.distance(evaluated, **kwargs) == pytest.approx(expected, rel=1e-6)


def test_same_distribution_is_near_zero_relative_to_a_shift():
    rng = np.random.default_rng(5)
    reference = rng.standard_normal((300, 16))
    same = rng.standard_normal((300, 16))
    shifted = rng.standard_normal((300, 16)) + 0.5
    ref = KernelReference(reference)
    kid_same, _ = ref.distance(same, subsets=20, subset_size=100)
    kid_shifted, _ = ref.distance(shifted, subsets=20, subset_size=100)
    assert kid_shifted > 0.1
    assert abs(kid_same) < 0.05 * kid_shifted


def test_default_seed_is_torch_fidelitys():
    assert DEFAULT_SEED == 2020


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subset_size": 200}, r"subset_size=200 is larger than a feature set"),
        ({"subset_size": 1}, "subset_size must be an integer >= 2"),
        ({"subsets": 0}, "subsets must be a positive integer"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"degree": 0}, "degree must be"),
        ({"gamma": -1.0}, "gamma must be a positive"),
        ({"block_size": 0}, "block_size must be"),
    ],
)
def test_invalid_parameters_raise(kwargs, message):
    evaluated, reference = shifted_pair()
    with pytest.raises(ValueError, match=message):
        kernel_distance(evaluated, reference, **kwargs)


@pytest.mark.parametrize(
    ("evaluated", "message"),
    [
        (np.zeros(10), "2-D array"),
        (np.array([[1 + 1j, 2.0], [1.0, 0.0]]), "real numeric"),
        (np.ones((20, 5)), "5 features but the reference has 24"),
        (np.full((20, 24), np.inf), r"NaN or infinity \(first at row 0\)"),
    ],
)
def test_invalid_features_raise(evaluated, message):
    _, reference = shifted_pair()
    with pytest.raises(ValueError, match=message):
        kernel_distance(evaluated, reference, subset_size=10)
