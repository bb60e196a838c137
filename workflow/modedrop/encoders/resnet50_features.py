"""torchvision's ResNet-50 without ``fc`` as a features-only encoder: the network of the official
VICReg (Bardes, Ponce & LeCun, ICLR 2022) and DINO (Caron et al., ICCV 2021) checkpoints, whose
registry entries differ only in their weights and preprocessing (docs/encoders.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def resnet50_without_fc() -> torch.nn.Module:
    """torchvision's ResNet-50 with ``fc = Identity``: the backbone layout of the official VICReg
    (``resnet.resnet50()``) and DINO (hubconf, ``eval_linear.py``) checkpoints."""
    import torch
    import torchvision

    network = torchvision.models.resnet50(weights=None)
    network.fc = torch.nn.Identity()
    return network


@dataclass(frozen=True)
class ResNet50FeaturesBuilder:
    """``build(path)`` of the registry entry named ``encoder``: :func:`resnet50_without_fc` with
    the weights of ``path`` loaded strictly, returning pooled features and no logits.

    The entry is looked up when building (it holds this builder, so it cannot be passed in);
    its name and published URL go into the error messages of a file that does not fit.
    """

    encoder: str

    def __call__(self, path: Path) -> torch.nn.Module:
        from modedrop.encoders import get_encoder
        from modedrop.encoders.network_adapters import load_features_only

        return load_features_only(get_encoder(self.encoder), resnet50_without_fc(), path)
