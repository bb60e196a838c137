"""The pretrained encoders load their official checkpoint layouts and compute what they should.

No network: each test writes a randomly initialised state dict in the official key layout,
loads it through the real code path (``locate_weights`` + ``spec.build``) and compares the
outputs with a reference implementation of the same random weights.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from modedrop.encoders import ENCODERS, get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.weights import WeightsFormatError, locate_weights


def randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and batch-norm statistics, so that every tensor of the file matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("bn.weight") or ".bn" in name and name.endswith("weight"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                scale = 0.1 if name.endswith(("bias", "running_mean")) else 1.0
                fan_in = tensor[0].numel() if tensor.dim() > 1 else 1
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * scale / fan_in**0.5)
    return module.eval()


def resnet50_without_fc(seed: int) -> torch.nn.Module:
    network = torchvision.models.resnet50(weights=None)
    network.fc = torch.nn.Identity()
    return randomise(network, seed)


def load(name: str, path):
    """Locate (a configured path) and build, as extraction does.

    Random weights cannot have the published hash: for entries with a reference hash the
    file is passed to ``build`` directly (hash checks are tested in test_weights.py).
    """
    spec = get_encoder(name)
    if spec.weights.expected_prefix is None:
        path = locate_weights(spec, configured=path)
    return spec.build(path)


def without_reference_hash(monkeypatch, name: str) -> None:
    """Let a random-weights file through ``locate_weights`` for this test."""
    spec = get_encoder(name)
    weights = dataclasses.replace(spec.weights, file_name="random.pth", sha256=None)
    monkeypatch.setitem(ENCODERS, name, dataclasses.replace(spec, weights=weights))


# ----- VICReg ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vicreg_file(tmp_path_factory):
    """A random backbone in the layout of facebookresearch/vicreg resnet.py (no fc)."""
    reference = resnet50_without_fc(seed=1)
    path = tmp_path_factory.mktemp("vicreg") / "resnet50.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_vicreg_layout_has_no_classifier_and_loads_strictly(vicreg_file):
    path, reference = vicreg_file
    state = torch.load(path, weights_only=True)
    assert not any(key.startswith("fc.") for key in state)
    assert {key.split(".")[0] for key in state} == {
        "conv1",
        "bn1",
        *(f"layer{i}" for i in range(1, 5)),
    }
    assert "layer1.0.downsample.0.weight" in state and "layer4.2.bn3.running_var" in state
    encoder = load("vicreg_resnet50", path)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        features, logits = encoder(x)
    assert features.shape == (2, get_encoder("vicreg_resnet50").feature_dim) == (2, 2048)
    assert logits is None


def test_vicreg_stem_padding_matches_torchvision(vicreg_file):
    """VICReg pads by 1 (ConstantPad2d) then convolves with padding 2: torchvision's padding 3."""
    path, reference = vicreg_file
    vicreg_style = copy.deepcopy(reference)
    conv = vicreg_style.conv1
    stem = torch.nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=2, bias=False)
    stem.weight = conv.weight
    vicreg_style.conv1 = torch.nn.Sequential(torch.nn.ConstantPad2d(1, 0.0), stem)
    encoder = load("vicreg_resnet50", path)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        features, _ = encoder(x)
        expected = vicreg_style(x)
    torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-5)
    assert float(features.abs().mean()) > 0


# ----- DINO ------------------------------------------------------------------------------------


def test_dino_layout_is_torchvision_without_fc(tmp_path):
    """The DINO file: torchvision ResNet-50 keys minus fc.weight/fc.bias (dino issue #11)."""
    full = randomise(torchvision.models.resnet50(weights=None), seed=2)
    state = {k: v for k, v in full.state_dict().items() if not k.startswith("fc.")}
    assert len(full.state_dict()) - len(state) == 2
    path = tmp_path / "dino_resnet50_pretrain.pth"
    torch.save(state, path)
    encoder = load("dino_resnet50", path)
    full.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        features, logits = encoder(x)
        expected = full(x)
    assert features.shape == (2, get_encoder("dino_resnet50").feature_dim) and logits is None
    torch.testing.assert_close(features, expected, rtol=1e-5, atol=1e-5)


# ----- key checking ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", r"1 missing key\(s\) \(layer4\.2\.bn3\.running_var\)"),
        ("extra", r"2 unexpected key\(s\) \(fc\.bias, fc\.weight\)"),
        ("renamed", r"missing key\(s\) \(conv1\.weight\).*unexpected key\(s\) \(stem\.weight\)"),
        ("prefixed", r"318 unexpected key\(s\) \(module\.bn1\.bias.*prefix 'module\.'"),
    ],
)
def test_wrong_key_layout_is_refused_with_the_keys(vicreg_file, tmp_path, change, message):
    path, _ = vicreg_file
    state = torch.load(path, weights_only=True)
    if change == "missing":
        del state["layer4.2.bn3.running_var"]
    elif change == "extra":
        state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    elif change == "renamed":
        state["stem.weight"] = state.pop("conv1.weight")
    else:
        state = {f"module.{k}": v for k, v in state.items()}
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(WeightsFormatError, match=message) as error:
        load("vicreg_resnet50", bad)
    assert "vicreg_resnet50" in str(error.value) and str(bad) in str(error.value)


def test_wrong_shape_and_unreadable_files_are_refused(vicreg_file, tmp_path):
    path, _ = vicreg_file
    state = torch.load(path, weights_only=True)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    bad = tmp_path / "shape.pth"
    torch.save(state, bad)
    with pytest.raises(WeightsFormatError, match="size mismatch"):
        load("dino_resnet50", bad)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsFormatError, match="cannot read"):
        load("dino_resnet50", garbage)
    pickled = tmp_path / "object.pth"
    torch.save({"model": {"nested": object()}}, pickled)  # needs weights_only=False
    with pytest.raises(WeightsFormatError, match="weights_only=True"):
        load("dino_resnet50", pickled)


# ----- Inception-v3 (torch-fidelity / pytorch-fid layout) ---------------------------------------


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    from modedrop.encoders.inception_v3 import network

    reference = randomise(network(), seed=3)
    with torch.no_grad():
        reference.fc.bias.normal_(0.0, 1.0)  # a bias that must NOT reach the logits
    path = tmp_path_factory.mktemp("inception") / "weights-inception-2015-12-05-6726825d.pth"
    torch.save(reference.state_dict(), path)
    return path


def test_inception_matches_torch_fidelity(inception_file):
    """Same (pool3, logits_unbiased) as torch-fidelity's extractor on the same weights."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    reference = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased", "logits"],
        feature_extractor_weights_path=str(inception_file),
    )
    encoder = load("inception_v3", inception_file)
    spec = get_encoder("inception_v3")
    x = torch.randint(
        0, 256, (2, 3, 218, 178), dtype=torch.uint8, generator=torch.Generator().manual_seed(3)
    )
    with torch.inference_mode():
        features, logits = encoder(x)
        ref_features, ref_unbiased, ref_logits = reference(x)
    assert features.shape == (2, spec.feature_dim) and logits.shape == (2, spec.num_classes)
    torch.testing.assert_close(features, ref_features, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(logits, ref_unbiased, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(logits, ref_logits, atol=1e-2)  # the bias is left out
    with pytest.raises(ValueError, match="uint8"):
        encoder(x.float())


def test_inception_layout_is_pytorch_fids_too():
    """pytorch-fid loads the same file into torchvision's Inception3(1008 classes, no aux)."""
    from modedrop.encoders.inception_v3 import network

    pytorch_fid_layout = torchvision.models.inception_v3(
        weights=None, num_classes=1008, aux_logits=False, init_weights=False
    )
    assert set(network().state_dict()) == set(pytorch_fid_layout.state_dict())


def test_inception_gets_raw_images_at_native_size():
    preprocessing = get_encoder("inception_v3").preprocessing
    image = torch.randint(0, 256, (3, 218, 178), dtype=torch.uint8)
    assert torch.equal(preprocessing(image), image)
    described = json.loads(preprocessing.to_json())
    assert described["output_dtype"] == "uint8" and described["resize"] is None
    assert "299" in described["in_network"]


def test_extraction_feeds_uint8_batches(inception_file, tmp_path, monkeypatch):
    without_reference_hash(monkeypatch, "inception_v3")
    from torchvision.transforms.v2.functional import pil_to_tensor

    from modedrop.extraction import extract_features
    from modedrop.features import FeatureCache

    rng = np.random.default_rng(0)
    names = [f"{i:06d}.png" for i in range(3)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (59, 48, 3), dtype=np.uint8)).save(tmp_path / name)
    out = tmp_path / "inception_v3.h5"
    extract_features(
        tmp_path, names, "inception_v3", out, weights=inception_file, batch_size=2, progress=False
    )
    with FeatureCache(out) as cache:
        features, logits, attrs = cache.features(names), cache.logits(names), cache.attrs
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    assert attrs["weights_sha256"] == file_sha256(inception_file)
    assert attrs["preprocessing"]["output_dtype"] == "uint8"
    encoder = get_encoder("inception_v3").build(inception_file)
    batch = torch.stack([pil_to_tensor(Image.open(tmp_path / n)) for n in names])
    with torch.inference_mode():
        expected, _ = encoder(batch)
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-4, atol=1e-5)


# ----- torchvision Inception-v3 (alternative) ---------------------------------------------------


def test_torchvision_inception_loads_imagenet_layout(tmp_path):
    from modedrop.encoders.inception_v3_torchvision import network

    reference = randomise(network(), seed=4)
    state = reference.state_dict()
    assert any(key.startswith("AuxLogits.") for key in state)  # the published file has them
    path = tmp_path / "inception_v3_google-0cc3c7bd.pth"
    torch.save(state, path)
    encoder = load("inception_v3_torchvision", path)
    pooled = {}
    reference.avgpool.register_forward_hook(lambda m, i, o: pooled.update(x=o.flatten(1)))
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        features, logits = encoder(x)
        expected_logits = reference(x)
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)
    torch.testing.assert_close(features, pooled["x"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits, expected_logits, rtol=1e-5, atol=1e-5)


# ----- preprocessing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "interpolation", "size"),
    [
        ("vicreg_resnet50", "bilinear", 224),
        ("dino_resnet50", "bicubic", 224),
        ("inception_v3_torchvision", "bilinear", 299),
    ],
)
def test_resnet_preprocessing_keeps_the_face_width(name, interpolation, size):
    preprocessing = get_encoder(name).preprocessing
    assert preprocessing.interpolation == interpolation
    assert preprocessing.mean == (0.485, 0.456, 0.406) and preprocessing.std == (
        0.229,
        0.224,
        0.225,
    )
    image = torch.zeros(3, 218, 178, dtype=torch.uint8)
    image[:, :, :6] = 255  # a white stripe on the left edge survives the crop
    out = preprocessing(image)
    assert out.shape == (3, size, size) and out.dtype == torch.float32
    assert float(out[0, :, 0].mean()) == pytest.approx((1 - 0.485) / 0.229, rel=1e-3)
