"""The Inception-v3 of the IS/FID literature (TensorFlow ``inception-2015-12-05`` graph).

Weights: the TF 2015-12-05 Inception weights converted to PyTorch, as torch-fidelity downloads
them (``URL_INCEPTION_V3`` in toshas/torch-fidelity
``torch_fidelity/feature_extractor_inceptionv3.py``:
``https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth``).
pytorch-fid publishes the same conversion as ``pt_inception-2015-12-05-6726825d.pth``
(``FID_WEIGHTS_URL`` in mseitzer/pytorch-fid ``src/pytorch_fid/inception.py``); both names carry
the SHA-256 prefix ``6726825d`` (torch.hub convention), which is what is checked - no full
reference SHA-256 is published. Either file can be configured as ``encoders.inception_v3.weights``.

Key layout: the state dict of torch-fidelity's ``FeatureExtractorInceptionV3``, which loads the
file strictly (``load_state_dict`` default): ``Conv2d_1a_3x3``, ``Conv2d_2a_3x3``,
``Conv2d_2b_3x3``, ``Conv2d_3b_1x1``, ``Conv2d_4a_3x3`` (each ``BasicConv2d``: ``conv`` without
bias and ``bn`` with eps 1e-3), ``Mixed_5b``..``Mixed_7c`` (branch names of torchvision's
Inception blocks) and ``fc`` (2048 -> 1008, the TF graph's 1008 classes); no ``AuxLogits``.
pytorch-fid's ``fid_inception_v3()`` loads the same file strictly into torchvision's
``inception_v3(num_classes=1008, aux_logits=False)`` with patched blocks - the same key set,
which the test suite checks. The network below is assembled from torch-fidelity's own blocks
(``BasicConv2d``, ``InceptionA``..``InceptionD``, ``InceptionE_1``/``InceptionE_2``, which
carry TF's average-pool-without-padding and the max pool of the last block) under the same
attribute names, and the file is loaded with ``torch.load(..., weights_only=True)`` and a
strict key check. (``FeatureExtractorInceptionV3`` itself is not used because its constructor
always downloads or calls ``torch.load(..., weights_only=False)``.)

Preprocessing - inside the network, as in torch-fidelity: the input is the uint8 image at its
native size; it is resized to 299x299 with TensorFlow 1.x's bilinear resize
(``interpolate_bilinear_2d_like_tensorflow1x``, no antialiasing, ``align_corners=False``) and
mapped to [-1, 1] by ``(x - 128) / 128``. The whole 178x218 CelebA face is squashed to a
square (no crop), which is what FID/IS implementations do with non-square images. The forward
pass runs in float32 even under a bf16 autocast, so that values stay comparable with the
literature's.

Outputs: ``features`` = pool3, the 2048-d global average pool (torch-fidelity's ``'2048'``,
the FID/KID feature). ``logits`` = torch-fidelity's ``'logits_unbiased'``: the 1008 class
scores ``pool3 @ fc.weight.T`` **without** the fc bias. That is the feature torch-fidelity's
Inception Score uses (``get_default_feature_layer_for_metric('isc') == 'logits_unbiased'``;
``torch_fidelity/metric_isc.py`` applies the softmax to it), following the original
TensorFlow IS code (openai/improved-gan ``inception_score/model.py``: ``tf.matmul(pool3, w)``
with ``w`` the weight input of ``softmax/logits/MatMul``, no bias).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights

if TYPE_CHECKING:
    import torch

URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
INPUT_SIZE = 299
NUM_CLASSES = 1008


def network() -> torch.nn.Module:
    """The FID Inception-v3 with torch-fidelity's module names, randomly initialised."""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import (
        BasicConv2d,
        InceptionA,
        InceptionB,
        InceptionC,
        InceptionD,
        InceptionE_1,
        InceptionE_2,
    )
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    class FIDInceptionV3(torch.nn.Module):
        """uint8 images of any size -> (pool3 features [N, 2048], unbiased logits [N, 1008])."""

        def __init__(self):
            super().__init__()
            self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
            self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
            self.MaxPool_1 = torch.nn.MaxPool2d(kernel_size=3, stride=2)
            self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
            self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
            self.MaxPool_2 = torch.nn.MaxPool2d(kernel_size=3, stride=2)
            self.Mixed_5b = InceptionA(192, pool_features=32)
            self.Mixed_5c = InceptionA(256, pool_features=64)
            self.Mixed_5d = InceptionA(288, pool_features=64)
            self.Mixed_6a = InceptionB(288)
            self.Mixed_6b = InceptionC(768, channels_7x7=128)
            self.Mixed_6c = InceptionC(768, channels_7x7=160)
            self.Mixed_6d = InceptionC(768, channels_7x7=160)
            self.Mixed_6e = InceptionC(768, channels_7x7=192)
            self.Mixed_7a = InceptionD(768)
            self.Mixed_7b = InceptionE_1(1280)
            self.Mixed_7c = InceptionE_2(2048)
            self.AvgPool = torch.nn.AdaptiveAvgPool2d(output_size=(1, 1))
            self.fc = torch.nn.Linear(2048, NUM_CLASSES)

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(
                    "inception_v3 takes uint8 RGB images [N, 3, H, W] in [0, 255], got "
                    f"{images.dtype} {tuple(images.shape)}"
                )
            with torch.autocast(images.device.type, enabled=False):
                x = images.to(torch.float32)
                x = interpolate_bilinear_2d_like_tensorflow1x(
                    x, size=(INPUT_SIZE, INPUT_SIZE), align_corners=False
                )
                x = (x - 128) / 128
                for layer in (
                    self.Conv2d_1a_3x3,
                    self.Conv2d_2a_3x3,
                    self.Conv2d_2b_3x3,
                    self.MaxPool_1,
                    self.Conv2d_3b_1x1,
                    self.Conv2d_4a_3x3,
                    self.MaxPool_2,
                    self.Mixed_5b,
                    self.Mixed_5c,
                    self.Mixed_5d,
                    self.Mixed_6a,
                    self.Mixed_6b,
                    self.Mixed_6c,
                    self.Mixed_6d,
                    self.Mixed_6e,
                    self.Mixed_7a,
                    self.Mixed_7b,
                    self.Mixed_7c,
                    self.AvgPool,
                ):
                    x = layer(x)
                features = torch.flatten(x, 1)
                logits = features.mm(self.fc.weight.T)  # torch-fidelity's 'logits_unbiased'
            return features, logits

    return FIDInceptionV3()


def build(path: Path) -> torch.nn.Module:
    from modedrop.encoders.weights import load_state_dict_file, load_strict

    model = network()
    load_strict(SPEC, model, load_state_dict_file(SPEC, path), path)
    return model.eval()


SPEC = EncoderSpec(
    name="inception_v3",
    description=(
        "Inception-v3 of the IS/FID literature (TF inception-2015-12-05 weights as converted "
        "by torch-fidelity/pytorch-fid); 2048-d pool3 features, 1008 logits without the fc "
        "bias (torch-fidelity's Inception Score input)"
    ),
    feature_dim=2048,
    num_classes=NUM_CLASSES,
    # uint8 at native size: the TF-compatible resize and normalisation happen in the network.
    preprocessing=Preprocessing(
        interpolation="bilinear",
        in_network=(
            "uint8 at native size; TF1-compatible bilinear resize to 299x299 "
            "(align_corners=False, no antialiasing), then (x - 128) / 128, float32"
        ),
    ),
    weights=Weights(file_name="weights-inception-2015-12-05-6726825d.pth", url=URL),
    build=build,
)
