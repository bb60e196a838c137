"""torchvision's ImageNet Inception-v3 (``IMAGENET1K_V1``): an alternative to ``inception_v3``.

This is **not** the network of the IS/FID literature. torchvision's weights are "ported from
the original paper" but differ from the TF ``inception-2015-12-05`` graph that the published
Inception Scores and FIDs use (1000 instead of 1008 classes, different weights, no TF-specific
pooling), so IS and FID values computed with it differ from the literature's - use
``inception_v3`` to compare with published numbers. It is kept because it is the Inception-v3
most PyTorch users have at hand.

Weights: ``https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth``
(torchvision ``models/inception.py``, ``Inception_V3_Weights.IMAGENET1K_V1``); the file name's
``0cc3c7bd`` is the prefix of its SHA-256 (torch.hub's ``check_hash`` convention, which
torchvision applies when it downloads it). No full reference SHA-256 is published.

Key layout: torchvision's ``inception_v3(weights=IMAGENET1K_V1)`` forces ``aux_logits=True``,
``init_weights=False`` and ``transform_input=True`` and loads the file strictly, so the file
has every key of ``Inception3(aux_logits=True)`` including ``AuxLogits.*`` and ``fc`` (2048 ->
1000). It is loaded strictly into that network here; the auxiliary head is then dropped, as
torchvision does for ``aux_logits=False`` (it is only used in training).

Preprocessing: torchvision's evaluation transform for these weights is bilinear
``Resize(342)``, ``CenterCrop(299)`` and ImageNet mean/std (``ImageClassification(crop_size=299,
resize_size=342)``); ``transform_input=True`` then re-maps the ImageNet-normalised input to the
[-1, 1] range the ported weights expect. For 178x218 CelebA faces the shorter side is resized
to 299 (not 342) before the 299 centre crop, keeping the whole face width.

Outputs: 2048-d average-pooled features and the 1000 ImageNet logits (with the fc bias).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modedrop.encoders.base import IMAGENET_MEAN, IMAGENET_STD, EncoderSpec, Preprocessing, Weights

if TYPE_CHECKING:
    import torch

URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"


def network() -> torch.nn.Module:
    """torchvision's Inception3 as its IMAGENET1K_V1 builder configures it (random weights)."""
    import torchvision

    return torchvision.models.inception_v3(
        weights=None, aux_logits=True, transform_input=True, init_weights=False, num_classes=1000
    )


def build(path: Path) -> torch.nn.Module:
    import torch

    from modedrop.encoders.weights import load_state_dict_file, load_strict

    net = network()
    load_strict(SPEC, net, load_state_dict_file(SPEC, path), path)
    net.aux_logits, net.AuxLogits = False, None

    class PoolAndLogits(torch.nn.Module):
        """Inception3 whose ``fc`` is split off: (avgpool features, logits)."""

        def __init__(self, inception: torch.nn.Module):
            super().__init__()
            self.fc = inception.fc
            inception.fc = torch.nn.Identity()
            self.inception = inception

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            features = torch.flatten(self.inception(images), 1)  # eval: dropout is identity
            return features, self.fc(features)

    return PoolAndLogits(net).eval()


SPEC = EncoderSpec(
    name="inception_v3_torchvision",
    description=(
        "torchvision Inception-v3, ImageNet-1k IMAGENET1K_V1 weights; 2048-d pooled features, "
        "1000 logits. IS/FID values differ from the literature's (use inception_v3 for those)"
    ),
    feature_dim=2048,
    num_classes=1000,
    preprocessing=Preprocessing(
        resize=299, crop=299, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bilinear"
    ),
    weights=Weights(file_name="inception_v3_google-0cc3c7bd.pth", url=URL),
    build=build,
)
