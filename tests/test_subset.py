"""A celeba_format folder from some CelebA images and the official-layout metadata."""

from __future__ import annotations

import shutil

import pytest

from celeba_fixture import make_celeba_folder
from modedrop.data.celeba import locate_celeba, verify_celeba_format
from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    read_attributes,
    read_identities,
    read_partition,
)
from modedrop.data.subset import main, make_celeba_subset


@pytest.fixture
def metadata_and_images(tmp_path):
    """Metadata for 40 images; a separate folder holding 12 of them (not the first ones)."""
    full = make_celeba_folder(tmp_path / "full", None, n_rows=40)
    images = tmp_path / "some_images"
    images.mkdir()
    names = sorted(p.name for p in (full / IMAGE_DIR).iterdir())
    kept = names[5:17][::-1]  # listed out of order on purpose
    for name in kept:
        shutil.copy(full / IMAGE_DIR / name, images / name)
    return full, images, sorted(kept)


@pytest.mark.parametrize("copy", [False, True])
def test_subset_keeps_the_rows_of_the_images_present_in_official_order(
    tmp_path, metadata_and_images, copy
):
    full, images, kept = metadata_and_images
    out = tmp_path / "subset"
    assert make_celeba_subset(images, full, out, copy=copy) == len(kept)
    attributes = read_attributes(out / ATTRIBUTE_FILE)
    assert list(attributes.index) == kept
    assert attributes.equals(read_attributes(full / ATTRIBUTE_FILE).loc[kept])
    assert read_partition(out / PARTITION_FILE).equals(
        read_partition(full / PARTITION_FILE).loc[kept]
    )
    assert read_identities(out / IDENTITY_FILE).equals(
        read_identities(full / IDENTITY_FILE).loc[kept]
    )
    written = out / IMAGE_DIR / kept[0]
    assert written.is_symlink() is not copy
    assert written.read_bytes() == (images / kept[0]).read_bytes()
    # The result is a valid celeba_format data set.
    assert verify_celeba_format(locate_celeba(out, official=False))["n_images"] == len(kept)


def test_unknown_image_names_and_empty_folders_are_errors(tmp_path, metadata_and_images):
    full, images, _ = metadata_and_images
    (images / "not_celeba.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"not CelebA image names .*not_celeba\.jpg"):
        make_celeba_subset(images, full, tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .jpg"):
        make_celeba_subset(empty, full, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        make_celeba_subset(tmp_path / "missing", full, tmp_path / "out")


def test_command_line(tmp_path, metadata_and_images, capsys):
    full, images, kept = metadata_and_images
    main(["--images", str(images), "--metadata", str(full), "--out", str(tmp_path / "cli")])
    assert f"{len(kept)} images" in capsys.readouterr().out
