"""Decoding image files for the encoders (a torch Dataset over a list of file names).

Images are read either from a folder (``root/name``) or in place from a zip file
(``root.zip`` member ``<prefix>/name``, where ``<prefix>`` is the zip's single top folder,
normally ``img_align_celeba``). A zip is never extracted: CelebA's 202,599 small JPEGs
would double the disk space and take minutes to write, while reading a member costs one seek.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageDecodeError",
    "ImageList",
    "ImageMissingError",
    "image_names_in",
    "is_zip_path",
    "list_images",
    "zip_image_prefix",
]

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")

# Folders that archivers add beside the real content (macOS resource forks).
_IGNORED_TOP_FOLDERS = frozenset({"__MACOSX"})
_PREFERRED_PREFIX = "img_align_celeba"


class ImageDecodeError(RuntimeError):
    """An image file could not be read or decoded; the message names the file."""


class ImageMissingError(ImageDecodeError):
    """A listed image is not in the folder or zip at all.

    Kept apart from unreadable files: a missing image means the image list and the images come
    from different data sets, which skipping unreadable files (``features.skip_unreadable``)
    must not hide.
    """


def is_zip_path(path: str | Path) -> bool:
    """True for an existing ``.zip`` file (the images are then read from inside it)."""
    path = Path(path)
    return path.suffix.lower() == ".zip" and path.is_file()


def _has_suffix(name: str, suffixes: tuple[str, ...]) -> bool:
    return os.path.splitext(name)[1].lower() in suffixes


def _prefix_of(archive: zipfile.ZipFile, path: Path) -> str:
    """The top folder holding the images inside ``archive`` ('' when they lie at its root)."""
    tops: set[str] = set()
    at_root = False
    for name in archive.namelist():
        head, sep, rest = name.partition("/")
        if not sep:
            at_root = at_root or _has_suffix(head, IMAGE_SUFFIXES)
        elif head not in _IGNORED_TOP_FOLDERS and rest and "/" not in rest:
            if _has_suffix(rest, IMAGE_SUFFIXES):
                tops.add(head)
    if _PREFERRED_PREFIX in tops:
        return _PREFERRED_PREFIX
    if len(tops) == 1 and not at_root:
        return tops.pop()
    if not tops and at_root:
        return ""
    if not tops:
        raise FileNotFoundError(
            f"zip file {path} holds no {'/'.join(IMAGE_SUFFIXES)} images, neither at its top "
            f"level nor in a top folder such as {_PREFERRED_PREFIX}/; pass the zip of the images "
            f"(e.g. CelebA's img_align_celeba.zip)."
        )
    raise ValueError(
        f"zip file {path} holds images in several top folders {sorted(tops)[:5]}"
        f"{' and at its top level' if at_root else ''}; it must hold one folder of images "
        f"(e.g. {_PREFERRED_PREFIX}/000001.jpg). Repack it or unpack the right folder."
    )


def zip_image_prefix(path: str | Path) -> str:
    """The top folder of the images inside the zip ``path`` (normally ``img_align_celeba``)."""
    with zipfile.ZipFile(path) as archive:
        return _prefix_of(archive, Path(path))


def _member(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def image_names_in(path: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> set[str]:
    """Names of the image files directly in the folder ``path`` or in the zip ``path``.

    For a zip, the names are those of the members directly inside its top folder (see
    :func:`zip_image_prefix`), without that prefix, so they compare with the names in
    CelebA's metadata files.
    """
    path = Path(path)
    if is_zip_path(path):
        try:
            with zipfile.ZipFile(path) as archive:
                lead = _member(_prefix_of(archive, path), "")
                return {
                    name[len(lead) :]
                    for name in archive.namelist()
                    if name.startswith(lead)
                    and "/" not in name[len(lead) :]
                    and _has_suffix(name, suffixes)
                }
        except zipfile.BadZipFile as error:
            raise ValueError(
                f"{path} is not a readable zip file ({error}); re-download it."
            ) from error
    if not path.is_dir():
        raise FileNotFoundError(f"image folder or zip {path} does not exist")
    with os.scandir(path) as entries:
        return {e.name for e in entries if _has_suffix(e.name, suffixes) and e.is_file()}


def rgb_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as a uint8 3 x H x W tensor (a channels-first view of its H x W x 3 copy).

    What torchvision's ``pil_to_tensor`` returns, same values and strides, without importing
    torchvision (seconds per job, for jobs that only decode).
    """
    if image.mode != "RGB":
        raise ValueError(f"rgb_tensor takes an RGB image, got mode {image.mode!r}.")
    pixels = torch.as_tensor(np.array(image, copy=True))
    return pixels.view(image.size[1], image.size[0], 3).permute((2, 0, 1))


class ImageList(torch.utils.data.Dataset):
    """Images ``name`` of the folder or zip ``root``, decoded to RGB, through ``transform``.

    Safe in a DataLoader with worker processes: a zip is opened lazily in each process (the
    handle is keyed by process id and reopened after a fork, and never pickled), because
    processes sharing one file descriptor share its offset and would read each other's bytes.
    """

    def __init__(
        self,
        root: str | Path,
        names: Sequence[str],
        transform: Callable[[torch.Tensor], torch.Tensor],
    ):
        self.root = Path(root)
        self.names = list(names)
        self.transform = transform
        self.zipped = is_zip_path(self.root)
        self._archive: zipfile.ZipFile | None = None
        self._archive_pid: int | None = None
        self.prefix = ""
        if self.zipped:
            # Reading the central directory once here finds the prefix; the handle is kept for
            # this process only (num_workers=0), workers open their own.
            self.prefix = _prefix_of(self._open_archive(), self.root)

    def _open_archive(self) -> zipfile.ZipFile:
        pid = os.getpid()
        if self._archive is None or self._archive_pid != pid:
            # After a fork the inherited handle is dropped, not closed: closing would only close
            # this process's copy of the descriptor, but dropping is enough and cheaper.
            try:
                self._archive = zipfile.ZipFile(self.root)
            except (zipfile.BadZipFile, OSError) as error:
                raise ImageDecodeError(f"cannot open zip file {self.root}: {error}") from error
            self._archive_pid = pid
        return self._archive

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_archive"] = None
        state["_archive_pid"] = None
        return state

    def __len__(self) -> int:
        return len(self.names)

    def _read_zip_member(self, name: str) -> tuple[bytes, str]:
        member = _member(self.prefix, name)
        where = f"{member} in zip file {self.root}"
        try:
            return self._open_archive().read(member), where
        except KeyError as error:
            raise ImageMissingError(f"cannot decode image {where}: no such member") from error
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
            raise ImageDecodeError(f"cannot decode image {where}: {error}") from error

    def __getitem__(self, index: int) -> torch.Tensor:
        name = self.names[index]
        # Pillow (libjpeg-turbo) decodes; torchvision.io's decoders are deprecated since 0.29.
        if self.zipped:
            data, where = self._read_zip_member(name)
            source: str | Path | io.BytesIO = io.BytesIO(data)
        else:
            source = where = self.root / name
        try:
            with Image.open(source) as handle:
                image = rgb_tensor(handle.convert("RGB"))
        except FileNotFoundError as error:
            raise ImageMissingError(f"cannot decode image {where}: no such file") from error
        except (UnidentifiedImageError, OSError) as error:
            raise ImageDecodeError(f"cannot decode image {where}: {error}") from error
        return self.transform(image)


def list_images(root: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[str]:
    """Sorted file names of the images directly inside the folder (or zip) ``root``."""
    root = Path(root)
    if not (root.is_dir() or is_zip_path(root)):
        raise FileNotFoundError(f"image folder {root} does not exist")
    names = sorted(image_names_in(root, suffixes))
    if not names:
        raise FileNotFoundError(f"image folder {root} holds no {'/'.join(suffixes)} files")
    return names
