"""Obtaining and verifying CelebA: find a local copy, download one, check it before use.

A data set in CelebA's layout is a folder with the three metadata files and the images, either
unpacked (``img_align_celeba/``) or as the official zip (``img_align_celeba.zip``, read in
place by :class:`modedrop.data.images.ImageList`):

* :func:`locate_celeba` finds the files or says exactly which are missing and how to get them;
* :func:`verify_celeba` checks an official copy (MD5 sums of the text files, 202,599 images);
* :func:`verify_celeba_format` checks any folder in CelebA's layout for internal consistency;
* :func:`download_celeba` fetches CelebA through torchvision's downloader (needs ``gdown``).

The verifiers return a manifest (paths, MD5 sums, image count) for a JSON stamp file. Images
are not decoded here: feature extraction names an undecodable file when it reaches it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    CELEBA_MD5,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebAFormatError,
    md5sum,
    read_attributes,
    read_identities,
    read_partition,
)

__all__ = [
    "GDOWN_REQUIREMENT",
    "N_IMAGES",
    "OFFICIAL_PAGE",
    "ZIP_FILE",
    "ChecksumError",
    "DatasetFiles",
    "DatasetNotFoundError",
    "DownloadError",
    "ImageSetError",
    "download_celeba",
    "locate_celeba",
    "missing_celeba_message",
    "verify_celeba",
    "verify_celeba_format",
]

#: Number of images of the official CelebA (aligned and cropped, 178x218 JPEGs).
N_IMAGES = 202_599
ZIP_FILE = f"{IMAGE_DIR}.zip"
OFFICIAL_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
#: torchvision downloads CelebA from Google Drive with gdown; the version pinned in pyproject.toml.
GDOWN_REQUIREMENT = "gdown==6.5.1"

_TEXT_FILES = (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE)
_SHOWN = 5  # how many missing images an error message names


class DatasetNotFoundError(FileNotFoundError):
    """Files of the data set are missing; the message lists them and how to get them."""


class ChecksumError(ValueError):
    """A metadata file is not the official one (its MD5 differs); the message names it."""


class ImageSetError(ValueError):
    """The images do not match the metadata (missing or extra images); the message says which."""


class DownloadError(RuntimeError):
    """Downloading CelebA failed; the message says what failed and how to proceed offline."""


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of a data set in CelebA's layout (``images``: a folder or ``img_align_celeba.zip``)."""

    root: Path
    attributes: Path
    partition: Path
    identities: Path
    images: Path

    @property
    def images_are_zipped(self) -> bool:
        return self.images.suffix.lower() == ".zip"


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _put_where(root: Path | str) -> str:
    return (
        f"put {root}/{ATTRIBUTE_FILE}, {root}/{PARTITION_FILE}, {root}/{IDENTITY_FILE} and the "
        f"images as {root}/{IMAGE_DIR}/000001.jpg ... 202599.jpg (or leave them zipped as "
        f"{root}/{ZIP_FILE}: the zip is read in place, not extracted)"
    )


def _how_to_get(root: Path | str, offer_download: bool = True) -> str:
    text = (
        f"The files come from the official CelebA page {OFFICIAL_PAGE}: its Google Drive "
        f'folders "Align&Cropped Images" ({ZIP_FILE}), "Anno" ({ATTRIBUTE_FILE} and '
        f'{IDENTITY_FILE}) and "Eval" ({PARTITION_FILE}); {_put_where(root)}. Then set '
        f"`celeba.root: {root}` in the config"
    )
    if offer_download:
        text += (
            ", or leave `celeba.root: null` and set `celeba.download: true` to let the workflow "
            f"download CelebA with torchvision (needs internet access and {GDOWN_REQUIREMENT})"
        )
    return text + (
        ". A modified or partial copy in CelebA's layout is used with `dataset: celeba_format` "
        "instead."
    )


def _missing(root: Path) -> list[str]:
    """Full paths of what ``root`` lacks (the images as 'folder or zip')."""
    missing = [str(root / name) for name in _TEXT_FILES if not (root / name).is_file()]
    if not ((root / IMAGE_DIR).is_dir() or (root / ZIP_FILE).is_file()):
        missing.append(f"{root / IMAGE_DIR}/ (or {root / ZIP_FILE})")
    return missing


def _format_help(root: Path | str) -> str:
    """How to fix a missing ``dataset: celeba_format`` folder: no download, the key to set."""
    return (
        f"A celeba_format folder holds {root}/{ATTRIBUTE_FILE}, {root}/{PARTITION_FILE}, "
        f"{root}/{IDENTITY_FILE} and every listed image as {root}/{IMAGE_DIR}/<name> (or zipped "
        f"as {root}/{ZIP_FILE}); write them there, or set `celeba_format.root` in the config to "
        "the folder that holds them. For the official CelebA use `dataset: celeba` with "
        "`celeba.root` instead."
    )


def _missing_format_message(root: Path | None) -> str:
    if root is None:
        return (
            "dataset: celeba_format needs a folder, but `celeba_format.root` is null. "
            + _format_help("<folder>")
        )
    if not root.is_dir():
        return (
            f"The celeba_format folder {root} (`celeba_format.root`) does not exist. "
            + _format_help(root)
        )
    missing = _missing(root)
    if not missing:
        return f"The celeba_format folder {root} is complete."
    return (
        f"The celeba_format folder {root} (`celeba_format.root`) is incomplete: missing "
        f"{', '.join(missing)}. " + _format_help(root)
    )


def missing_celeba_message(root: str | os.PathLike[str] | None, official: bool = True) -> str:
    """One paragraph for a user without the data set: what is missing where, how to get it.

    ``root=None`` is for when no location is configured (and, for the official CelebA, no
    download is allowed). ``official``: the folder of ``dataset: celeba`` (``celeba.root``,
    downloadable), else of ``dataset: celeba_format`` (``celeba_format.root``, never
    downloaded), so the message names the config key the user has to set.
    """
    if root is not None:
        root = Path(root).expanduser().absolute()
    if not official:
        return _missing_format_message(root)
    if root is None:
        return (
            "CelebA is not available: no folder is configured (`celeba.root: null`) and "
            "downloading is off (`celeba.download: false`). " + _how_to_get("<folder>")
        )
    if not root.is_dir():
        return f"CelebA folder {root} (`celeba.root`) does not exist. " + _how_to_get(root)
    missing = _missing(root)
    if not missing:
        return f"CelebA is complete in {root}."
    return f"CelebA is incomplete in {root}: missing {', '.join(missing)}. " + _how_to_get(root)


# --------------------------------------------------------------------------------------------
# Locating
# --------------------------------------------------------------------------------------------


def locate_celeba(root: str | os.PathLike[str], official: bool = True) -> DatasetFiles:
    """The files of the CelebA-format folder ``root`` (``img_align_celeba/`` preferred to the zip).

    Raises :class:`DatasetNotFoundError` listing every missing file and how to get it;
    ``official=False`` words it for ``dataset: celeba_format`` (see
    :func:`missing_celeba_message`).
    """
    root = Path(root).expanduser().absolute()
    if not root.is_dir() or _missing(root):
        raise DatasetNotFoundError(missing_celeba_message(root, official=official))
    folder = root / IMAGE_DIR
    return DatasetFiles(
        root=root,
        attributes=root / ATTRIBUTE_FILE,
        partition=root / PARTITION_FILE,
        identities=root / IDENTITY_FILE,
        images=folder if folder.is_dir() else root / ZIP_FILE,
    )


# --------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------


def _require_images(files: DatasetFiles) -> None:
    ok = files.images.is_file() if files.images_are_zipped else files.images.is_dir()
    if not ok:
        raise DatasetNotFoundError(
            f"image {'zip' if files.images_are_zipped else 'folder'} {files.images} does not "
            f"exist. " + _how_to_get(files.root)
        )


def _text_paths(files: DatasetFiles) -> dict[str, Path]:
    return {
        ATTRIBUTE_FILE: files.attributes,
        PARTITION_FILE: files.partition,
        IDENTITY_FILE: files.identities,
    }


def _line_numbers(path: Path, first: int, rows: Sequence[int]) -> list[int]:
    """1-based line numbers of data rows ``rows`` (0-based, blank lines skipped) of ``path``.

    ``first`` is the number of header lines; a row past the end gets the line after the last.
    Only called to word an error.
    """
    wanted = set(rows)
    numbers: dict[int, int] = {}
    row, last = 0, first
    for i, line in enumerate(path.read_bytes().splitlines()):
        if i < first or not line.strip():
            continue
        if row in wanted:
            numbers[row] = i + 1
        row, last = row + 1, i + 1
    return [numbers.get(r, last + 1 + r - row) for r in rows]


def _missing_images_error(
    files: DatasetFiles, listed: Sequence[str], present: set[str]
) -> ImageSetError | None:
    missing = [i for i, name in enumerate(listed) if name not in present]
    if not missing:
        return None
    shown = missing[:_SHOWN]
    lines = _line_numbers(files.attributes, 2, shown)
    examples = ", ".join(
        f"{listed[i]} ({files.attributes.name} line {n})" for i, n in zip(shown, lines, strict=True)
    )
    more = f" and {len(missing) - len(shown)} more" if len(missing) > len(shown) else ""
    kind = "zip" if files.images_are_zipped else "folder"
    return ImageSetError(
        f"{len(missing)} of the {len(listed)} images listed in {files.attributes} are missing "
        f"from the image {kind} {files.images}: {examples}{more}. Restore them (re-extract or "
        f"re-download {ZIP_FILE}) or, for a subset, remove their rows from all three metadata "
        f"files and use `dataset: celeba_format`."
    )


def _manifest(
    dataset: str, files: DatasetFiles, md5s: dict[str, str], n_images: int, n_files: int
) -> dict:
    return {
        "dataset": dataset,
        "root": str(files.root),
        "files": {name: str(path) for name, path in _text_paths(files).items()},
        "md5": md5s,
        "images": str(files.images),
        "images_zipped": files.images_are_zipped,
        "n_images": n_images,
        "n_image_files": n_files,
    }


def _first_column(path: Path) -> list[str]:
    """Image names of a two-column metadata file (fast; the file's MD5 is already verified)."""
    return [line.split(maxsplit=1)[0] for line in path.read_bytes().decode().splitlines() if line]


def verify_celeba(files: DatasetFiles) -> dict:
    """Check an official copy of CelebA; return a manifest for a stamp file.

    The three text files must have the official MD5 sums (else :class:`ChecksumError`) and the
    image folder or zip must hold exactly the 202,599 listed JPEGs (else :class:`ImageSetError`
    naming the first missing ones). Takes about a second on a local disk (no image is decoded).
    """
    for path in _text_paths(files).values():
        if not path.is_file():
            raise DatasetNotFoundError(f"{path} does not exist. " + _how_to_get(files.root))
    _require_images(files)
    md5s = {}
    for name, path in _text_paths(files).items():
        actual = md5sum(path)
        expected = CELEBA_MD5[name]
        if actual != expected:
            raise ChecksumError(
                f"{path}: MD5 {actual} differs from the official {name}'s {expected}, so the "
                f"file is not the official one (modified, truncated or another version). "
                f"Re-download it from {OFFICIAL_PAGE}, or, to use a modified copy in CelebA's "
                f"layout, set `dataset: celeba_format` (no checksums, consistency checks only)."
            )
        md5s[name] = actual
    from modedrop.data.images import image_names_in  # imports torch: not at workflow parse time

    listed = _first_column(files.partition)
    present = image_names_in(files.images, suffixes=(".jpg",))
    error = _missing_images_error(files, listed, present)
    if error is not None:
        raise error
    if len(present) != N_IMAGES:
        extra = sorted(present.difference(listed))
        raise ImageSetError(
            f"{files.images} holds {len(present)} JPEGs instead of CelebA's {N_IMAGES}: "
            f"{len(extra)} are not listed in {files.attributes}, e.g. {extra[:_SHOWN]}. "
            f"Remove them, or use `dataset: celeba_format` for a modified copy."
        )
    return _manifest("celeba", files, md5s, len(listed), len(present))


def _check_same_order(reference: pd.Index, ref_path: Path, other: pd.Index, path: Path) -> None:
    """Fail naming ``path``'s first line whose image differs from the attribute file's."""
    if reference.equals(other):
        return
    n = min(len(reference), len(other))
    differ = np.flatnonzero(reference[:n].to_numpy() != other[:n].to_numpy())
    row = int(differ[0]) if differ.size else n
    (line,) = _line_numbers(path, 0, [row])
    (ref_line,) = _line_numbers(ref_path, 2, [row])
    if row < n:
        problem = f"lists {other[row]} where {ref_path.name} line {ref_line} lists {reference[row]}"
    elif row >= len(other):
        problem = (
            f"the file ends after {len(other)} rows but {ref_path.name} lists {len(reference)} "
            f"images (line {ref_line}: {reference[row]})"
        )
    else:
        problem = f"lists {other[row]} beyond the {len(reference)} images of {ref_path.name}"
    raise CelebAFormatError(
        f"{path}, line {line}: {problem}. The three metadata files must list the same images in "
        f"the same order; restore the row or remove that image from all three files."
    )


def verify_celeba_format(files: DatasetFiles) -> dict:
    """Check any data set in CelebA's layout for internal consistency; return a manifest.

    The three files must parse (errors name file and line), list the same images in the same
    order (the error names the file and its first differing line), hold attribute values of
    -1/1 and every listed image must exist in the folder or zip (the error names the attribute
    file lines of the first missing images and how many are missing). Extra images are allowed.
    No official checksums; images are not decoded.
    """
    _require_images(files)
    attributes = read_attributes(files.attributes)
    partition = read_partition(files.partition)
    identities = read_identities(files.identities)
    if len(attributes) == 0:
        raise CelebAFormatError(
            f"{files.attributes}: lists no images. Add at least one row per image."
        )
    for series, path in ((partition, files.partition), (identities, files.identities)):
        _check_same_order(attributes.index, files.attributes, series.index, path)
    from modedrop.data.images import image_names_in  # imports torch: not at workflow parse time

    listed = attributes.index.tolist()
    present = image_names_in(files.images)
    error = _missing_images_error(files, listed, present)
    if error is not None:
        raise error
    md5s = {name: md5sum(path) for name, path in _text_paths(files).items()}
    return _manifest("celeba_format", files, md5s, len(listed), len(present))


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def download_celeba(dest: str | os.PathLike[str]) -> DatasetFiles:
    """Download CelebA into the folder ``dest`` with torchvision, then locate and verify it.

    torchvision's ``CelebA`` downloader fetches ``img_align_celeba.zip`` (1.4 GB) and the
    metadata files from Google Drive with ``gdown``, checks their MD5 sums and unpacks the zip.
    It writes to ``<root>/celeba``; here ``dest`` itself plays that folder (``root`` is its
    parent and the base folder its name), so the files land directly in ``dest``. Already
    downloaded files are not fetched again. Any failure raises :class:`DownloadError` saying
    what failed and which files to put where to proceed without a download.
    """
    dest = Path(dest).expanduser().absolute()
    try:
        importlib.import_module("gdown")
    except ImportError as error:
        raise DownloadError(
            f"cannot download CelebA into {dest}: torchvision downloads it from Google Drive "
            f"with the gdown package, which is not installed; run `pip install "
            f"{GDOWN_REQUIREMENT}` (it is in the project's dependencies) and retry. To proceed offline, "
            f"download the files by hand. {_how_to_get(dest, offer_download=False)}"
        ) from error
    from torchvision.datasets import CelebA

    downloader = type("CelebAInto", (CelebA,), {"base_folder": dest.name})
    dest.mkdir(parents=True, exist_ok=True)
    try:
        downloader(root=dest.parent, split="all", target_type="attr", download=True)
    except Exception as error:  # network, Google Drive quota, MD5 mismatch, bad zip...
        reason = " ".join(str(error).split())  # gdown's messages span lines: one paragraph
        raise DownloadError(
            f"downloading CelebA into {dest} with torchvision failed "
            f"({type(error).__name__}: {reason}). Google Drive often refuses CelebA for a while "
            f'("too many users have viewed or downloaded this file"); retry later, or download '
            f"the files by hand. {_how_to_get(dest, offer_download=False)}"
        ) from error
    files = locate_celeba(dest)
    verify_celeba(files)
    return files
