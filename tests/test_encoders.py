"""The offline EfficientNet-Lite0 encoder: key mapping, weights, preprocessing, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modedrop.encoders import ENCODERS, get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.efficientnet_lite0 import convert_state_dict, rename_key, weights_path
from modedrop.encoders.weights import locate_weights


@pytest.fixture(scope="module")
def encoder():
    spec = get_encoder("efficientnet_lite0")
    return spec.build(locate_weights(spec, allow_download=False))


def test_registry_entry_describes_outputs():
    spec = get_encoder("efficientnet_lite0")
    assert (spec.feature_dim, spec.num_classes, spec.has_logits) == (1280, 1000, True)
    assert file_sha256(locate_weights(spec)) == spec.weights.sha256
    with pytest.raises(KeyError, match="known encoders"):
        get_encoder("vgg_from_mars")
    assert set(ENCODERS) >= {
        "efficientnet_lite0",
        "vicreg_resnet50",
        "dino_resnet50",
        "inception_v3",
        "inception_v3_torchvision",
    }


@pytest.mark.parametrize(
    ("name", "dim", "classes"),
    [
        ("vicreg_resnet50", 2048, None),
        ("dino_resnet50", 2048, None),
        ("inception_v3", 2048, 1008),
        ("inception_v3_torchvision", 2048, 1000),
    ],
)
def test_pretrained_registry_entries(name, dim, classes):
    spec = get_encoder(name)
    assert (spec.feature_dim, spec.num_classes, spec.has_logits) == (dim, classes, bool(classes))
    assert spec.weights.url and spec.weights.file_name


def test_key_mapping_covers_every_weight_exactly_once():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    renamed = convert_state_dict(state)
    assert len(renamed) == len(state) == 296
    assert rename_key("_blocks.0._depthwise_conv.weight") == "blocks.0.0.conv_dw.weight"
    assert rename_key("_blocks.3._expand_conv.weight") == "blocks.2.0.conv_pw.weight"
    assert rename_key("_blocks.15._project_conv.weight") == "blocks.6.0.conv_pwl.weight"
    with pytest.raises(KeyError):
        rename_key("_blocks.16._bn0.weight")


def test_outputs_have_registry_shapes(encoder):
    with torch.inference_mode():
        features, logits = encoder(torch.zeros(2, 3, 224, 224))
    assert features.shape == (2, 1280) and logits.shape == (2, 1000)


def test_cat_photo_is_classified_as_a_cat(encoder):
    """scikit-image's chelsea() must land in ImageNet's domestic-cat classes 281-285."""
    skimage_data = pytest.importorskip("skimage.data")
    image = torch.from_numpy(np.ascontiguousarray(skimage_data.chelsea())).permute(2, 0, 1)
    batch = get_encoder("efficientnet_lite0").preprocessing(image)[None]
    with torch.inference_mode():
        _, logits = encoder(batch)
    top = int(logits.argmax())
    assert 281 <= top <= 285, f"predicted ImageNet class {top}"
    assert float(logits.softmax(1)[0, 281:286].sum()) > 0.8


def test_matches_the_reference_implementation_of_these_weights(encoder):
    """efficientnet_lite_pytorch (the weights' own implementation) gives the same logits."""
    reference_module = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_module.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(weights_path())
    ).eval()
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference(x)
        _, logits = encoder(x)
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_preprocessing_keeps_width_and_centres_height():
    spec = get_encoder("efficientnet_lite0").preprocessing
    image = torch.zeros(3, 218, 178, dtype=torch.uint8)
    image[:, :, :10] = 255  # a white stripe on the left edge must survive the crop
    out = spec(image)
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert float(out[:, :, 0].mean()) > 0.9  # white -> +1 after mean = std = 0.5
    assert float(out.min()) >= -1.0001 and float(out.max()) <= 1.0001
