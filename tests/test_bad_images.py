"""Corrupt, truncated and missing images: named errors, or skipped and recorded on request."""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pytest

from conftest import noise_jpeg
from modedrop.data.images import ImageDecodeError, ImageMissingError
from modedrop.extraction import extract_features
from modedrop.features import FeatureCache, SkippedImageError
from modedrop.indices import write_index
from modedrop.jobs import load_inputs

GOOD = [f"{i:06d}.jpg" for i in range(1, 9)]
CORRUPT = "000004b.jpg"
TRUNCATED = "000006b.jpg"
ENCODER = "efficientnet_lite0"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Eight good JPEGs, random bytes named .jpg, and the first half of a real JPEG."""
    root = tmp_path_factory.mktemp("bad_images")
    for i, name in enumerate(GOOD):
        (root / name).write_bytes(noise_jpeg(i))
    (root / CORRUPT).write_bytes(np.random.default_rng(99).bytes(2000))
    whole = noise_jpeg(100)
    (root / TRUNCATED).write_bytes(whole[: len(whole) // 2])
    return root


def all_names() -> list[str]:
    return sorted([*GOOD, CORRUPT, TRUNCATED])


@pytest.fixture(scope="module")
def skipped_cache(folder, tmp_path_factory):
    """A cache extracted with skip_unreadable, decoding in a worker process (threads=2)."""
    out = tmp_path_factory.mktemp("skipped") / f"{ENCODER}.h5"
    stats = extract_features(
        folder,
        all_names(),
        ENCODER,
        out,
        batch_size=4,
        threads=2,
        device="cpu",
        progress=False,
        skip_unreadable=True,
    )
    return out, stats


@pytest.mark.parametrize(("bad", "threads"), [(CORRUPT, 1), (TRUNCATED, 2)])
def test_unreadable_image_error_names_the_file(folder, tmp_path, bad, threads):
    """threads=2 decodes in a DataLoader worker: the user still gets the short message."""
    out = tmp_path / "x.h5"
    with pytest.raises(ImageDecodeError) as error:
        extract_features(
            folder, [*GOOD[:3], bad], ENCODER, out, batch_size=4, threads=threads, progress=False
        )
    message = str(error.value)
    assert bad in message and "features.skip_unreadable" in message
    assert "Traceback" not in message
    assert not out.exists()


def test_missing_image_is_never_skipped(folder, tmp_path):
    with pytest.raises(ImageMissingError, match="absent.jpg"):
        extract_features(
            folder,
            [*GOOD[:2], "absent.jpg"],
            ENCODER,
            tmp_path / "x.h5",
            batch_size=4,
            progress=False,
            skip_unreadable=True,
        )


def test_skipped_images_are_left_out_and_listed(skipped_cache):
    out, stats = skipped_cache
    assert stats["skipped"] == 2 and stats["images"] == len(GOOD)
    with h5py.File(out, "r") as handle:
        assert [n.decode() for n in handle["image"][:]] == GOOD
        assert handle["features"].shape == (len(GOOD), 1280)
        assert handle.attrs["n_skipped"] == 2 and handle.attrs["n_images"] == len(GOOD)
        assert json.loads(handle.attrs["skipped_images"]) == [CORRUPT, TRUNCATED]
    with FeatureCache(out) as cache:
        assert cache.skipped == [CORRUPT, TRUNCATED]
        assert np.isfinite(cache.features(GOOD)).all()
        with pytest.raises(SkippedImageError, match="skipped at extraction"):
            cache.features([GOOD[0], TRUNCATED])


def test_skipped_images_are_named_in_a_warning(folder, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="modedrop"):
        extract_features(
            folder,
            [GOOD[0], CORRUPT],
            ENCODER,
            tmp_path / "x.h5",
            batch_size=2,
            progress=False,
            skip_unreadable=True,
        )
    assert CORRUPT in caplog.text and "skipped_images" in caplog.text


@pytest.mark.parametrize("kind", ["features", "logits"])
def test_metric_inputs_drop_skipped_images(skipped_cache, tmp_path, caplog, kind):
    out, _ = skipped_cache
    write_index(tmp_path / "target.txt", [GOOD[0], CORRUPT, GOOD[2]])
    write_index(tmp_path / "unbiased.txt", GOOD[3:6])
    write_index(tmp_path / "reference.txt", [GOOD[6], TRUNCATED, GOOD[7]])
    with caplog.at_level(logging.WARNING, logger="modedrop.jobs"):
        inputs = load_inputs(
            kind=kind,
            index_paths=[tmp_path / "target.txt", tmp_path / "unbiased.txt"],
            cache=out,
            reference_path=tmp_path / "reference.txt",
        )
    assert inputs.names == {"target": [GOOD[0], GOOD[2]], "unbiased": GOOD[3:6]}
    assert inputs.reference_names == [GOOD[6], GOOD[7]]
    assert inputs.sets["target"].shape[0] == 2 and inputs.reference.shape[0] == 2
    assert CORRUPT in caplog.text and TRUNCATED in caplog.text
    with FeatureCache(out) as cache:
        read = cache.logits if kind == "logits" else cache.features
        np.testing.assert_array_equal(inputs.sets["target"], read([GOOD[0], GOOD[2]]))


def test_rgb_tensor_is_torchvisions_pil_to_tensor():
    import torch
    from PIL import Image
    from torchvision.transforms.v2.functional import pil_to_tensor

    from modedrop.data.images import rgb_tensor

    pixels = np.random.default_rng(0).integers(0, 256, size=(11, 7, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    ours, theirs = rgb_tensor(image), pil_to_tensor(image)
    assert torch.equal(ours, theirs) and ours.stride() == theirs.stride()
    with pytest.raises(ValueError, match="RGB"):
        rgb_tensor(image.convert("L"))
