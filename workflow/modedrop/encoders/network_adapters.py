"""Adapters from networks to the encoder interface ``images -> (features, logits)``: timm
classifiers (features and logits) and backbones without a classifier head (features only)."""

from __future__ import annotations

import torch


class FeaturesAndLogits(torch.nn.Module):
    """Pre-logits features (after global pooling) and the classifier's logits of a timm model."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.network.forward_features(images)
        features = self.network.forward_head(maps, pre_logits=True)
        return features, self.network.get_classifier()(features)


class FeaturesOnly(torch.nn.Module):
    """A backbone whose forward already returns pooled features; no classifier head."""

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.flatten(self.backbone(images), 1), None


def load_features_only(spec, network: torch.nn.Module, path) -> torch.nn.Module:
    """``network`` with the weights of ``path`` loaded strictly, as a features-only encoder."""
    from modedrop.encoders.weights import load_state_dict_file, load_strict

    load_strict(spec, network, load_state_dict_file(spec, path), path)
    return FeaturesOnly(network).eval()
