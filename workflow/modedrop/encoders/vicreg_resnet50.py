"""VICReg ResNet-50 (Bardes, Ponce & LeCun, ICLR 2022): the official self-supervised backbone.

Weights: ``https://dl.fbaipublicfiles.com/vicreg/resnet50.pth``, the URL of the ``resnet50``
entry of facebookresearch/vicreg ``hubconf.py``, which loads it with ``strict=True`` into the
repository's own ``resnet.resnet50()``. No reference SHA-256 is published and the file name
carries no hash: the hash is logged and stored in every feature cache.

Key layout (facebookresearch/vicreg ``resnet.py``): ``ResNet`` has torchvision's module names
- ``conv1``, ``bn1``, ``layer1``..``layer4`` made of ``Bottleneck`` blocks with ``conv1..3``,
``bn1..3`` and ``downsample.0/1`` - and **no** ``fc``: its ``forward`` ends with
``avgpool`` and ``flatten`` and returns the 2048-d representation. Its only parameter-free
difference is the stem: a ``ConstantPad2d(1, 0)`` followed by ``conv1`` with ``padding=2``,
i.e. three pixels of zero padding, exactly torchvision's ``conv1`` (``padding=3``). The last
activation of ``layer4`` is ReLU by default (``last_activation="relu"``), as in torchvision;
the stride sits on the 3x3 convolution (``conv2``) as in torchvision's ResNet v1.5. So the
network here is torchvision's ``resnet50`` with ``fc`` replaced by ``Identity``, and the file
is loaded strictly into it (every key present, none extra); the test suite checks the padding
equivalence on random weights.

Preprocessing: ImageNet mean/std and bilinear resizing, as VICReg's linear evaluation
(facebookresearch/vicreg ``evaluate.py``: ``Resize(256)`` - torchvision's default bilinear -,
``CenterCrop(224)``, ``Normalize`` with the ImageNet statistics). For 178x218 CelebA faces the
shorter side is resized to 224 (not 256) before the 224 centre crop, so the whole width of the
face is kept; the ImageNet 256/224 protocol would cut about 12 % of it.

Outputs: 2048-d global-average-pooled features, no logits (a self-supervised backbone).
"""

from __future__ import annotations

from modedrop.encoders.base import IMAGENET_MEAN, IMAGENET_STD, EncoderSpec, Preprocessing, Weights
from modedrop.encoders.resnet50_features import ResNet50FeaturesBuilder

NAME = "vicreg_resnet50"
URL = "https://dl.fbaipublicfiles.com/vicreg/resnet50.pth"

SPEC = EncoderSpec(
    name=NAME,
    description=(
        "VICReg ResNet-50, official self-supervised ImageNet-1k backbone "
        "(facebookresearch/vicreg); 2048-d pooled features, no logits"
    ),
    feature_dim=2048,
    num_classes=None,
    preprocessing=Preprocessing(
        resize=224, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bilinear"
    ),
    weights=Weights(file_name="resnet50.pth", url=URL),
    build=ResNet50FeaturesBuilder(NAME),
)
