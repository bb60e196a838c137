"""A folder or zip of sample images as a generator: listing, parse-time checks and packing."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from modedrop.data.images import ImageList
from modedrop.generators import sample_set_names
from modedrop.sample_folder import (
    check_sample_source,
    list_sample_images,
    minimum_images,
    pack_sample_set,
)

# Relative path -> (width, height, PIL mode); the sorted order of the paths is the row order.
SAMPLES = {
    "b_face.png": (48, 59, "RGB"),
    "a_face.JPG": (40, 30, "RGB"),
    "grey.png": (17, 23, "L"),
    "sub/c_face.jpeg": (64, 64, "RGB"),
    "sub/alpha.PNG": (31, 29, "RGBA"),
}
EXPECTED_ORDER = sorted(SAMPLES)
NOT_SAMPLES = ("notes.txt", ".hidden.png", ".thumbs/x.png")


def _image(width, height, mode, seed):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)


def _encoded(relative, width, height, mode, seed):
    buffer = io.BytesIO()
    fmt = "JPEG" if relative.lower().endswith((".jpg", ".jpeg")) else "PNG"
    _image(width, height, mode, seed).save(buffer, format=fmt, quality=90)
    return buffer.getvalue()


def _write_folder(root, samples=SAMPLES, extra=NOT_SAMPLES):
    for seed, (relative, spec) in enumerate(sorted(samples.items())):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(_encoded(relative, *spec, seed))
    for relative in extra:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"not a sample")
    return root


@pytest.fixture
def folder(tmp_path):
    return _write_folder(tmp_path / "samples")


@pytest.fixture
def zipped(tmp_path, folder):
    """The same files in a zip, under a top folder, with a directory entry and macOS debris."""
    path = tmp_path / "samples.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("samples/", b"")
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"samples/{file.relative_to(folder).as_posix()}")
        archive.writestr("__MACOSX/samples/._b_face.png", b"resource fork")
    return path


def _decoded(path):
    with Image.open(path) as handle:
        return np.asarray(handle.convert("RGB"))


def _packed_images(out_dir):
    with zipfile.ZipFile(out_dir / "images.zip") as archive:
        names = archive.namelist()
        return names, [_decoded(io.BytesIO(archive.read(n))) for n in names]


def test_a_folder_is_listed_recursively_in_sorted_order_without_hidden_or_other_files(folder):
    assert list_sample_images(folder) == EXPECTED_ORDER


def test_a_zip_lists_its_image_members_without_directories_or_macos_debris(zipped):
    assert list_sample_images(zipped) == [f"samples/{n}" for n in EXPECTED_ORDER]


def test_packing_a_folder_keeps_every_decoded_pixel_in_sorted_order(folder, tmp_path):
    out = tmp_path / "set"
    description = pack_sample_set(folder, out, name="mine")
    names, images = _packed_images(out)
    assert names == sample_set_names(len(SAMPLES))
    assert description["source_images"] == EXPECTED_ORDER
    for relative, image in zip(EXPECTED_ORDER, images, strict=True):
        width, height, _ = SAMPLES[relative]
        assert image.shape == (height, width, 3)
        np.testing.assert_array_equal(image, _decoded(folder / relative))
    # Decoded like the data set's images: the data set's reader gives the same pixels.
    dataset_reader = ImageList(folder, EXPECTED_ORDER, lambda t: t)
    for i, image in enumerate(images):
        np.testing.assert_array_equal(image, dataset_reader[i].permute(1, 2, 0).numpy())
    on_disk = json.loads((out / "sample_set.json").read_text())
    assert on_disk == description
    assert on_disk["n_images"] == on_disk["n_available"] == len(SAMPLES)
    assert on_disk["image_sizes"] == {f"{w}x{h}": 1 for w, h, _ in SAMPLES.values()}
    assert on_disk["source"] == str(folder)
    assert sorted(p.name for p in out.iterdir()) == ["images.zip", "sample_set.json"]


def test_the_packed_set_is_read_by_the_embedding_reader(folder, tmp_path):
    """embed_sample_set reads images.zip by sample_set_names(n_images) from the description."""
    pack_sample_set(folder, tmp_path / "set", name="mine")
    n = json.loads((tmp_path / "set" / "sample_set.json").read_text())["n_images"]
    reader = ImageList(tmp_path / "set" / "images.zip", sample_set_names(n), lambda t: t)
    for i, relative in enumerate(EXPECTED_ORDER):
        np.testing.assert_array_equal(
            reader[i].permute(1, 2, 0).numpy(), _decoded(folder / relative)
        )


def test_a_zip_packs_to_the_same_pixels_as_its_folder(folder, zipped, tmp_path):
    pack_sample_set(folder, tmp_path / "from_folder", name="mine")
    description = pack_sample_set(zipped, tmp_path / "from_zip", name="mine")
    assert description["source_images"] == [f"samples/{n}" for n in EXPECTED_ORDER]
    _, from_folder = _packed_images(tmp_path / "from_folder")
    _, from_zip = _packed_images(tmp_path / "from_zip")
    for a, b in zip(from_folder, from_zip, strict=True):
        np.testing.assert_array_equal(a, b)


def test_packing_twice_gives_byte_identical_files(folder, tmp_path):
    pack_sample_set(folder, tmp_path / "one", name="mine")
    pack_sample_set(folder, tmp_path / "two", name="mine")
    for file in ("images.zip", "sample_set.json"):
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()


def test_max_images_keeps_the_first_images_in_sorted_order(folder, tmp_path):
    description = pack_sample_set(folder, tmp_path / "set", name="mine", max_images=3)
    names, images = _packed_images(tmp_path / "set")
    assert names == sample_set_names(3)
    assert description["source_images"] == EXPECTED_ORDER[:3]
    assert (description["n_images"], description["n_available"]) == (3, len(SAMPLES))
    for relative, image in zip(EXPECTED_ORDER[:3], images, strict=True):
        np.testing.assert_array_equal(image, _decoded(folder / relative))
    assert check_sample_source(folder, "mine", 2, max_images=3) == 3
    assert check_sample_source(folder, "mine", 2, max_images=100) == len(SAMPLES)
    with pytest.raises(ValueError, match=r"max_images = 3 are used.*at least 4"):
        check_sample_source(folder, "mine", 4, max_images=3)


def test_minimum_images_is_one_more_than_prdc_k_and_at_least_two():
    assert minimum_images({"prdc_k": 10}) == 11
    assert minimum_images({"prdc_k": 1}) == 2
    with pytest.raises(ValueError, match="prdc_k"):
        minimum_images({"prdc_k": 0})


def test_a_folder_with_too_few_images_fails_naming_the_path_and_counts(tmp_path):
    samples = {f"{i:02d}.png": (8, 8, "RGB") for i in range(10)}
    root = _write_folder(tmp_path / "ten", samples, extra=())
    assert check_sample_source(root, "mine", 10) == 10
    with pytest.raises(ValueError) as error:
        check_sample_source(root, "mine", minimum_images({"prdc_k": 10}))
    message = str(error.value)
    assert str(root) in message and "'mine'" in message
    assert "holds 10 images" in message and "at least 11" in message and "prdc_k" in message


def test_an_empty_folder_fails_naming_the_path_and_what_it_holds(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty folder") as error:
        check_sample_source(empty, "mine", 1)
    assert str(empty) in str(error.value)
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"empty folder.*readme\.txt"):
        pack_sample_set(empty, tmp_path / "set", name="mine")
    assert not (tmp_path / "set").exists()


def test_a_missing_path_or_a_file_that_is_not_a_zip_fails_naming_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match="does not exist") as error:
        check_sample_source(missing, "mine", 1)
    assert str(missing) in str(error.value) and "generators.mine.images" in str(error.value)
    with pytest.raises(ValueError, match="does not exist"):
        pack_sample_set(missing, tmp_path / "set", name="mine")
    assert not (tmp_path / "set").exists()
    text = tmp_path / "samples.txt"
    text.write_text("x")
    with pytest.raises(ValueError, match="neither a folder nor a .zip"):
        check_sample_source(text, "mine", 1)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"broken\.zip is not a readable zip"):
        check_sample_source(broken, "mine", 1)


def test_unreadable_images_fail_together_by_name_and_nothing_is_written(folder, tmp_path):
    good = (folder / "b_face.png").read_bytes()
    jpeg = _encoded("x.jpg", 64, 64, "RGB", 0)
    (folder / "sub" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "zz_not_an_image.png").write_bytes(b"plain text, not a PNG")
    (folder / "zz_truncated.png").write_bytes(good[: len(good) // 3])
    out = tmp_path / "set"
    with pytest.raises(ValueError) as error:
        pack_sample_set(folder, out, name="mine")
    message = str(error.value)
    for bad in ("sub/truncated.jpg", "zz_not_an_image.png", "zz_truncated.png"):
        assert bad in message
    assert "3 of the 8 images" in message and str(folder) in message
    assert not out.exists() or not any(out.iterdir())
