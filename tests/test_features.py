"""Feature extraction into the HDF5 cache and reading subsets back."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from modedrop.extraction import extract_features, resolve_device
from modedrop.features import FeatureCache


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(10):
        pixels = rng.integers(0, 256, size=(59, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i + 1:06d}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def cache_path(image_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cache") / "efficientnet_lite0.h5"
    names = sorted(p.name for p in image_dir.iterdir())
    extract_features(image_dir, names, "efficientnet_lite0", out, batch_size=4, progress=False)
    return out


def test_cache_layout_and_attributes(cache_path):
    with h5py.File(cache_path) as handle:
        assert handle["features"].shape == (10, 1280) and handle["features"].dtype == np.float32
        assert handle["logits"].shape == (10, 1000) and handle["logits"].dtype == np.float32
        assert handle["image"].shape == (10,)
        attrs = dict(handle.attrs)
    assert attrs["encoder"] == "efficientnet_lite0" and len(attrs["weights_sha256"]) == 64
    assert json.loads(attrs["preprocessing"])["crop"] == 224
    assert "torch" in json.loads(attrs["versions"])
    assert not cache_path.with_name(cache_path.name + ".partial").exists()


def test_subset_rows_come_back_in_index_order(cache_path):
    with FeatureCache(cache_path) as cache:
        everything = cache.features(cache.names)
        subset = cache.features(["000007.jpg", "000002.jpg"])
        np.testing.assert_array_equal(subset, everything[[6, 1]])
        assert cache.logits(["000003.jpg"]).shape == (1, 1000)
        with pytest.raises(KeyError, match="not in"):
            cache.features(["999999.jpg"])


def test_batching_does_not_change_features(image_dir, cache_path, tmp_path):
    names = sorted(p.name for p in image_dir.iterdir())
    other = tmp_path / "b.h5"
    extract_features(image_dir, names, "efficientnet_lite0", other, batch_size=3, progress=False)
    with FeatureCache(cache_path) as a, FeatureCache(other) as b:
        np.testing.assert_allclose(a.features(names), b.features(names), rtol=1e-4, atol=1e-5)


def test_undecodable_image_is_named(image_dir, tmp_path):
    bad = tmp_path / "imgs"
    bad.mkdir()
    (bad / "000001.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(Exception, match="000001.jpg"):
        extract_features(
            bad, ["000001.jpg"], "efficientnet_lite0", tmp_path / "x.h5", progress=False
        )
    assert not (tmp_path / "x.h5").exists()


def test_missing_cache_says_which_rule_builds_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="extract_features"):
        FeatureCache(tmp_path / "none.h5")


def test_cpu_fallback_is_logged(caplog, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert "no GPU found" in caplog.text
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")


def test_non_finite_rows_are_refused_on_read(tmp_path):
    """A cache holding NaN or Inf (written by hand here) never reaches a metric."""
    path = tmp_path / "nan.h5"
    features = np.ones((3, 4), dtype=np.float32)
    features[1, 2] = np.nan
    features[2, 0] = np.inf
    with h5py.File(path, "w") as handle:
        handle.create_dataset("features", data=features)
        handle.create_dataset("image", data=np.asarray(["a.jpg", "b.jpg", "c.jpg"], dtype="S"))
    with FeatureCache(path) as cache:
        np.testing.assert_array_equal(cache.features(["a.jpg"]), features[[0]])
        assert cache.skipped == []  # caches without the attribute skipped nothing
        for name in ("b.jpg", "c.jpg"):
            with pytest.raises(ValueError, match="NaN or Inf"):
                cache.features(["a.jpg", name])
