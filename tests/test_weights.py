"""Finding weights files: configured path, Torch hub cache, one download, clear failures."""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import torch

from modedrop.encoders import ENCODERS, get_encoder
from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights, file_sha256
from modedrop.encoders.weights import (
    WeightsHashError,
    WeightsNotFoundError,
    check_configured_weights,
    hub_cache_path,
    locate_weights,
)

PAYLOAD = b"pretend these are weights" * 100
SHA = hashlib.sha256(PAYLOAD).hexdigest()
URL_BASE = "https://weights.example.invalid/models/"


def tiny_spec(file_name: str | None = None, sha256: str | None = None) -> EncoderSpec:
    file_name = file_name or f"tiny-{SHA[:8]}.pth"
    return EncoderSpec(
        name="tiny",
        description="test encoder",
        feature_dim=4,
        num_classes=None,
        preprocessing=Preprocessing(),
        weights=Weights(file_name=file_name, url=URL_BASE + file_name, sha256=sha256),
        build=lambda path: torch.nn.Identity(),
    )


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty Torch hub directory (TORCH_HOME) for the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert torch.hub.get_dir() == str(tmp_path / "torch" / "hub")
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def offline(monkeypatch):
    calls = []

    def refuse(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return calls


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_registry_describes_published_files():
    assert get_encoder("inception_v3").weights.expected_prefix == "6726825d"
    assert get_encoder("inception_v3_torchvision").weights.expected_prefix == "0cc3c7bd"
    for name in ("vicreg_resnet50", "dino_resnet50"):
        weights = get_encoder(name).weights
        assert weights.url.startswith("https://dl.fbaipublicfiles.com/")
        assert weights.expected_prefix is None  # no reference hash is pinned
        assert weights.describe_reference() == "no reference hash pinned"
    for spec in ENCODERS.values():
        assert spec.weights.url or spec.weights.packaged
        if spec.weights.url:
            assert spec.weights.url.endswith("/" + spec.weights.file_name)


def test_packaged_weights_are_verified_against_the_pinned_hash():
    spec = get_encoder("efficientnet_lite0")
    path = locate_weights(spec, allow_download=False)
    assert file_sha256(path) == spec.weights.sha256


def test_configured_path_is_used_and_verified(tmp_path, offline):
    good = tmp_path / "anything.pth"
    good.write_bytes(PAYLOAD)
    assert locate_weights(tiny_spec(), configured=good) == good
    assert locate_weights(tiny_spec(sha256=SHA), configured=str(good)) == good
    assert offline == []


def test_configured_path_missing_names_path_and_encoder(tmp_path, offline):
    missing = tmp_path / "nowhere" / "weights.pth"
    with pytest.raises(WeightsNotFoundError) as error:
        locate_weights(tiny_spec(), configured=missing)
    text = str(error.value)
    assert str(missing) in text and "'tiny'" in text and "encoders.tiny.weights" in text
    assert offline == []


def test_hash_prefix_mismatch_says_expected_and_actual(tmp_path):
    other = tmp_path / "other.pth"
    other.write_bytes(b"a different checkpoint")
    actual = hashlib.sha256(b"a different checkpoint").hexdigest()
    with pytest.raises(WeightsHashError) as error:
        locate_weights(tiny_spec(), configured=other)
    text = str(error.value)
    assert actual in text and f"starting with {SHA[:8]}" in text
    assert "encoders.tiny.weights" in text


def test_unpinned_hash_is_logged(tmp_path, caplog):
    path = tmp_path / "w.pth"
    path.write_bytes(PAYLOAD)
    with caplog.at_level(logging.INFO, logger="modedrop.encoders.weights"):
        locate_weights(tiny_spec(file_name="plain.pth"), configured=path)
    assert SHA in caplog.text and "no reference hash" in caplog.text


def test_file_in_hub_cache_is_found_without_network(hub, offline):
    spec = tiny_spec()
    hub.mkdir(parents=True)
    (hub / spec.weights.file_name).write_bytes(PAYLOAD)
    assert hub_cache_path(spec) == hub / spec.weights.file_name
    assert locate_weights(spec, allow_download=False) == hub / spec.weights.file_name
    assert offline == []


def test_corrupt_file_in_hub_cache_is_refused(hub):
    spec = tiny_spec()
    hub.mkdir(parents=True)
    (hub / spec.weights.file_name).write_bytes(PAYLOAD[:-1])
    with pytest.raises(WeightsHashError, match="Delete it"):
        locate_weights(spec)


def test_download_lands_in_hub_cache_once(hub, monkeypatch):
    spec = tiny_spec()
    calls = []

    def serve(url, timeout=None):
        calls.append((url, timeout))
        return FakeResponse(PAYLOAD)

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    path = locate_weights(spec)
    assert path == hub / spec.weights.file_name and path.read_bytes() == PAYLOAD
    assert calls == [(spec.weights.url, 30)]
    assert not path.with_name(path.name + ".partial").exists()
    assert locate_weights(spec) == path and len(calls) == 1


def test_download_with_wrong_hash_leaves_nothing(hub, monkeypatch):
    spec = tiny_spec()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"x"))
    with pytest.raises(WeightsHashError):
        locate_weights(spec)
    assert not hub.exists() or not any(hub.iterdir())


@pytest.mark.parametrize("allow_download", [True, False])
def test_offline_failure_is_one_paragraph_with_url_and_cache_path(hub, offline, allow_download):
    spec = tiny_spec()
    with pytest.raises(WeightsNotFoundError) as error:
        locate_weights(spec, allow_download=allow_download)
    text = str(error.value)
    assert "\n" not in text
    assert spec.weights.url in text
    assert str(hub / spec.weights.file_name) in text
    assert "encoders.tiny.weights" in text
    if allow_download:
        assert offline == [spec.weights.url] and "name resolution" in text
    else:
        assert offline == [] and "downloads are disabled" in text
    assert not hub.exists() or not any(hub.iterdir())


def test_extraction_fails_on_weights_before_decoding_images(hub, offline, tmp_path, monkeypatch):
    import modedrop.extraction as extraction

    def no_decoding(*args, **kwargs):
        raise AssertionError("images were opened before the weights were found")

    monkeypatch.setattr(extraction, "ImageList", no_decoding)
    with pytest.raises(WeightsNotFoundError, match="dino_resnet50_pretrain.pth"):
        extraction.extract_features(
            tmp_path, ["a.jpg"], "dino_resnet50", tmp_path / "x.h5", allow_download=False
        )
    assert offline == []


def test_check_configured_weights(tmp_path):
    present = tmp_path / "resnet50.pth"
    present.write_bytes(b"x")
    problems = check_configured_weights(
        {
            "vicreg_resnet50": {"weights": str(present)},
            "dino_resnet50": {"weights": None},
            "inception_v3": {"weights": str(tmp_path / "missing.pth")},
            "efficientnet_lite0": None,
            "resnet_from_mars": {"weights": None},
        }
    )
    assert len(problems) == 2
    assert "encoders.inception_v3.weights" in problems[0] and "missing.pth" in problems[0]
    assert "resnet_from_mars" in problems[1]
    assert check_configured_weights({}) == [] and check_configured_weights(None) == []


def test_registry_and_weights_module_import_without_torch():
    code = (
        "import sys, modedrop.encoders, modedrop.encoders.weights; "
        "modedrop.encoders.weights.check_configured_weights({'inception_v3': {'weights': None}}); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_published_hash_prefix_is_checked_for_real_entries(tmp_path):
    impostor = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    impostor.write_bytes(PAYLOAD)
    with pytest.raises(WeightsHashError, match="starting with 6726825d"):
        locate_weights(get_encoder("inception_v3"), configured=impostor)
