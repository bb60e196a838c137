"""The IS formula on an encoder's features: agreement with torchmetrics' InceptionScore.

Haratian (2024), "RankMe for Detecting Mode-Drop in Generative AI", computes "VicReg + IS" and
"Dino + IS" as torchmetrics' ``InceptionScore`` with the encoder as its feature network: the
softmax over the feature dimensions. torchmetrics 1.9.0 (``InceptionScore.compute``) permutes
the rows with ``torch.randperm``, cuts them with ``torch.chunk`` (equal chunks when N is a
multiple of ``splits``), works in the dtype of the features it is given and returns the ddof=1
std over the chunks; ours shuffles with numpy (torch-fidelity's convention), works in float64
and returns the ddof=0 std. The tests feed both the same rows in the same order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics.image.inception import InceptionScore as TorchmetricsInceptionScore

from modedrop.evaluate.inception_score_features import evaluate
from modedrop.jobs import JobInputs
from modedrop.metrics import METRICS
from modedrop.metrics.inception_score import inception_score

SPLITS = 10


class _FeatureRows(torch.nn.Module):
    """A stand-in feature network: maps a batch of row indices to those rows of a matrix.

    torchmetrics passes ``update``'s argument unchanged to the network when ``normalize`` is
    False, so the "images" are an int64 index tensor and the "features" are exactly the given
    rows, in the given dtype.
    """

    def __init__(self, features: torch.Tensor):
        super().__init__()
        self.register_buffer("features", features)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.features[index]


def _torchmetrics_and_ours(features: np.ndarray, dtype: torch.dtype, seed: int):
    """(torchmetrics mean, std) and our result on the rows in torchmetrics' compute order."""
    n = features.shape[0]
    assert n % SPLITS == 0, "torch.chunk and our i*N//splits boundaries agree only then"
    metric = TorchmetricsInceptionScore(
        feature=_FeatureRows(torch.from_numpy(features).to(dtype)), splits=SPLITS
    )
    for batch in torch.arange(n).split(256):
        metric.update(batch)
    torch.manual_seed(seed)
    tm_mean, tm_std = metric.compute()
    torch.manual_seed(seed)
    order = torch.randperm(n).numpy()  # the permutation compute() drew
    ours = inception_score(features[order], splits=SPLITS, shuffle=False)
    return float(tm_mean), float(tm_std), ours


def _pooled_features(n: int, d: int, scale: float, seed: int) -> np.ndarray:
    """Non-negative rows like post-ReLU pooled CNN features (about half the entries zero)."""
    rng = np.random.default_rng(seed)
    return (scale * np.maximum(rng.standard_normal((n, d)), 0.0)).astype(np.float32)


# scale 1: the softmax is nearly flat (IS ~ 1.35); scale 10: peaked, IS ~ 88 over 1280 dims.
CASES = [(1000, 1280, 1.0), (1000, 1280, 10.0), (500, 2048, 3.0)]


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save all extracted features")
@pytest.mark.parametrize(("n", "d", "scale"), CASES)
def test_matches_torchmetrics_float32_features(n, d, scale):
    # float32, the feature cache's dtype: torchmetrics computes in float32, ours in float64.
    # Measured (torchmetrics 1.9.0): mean within 2.2e-7 relative, std (a spread of near-equal
    # scores, so float32 cancellation) within 5e-6.
    features = _pooled_features(n, d, scale, seed=d + int(scale))
    tm_mean, tm_std, ours = _torchmetrics_and_ours(features, torch.float32, seed=7)
    assert ours.mean == pytest.approx(tm_mean, rel=1e-6)
    assert ours.std * math.sqrt(SPLITS / (SPLITS - 1)) == pytest.approx(tm_std, rel=5e-5)


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save all extracted features")
@pytest.mark.parametrize(("n", "d", "scale"), CASES)
def test_matches_torchmetrics_float64_features(n, d, scale):
    # The same rows given to torchmetrics in float64: only summation order differs.
    features = _pooled_features(n, d, scale, seed=d + int(scale))
    tm_mean, tm_std, ours = _torchmetrics_and_ours(features, torch.float64, seed=11)
    assert ours.mean == pytest.approx(tm_mean, rel=1e-10)
    assert ours.std * math.sqrt(SPLITS / (SPLITS - 1)) == pytest.approx(tm_std, rel=1e-9)


def test_registry_entry():
    spec = METRICS["inception_score_features"]
    assert spec.input == "features"
    assert not spec.reference and not spec.identities
    assert [(o.name, o.worse) for o in spec.outputs] == [("inception_score_features", "lower")]
    assert spec.module == "modedrop.evaluate.inception_score_features"
    names = list(METRICS)
    assert names.index("inception_score_features") == names.index("inception_score") + 1


def test_evaluate_scores_every_condition_like_inception_score():
    params = {"encoders": ["vicreg_resnet50"], "splits": 5, "shuffle": True, "rng_seed": 2020}
    sets = {
        "unbiased": _pooled_features(120, 64, 3.0, seed=1),
        "target": _pooled_features(90, 64, 3.0, seed=2)[:, ::-1].copy(),
        "nontarget": _pooled_features(100, 64, 0.5, seed=3),
    }
    names = {c: [f"{c}_{i:04d}.png" for i in range(len(x))] for c, x in sets.items()}
    values, details = evaluate(JobInputs(names, sets), params)

    assert list(values) == list(sets)
    assert list(details) == list(sets)
    for condition, features in sets.items():
        direct = inception_score(features, splits=5, shuffle=True, rng_seed=2020)
        assert values[condition] == {"inception_score_features": direct.mean}
        assert details[condition] == {"std_over_splits": direct.std}
    # The three sets differ, so do their scores.
    assert len({v["inception_score_features"] for v in values.values()}) == 3
