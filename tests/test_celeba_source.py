"""Obtaining and verifying CelebA: locate, official and format checks, download errors, zips.

Tests marked by ``celeba_meta``/``celeba_meta_session`` use the real metadata files (and skip
without ../shared); the others build small metadata with the writers. Images are stand-in
JPEGs from ``celeba_fixture``; the full 202,599-image sets are hardlinks to a pool (folder) or
stored zip entries, built once per module.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from celeba_fixture import make_celeba_folder, stand_in_jpeg
from modedrop.data.celeba import (
    GDOWN_REQUIREMENT,
    N_IMAGES,
    OFFICIAL_PAGE,
    ChecksumError,
    DatasetFiles,
    DatasetNotFoundError,
    DownloadError,
    ImageSetError,
    download_celeba,
    locate_celeba,
    missing_celeba_message,
    verify_celeba,
    verify_celeba_format,
)
from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    CELEBA_MD5,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebAFormatError,
    md5sum,
)
from modedrop.data.images import ImageDecodeError, ImageList, image_names_in, list_images

ZIP_FILE = f"{IMAGE_DIR}.zip"
TEXT_FILES = (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE)


def _as_float(image: torch.Tensor) -> torch.Tensor:
    return image.float() / 255


# ----- full-size official copies (real metadata, 202,599 stand-in images) ---------------------


@pytest.fixture(scope="module")
def full_folder(tmp_path_factory, celeba_meta_session) -> Path:
    return make_celeba_folder(tmp_path_factory.mktemp("full") / "celeba", celeba_meta_session)


@pytest.fixture(scope="module")
def full_zip(tmp_path_factory, celeba_meta_session) -> Path:
    dest = tmp_path_factory.mktemp("zip") / "celeba"
    return make_celeba_folder(dest, celeba_meta_session, zipped=True)


def test_official_folder_verifies(full_folder):
    files = locate_celeba(full_folder)
    assert files.images == full_folder / IMAGE_DIR and not files.images_are_zipped
    manifest = verify_celeba(files)
    assert manifest["dataset"] == "celeba"
    assert manifest["n_images"] == manifest["n_image_files"] == N_IMAGES
    assert manifest["md5"] == CELEBA_MD5
    assert manifest["images_zipped"] is False


def test_official_zip_verifies(full_zip):
    files = locate_celeba(full_zip)
    assert files.images == full_zip / ZIP_FILE and files.images_are_zipped
    manifest = verify_celeba(files)
    assert manifest["n_images"] == N_IMAGES and manifest["images_zipped"] is True


def test_image_missing_from_official_folder_is_named(full_folder):
    image = full_folder / IMAGE_DIR / "000123.jpg"
    hidden = image.with_name("000123.jpg.hidden")
    image.rename(hidden)
    try:
        with pytest.raises(ImageSetError) as info:
            verify_celeba(locate_celeba(full_folder))
    finally:
        hidden.rename(image)
    message = str(info.value)
    assert f"1 of the {N_IMAGES} images" in message
    assert "000123.jpg (list_attr_celeba.txt line 125)" in message


def test_extra_image_in_official_folder_is_named(full_folder):
    stray = full_folder / IMAGE_DIR / "202600.jpg"
    stray.write_bytes(stand_in_jpeg(0))
    try:
        with pytest.raises(ImageSetError, match=r"202600 JPEGs instead .*202600\.jpg"):
            verify_celeba(locate_celeba(full_folder))
    finally:
        stray.unlink()


def test_wrong_checksum_names_file_and_both_md5s(celeba_meta, tmp_path):
    changed = tmp_path / ATTRIBUTE_FILE
    data = bytearray((celeba_meta / ATTRIBUTE_FILE).read_bytes())
    at = data.index(b"-1", 10_000)
    data[at] = ord(" ")  # -1 -> 1: still a valid file, no longer the official one
    changed.write_bytes(bytes(data))
    (tmp_path / IMAGE_DIR).mkdir()
    files = DatasetFiles(
        root=tmp_path,
        attributes=changed,
        partition=celeba_meta / PARTITION_FILE,
        identities=celeba_meta / IDENTITY_FILE,
        images=tmp_path / IMAGE_DIR,
    )
    with pytest.raises(ChecksumError) as info:
        verify_celeba(files)
    message = str(info.value)
    assert str(changed) in message
    assert CELEBA_MD5[ATTRIBUTE_FILE] in message and md5sum(changed) in message
    assert "not the official" in message and "dataset: celeba_format" in message


# ----- locating (synthetic metadata) ----------------------------------------------------------


@pytest.fixture
def small_root(tmp_path) -> Path:
    return make_celeba_folder(tmp_path / "celeba", None, n_rows=6)


@pytest.mark.parametrize("remove", [IDENTITY_FILE, IMAGE_DIR])
def test_missing_file_is_listed(small_root, remove):
    target = small_root / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        locate_celeba(small_root)
    message = str(info.value)
    assert f"missing {target}" in message
    if remove == IMAGE_DIR:
        assert f"(or {small_root / ZIP_FILE})" in message
    for present in {ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE} - {remove}:
        assert f"{small_root / present}," not in message.split(". ")[0]
    assert OFFICIAL_PAGE in message and "Anno" in message and "Eval" in message
    assert "celeba.root" in message and "celeba.download: true" in message
    assert "\n" not in message


def test_missing_root_lists_everything(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError, match="does not exist") as info:
        locate_celeba(root)
    for name in (*TEXT_FILES, f"{IMAGE_DIR}/", ZIP_FILE):
        assert f"{root}/{name}" in str(info.value)


def test_message_without_any_root():
    message = missing_celeba_message(None)
    assert "celeba.root" in message and "celeba.download: true" in message
    assert all(name in message for name in (*TEXT_FILES, ZIP_FILE)) and OFFICIAL_PAGE in message


def test_folder_preferred_to_zip(small_root):
    shutil.make_archive(str(small_root / IMAGE_DIR), "zip", small_root, IMAGE_DIR)
    assert locate_celeba(small_root).images == small_root / IMAGE_DIR
    shutil.rmtree(small_root / IMAGE_DIR)
    files = locate_celeba(small_root)
    assert files.images == small_root / ZIP_FILE and files.images_are_zipped
    assert verify_celeba_format(files)["n_images"] == 6


# ----- celeba_format: internal consistency (first 300 real rows) ------------------------------


@pytest.fixture
def format_root(celeba_meta, tmp_path) -> Path:
    return make_celeba_folder(tmp_path / "subset", celeba_meta, n_rows=300)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_celeba_format_subset_passes(format_root):
    manifest = verify_celeba_format(locate_celeba(format_root))
    assert manifest["dataset"] == "celeba_format" and manifest["n_images"] == 300
    assert set(manifest["md5"]) == set(TEXT_FILES)
    # The official checks reject the subset: it is not the official file.
    with pytest.raises(ChecksumError):
        verify_celeba(locate_celeba(format_root))


def test_deleted_partition_row_names_file_and_line(format_root):
    path = format_root / PARTITION_FILE
    lines = _lines(path)
    path.write_bytes(b"".join(lines[:99] + lines[100:]))  # drop line 100 (000100.jpg)
    with pytest.raises(CelebAFormatError) as info:
        verify_celeba_format(locate_celeba(format_root))
    message = str(info.value)
    assert message.startswith(f"{path}, line 100: lists 000101.jpg")
    assert "list_attr_celeba.txt line 102 lists 000100.jpg" in message


def test_truncated_identity_file_names_its_end(format_root):
    path = format_root / IDENTITY_FILE
    path.write_bytes(b"".join(_lines(path)[:-1]))
    with pytest.raises(CelebAFormatError, match=rf"{IDENTITY_FILE}, line 300: .*after 299 rows"):
        verify_celeba_format(locate_celeba(format_root))


def test_attribute_value_two_names_line(format_root):
    path = format_root / ATTRIBUTE_FILE
    lines = _lines(path)
    lines[51] = lines[51][:-4] + b" 2\r\n"  # line 52 (000050.jpg): last value 2
    path.write_bytes(b"".join(lines))
    with pytest.raises(CelebAFormatError, match=r"line 52: value '2' is not -1 or 1"):
        verify_celeba_format(locate_celeba(format_root))


def test_missing_images_name_attribute_lines(format_root):
    for name in ("000007.jpg", "000200.jpg"):
        (format_root / IMAGE_DIR / name).unlink()
    with pytest.raises(ImageSetError) as info:
        verify_celeba_format(locate_celeba(format_root))
    message = str(info.value)
    assert "2 of the 300 images" in message
    assert "000007.jpg (list_attr_celeba.txt line 9)" in message
    assert "000200.jpg (list_attr_celeba.txt line 202)" in message


# ----- downloading, offline -------------------------------------------------------------------


def _assert_lists_files(message: str, dest: Path) -> None:
    for name in (*TEXT_FILES, f"{IMAGE_DIR}/", ZIP_FILE):
        assert f"{dest}/{name}" in message
    assert OFFICIAL_PAGE in message and "\n" not in message


def test_download_offline_says_what_to_put_where(tmp_path, monkeypatch):
    import torchvision.datasets.celeba as tv_celeba

    pytest.importorskip("gdown")
    roots = []

    def offline(file_id, root, filename=None, md5=None):
        roots.append(root)
        raise ConnectionError(f"cannot reach drive.google.com for {filename}")

    monkeypatch.setattr(tv_celeba, "download_file_from_google_drive", offline)
    dest = tmp_path / "data" / "celeba"
    with pytest.raises(DownloadError) as info:
        download_celeba(dest)
    message = str(info.value)
    assert "ConnectionError" in message and "drive.google.com" in message
    _assert_lists_files(message, dest)
    assert roots == [str(dest)]  # torchvision writes straight into dest, not dest/celeba


def test_download_without_gdown(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # makes `import gdown` fail
    dest = tmp_path / "celeba"
    with pytest.raises(DownloadError) as info:
        download_celeba(dest)
    assert f"pip install {GDOWN_REQUIREMENT}" in str(info.value)
    _assert_lists_files(str(info.value), dest)


# ----- images read from a folder or in place from a zip ---------------------------------------


@pytest.fixture
def image_pair(tmp_path) -> tuple[Path, Path, list[str]]:
    """A folder of 10 small stand-in JPEGs and a deflated zip of it (with its folder entry)."""
    folder = tmp_path / IMAGE_DIR
    folder.mkdir()
    names = [f"{i:06d}.jpg" for i in range(1, 11)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(stand_in_jpeg(i, size=(24, 30)))
    archive = tmp_path / ZIP_FILE
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.mkdir(IMAGE_DIR)
        out.writestr("__MACOSX/img_align_celeba/._000001.jpg", b"resource fork")
        for name in names:
            out.write(folder / name, f"{IMAGE_DIR}/{name}")
    return folder, archive, names


def test_image_list_zip_matches_folder(image_pair):
    folder, archive, names = image_pair
    from_folder = ImageList(folder, names, _as_float)
    from_zip = ImageList(archive, names, _as_float)
    assert from_zip.prefix == IMAGE_DIR
    for i in range(len(names)):
        assert from_folder[i].shape == (3, 30, 24)
        assert torch.equal(from_folder[i], from_zip[i])
    assert image_names_in(folder) == image_names_in(archive) == set(names)
    assert list_images(folder) == list_images(archive) == names


def test_image_list_zip_in_dataloader_workers(image_pair):
    folder, archive, names = image_pair
    dataset = ImageList(archive, names, _as_float)
    dataset[0]  # the parent holds an open handle; forked workers must open their own
    expected = torch.stack([ImageList(folder, names, _as_float)[i] for i in range(len(names))])
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2)
    assert torch.equal(torch.cat(list(loader)), expected)
    clone = pickle.loads(pickle.dumps(dataset))  # spawn start method: no handle pickled
    assert clone._archive is None and torch.equal(clone[4], expected[4])


def test_zip_with_images_at_top_level(tmp_path):
    archive = tmp_path / "flat.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("a.jpg", stand_in_jpeg(1, size=(8, 8)))
    assert image_names_in(archive) == {"a.jpg"}
    assert ImageList(archive, ["a.jpg"], _as_float)[0].shape == (3, 8, 8)


def test_undecodable_zip_member_is_named(tmp_path):
    archive = tmp_path / ZIP_FILE
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(f"{IMAGE_DIR}/000001.jpg", stand_in_jpeg(1, size=(8, 8)))
        out.writestr(f"{IMAGE_DIR}/000002.jpg", b"not a jpeg")
    dataset = ImageList(archive, ["000001.jpg", "000002.jpg", "000003.jpg"], _as_float)
    dataset[0]
    with pytest.raises(ImageDecodeError, match=rf"{IMAGE_DIR}/000002.jpg in zip file {archive}"):
        dataset[1]
    with pytest.raises(ImageDecodeError, match=r"000003.jpg in zip file .*no such member"):
        dataset[2]
