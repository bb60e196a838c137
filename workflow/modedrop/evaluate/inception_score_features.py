"""The Inception Score formula on an encoder's own features, every condition of one seed.

Haratian (2024), "RankMe for Detecting Mode-Drop in Generative AI", pairs RankMe with the
Inception Score computed on the same self-supervised encoder ("VicReg + IS", "Dino + IS",
Figures 2-5): the encoder's N x D feature matrix is treated as logits, i.e. ``p(y|x)`` is the
softmax over the D feature dimensions, and (Salimans et al. 2016, "Improved Techniques for
Training GANs")::

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y|x) = softmax(z(x)),   p(y) = E_x p(y|x)

where ``z(x)`` is the D-dimensional feature vector of image ``x``. This is what torchmetrics'
``InceptionScore`` computes when given a custom feature network. The numbers come from the same
function as the classifier-based family, :func:`modedrop.metrics.inception_score.inception_score`
(torch-fidelity conventions: ``splits`` contiguous chunks of the rows, shuffled first with
``numpy.random.RandomState(rng_seed).permutation`` when ``shuffle``, float64, mean and ddof=0
std over the chunks); torchmetrics permutes with ``torch.randperm`` and reports the ddof=1 std.

The "classes" are feature dimensions, not ImageNet classes, and the scale of the features (a
post-ReLU pooled ResNet vector, say) sets how peaked the softmax is: these values are **not
comparable with Inception-v3 Inception Scores**, nor between encoders; only the ordering of the
conditions of one encoder carries meaning.
"""

from __future__ import annotations

from collections.abc import Mapping

from modedrop.jobs import JobInputs, Values
from modedrop.metrics.inception_score import inception_score as score


def evaluate(inputs: JobInputs, params: Mapping) -> tuple[Values, dict]:
    values, details = {}, {}
    for condition, features in inputs.sets.items():
        result = score(
            features,
            splits=params["splits"],
            shuffle=params["shuffle"],
            rng_seed=params["rng_seed"],
        )
        values[condition] = {"inception_score_features": result.mean}
        details[condition] = {"std_over_splits": result.std}
    return values, details
