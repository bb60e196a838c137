"""DINO ResNet-50 (Caron et al., ICCV 2021): the official self-supervised backbone.

Weights: ``https://dl.fbaipublicfiles.com/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth``
(the ``dino_resnet50`` entry of facebookresearch/dino ``hubconf.py``). No reference SHA-256 is
published and the file name carries no hash: the hash is logged and stored in every feature
cache.

Key layout: facebookresearch/dino ``hubconf.py`` builds ``torchvision.models.resnet50``,
replaces ``fc`` by ``Identity`` and loads the file with ``strict=False``. The file's actual keys
are torchvision's ResNet-50 keys **without** ``fc.weight``/``fc.bias``: before the hubconf was
changed, it loaded the file strictly into a ResNet-50 that still had ``fc`` and failed with
exactly ``Missing key(s) in state_dict: "fc.weight", "fc.bias"`` and no unexpected key
(facebookresearch/dino issue #11, fixed by commit 1d06521; the same report for
``eval_knn.py`` in issue #125). DINO trains the backbone with ``fc`` set to ``Identity``
(``MultiCropWrapper`` in facebookresearch/dino ``utils.py``) and its linear evaluation does
the same (``eval_linear.py``). So this
network is torchvision's ``resnet50`` with ``fc = Identity`` and the file is loaded strictly:
no tolerance is needed, and a file with any missing or extra key is refused with the key lists.

Preprocessing: ImageNet mean/std and bicubic resizing, as DINO's linear evaluation
(facebookresearch/dino ``eval_linear.py``: ``Resize(256, interpolation=3)`` - bicubic -,
``CenterCrop(224)``, ImageNet ``Normalize``). For 178x218 CelebA faces the shorter side is
resized to 224 (not 256) before the 224 centre crop, so the whole width of the face is kept.

Outputs: 2048-d global-average-pooled features, no logits.
"""

from __future__ import annotations

from modedrop.encoders.base import IMAGENET_MEAN, IMAGENET_STD, EncoderSpec, Preprocessing, Weights
from modedrop.encoders.resnet50_features import ResNet50FeaturesBuilder

NAME = "dino_resnet50"
URL = "https://dl.fbaipublicfiles.com/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth"

SPEC = EncoderSpec(
    name=NAME,
    description=(
        "DINO ResNet-50, official self-supervised ImageNet-1k backbone "
        "(facebookresearch/dino); 2048-d pooled features, no logits"
    ),
    feature_dim=2048,
    num_classes=None,
    preprocessing=Preprocessing(
        resize=224, crop=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation="bicubic"
    ),
    weights=Weights(file_name="dino_resnet50_pretrain.pth", url=URL),
    build=ResNet50FeaturesBuilder(NAME),
)
