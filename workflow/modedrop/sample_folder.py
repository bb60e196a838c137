"""A folder (or zip) of sample images as a generator: most users have samples, not a network.

A config entry ``generators: {my_samples: {images: path/to/folder_or.zip}}`` names a folder of
PNG/JPEG files (searched recursively) or a ``.zip`` of them. The samples are packed once into a
*sample set* - ``images.zip`` with the names :func:`modedrop.generators.sample_set_names` and a
``sample_set.json`` description, exactly what a network generator's job writes - so the same
jobs embed it (one feature cache per encoder) and score it like the DCGAN runs.

Images are decoded like the data set's (:class:`modedrop.data.images.ImageList`: Pillow,
``convert("RGB")``; no EXIF rotation, alpha dropped), kept at their own size (the encoder's
preprocessing resizes them like every other image) and re-encoded losslessly as PNG, so the
encoder sees exactly the decoded pixels of the user's files.

Row order is the sorted order of the images' paths relative to the folder (or of the zip's
member names): deterministic, whatever order the file system lists them in. ``max_images``
keeps the first ``max_images`` of that order.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from modedrop.data.images import IMAGE_SUFFIXES
from modedrop.validation import positive_int

__all__ = [
    "DESCRIPTION_FILE",
    "IMAGES_FILE",
    "check_sample_source",
    "list_sample_images",
    "minimum_images",
    "pack_sample_set",
]

IMAGES_FILE = "images.zip"
DESCRIPTION_FILE = "sample_set.json"
_SKIPPED_FOLDERS = frozenset({"__MACOSX"})  # macOS resource forks that archivers add
# What a bad file raises while read (from a zip) and decoded; OSError covers truncated files.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    Image.DecompressionBombError,
)
_FIX = (
    "Set generators.{name}.images to a folder of PNG/JPEG files (searched recursively) or to "
    "a .zip of them; a relative path is read from the working directory ({cwd})."
)


def _is_sample(relative: str) -> bool:
    """An image file that is not hidden and not inside a hidden or __MACOSX folder."""
    parts = relative.split("/")
    if any(p.startswith(".") or p in _SKIPPED_FOLDERS for p in parts):
        return False
    return os.path.splitext(parts[-1])[1].lower() in IMAGE_SUFFIXES


def _is_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip"


def list_sample_images(path: str | Path) -> list[str]:
    """The sample images of the folder or zip ``path``, sorted: the row order of the set.

    A folder is searched recursively; names are paths relative to it, with ``/`` separators.
    For a zip, names are its member names. Files count when their suffix is ``.png``,
    ``.jpg`` or ``.jpeg`` (any case); directories, hidden files, files in hidden folders and
    ``__MACOSX/`` members are skipped.

    Raises ``FileNotFoundError`` when ``path`` does not exist and ``ValueError`` when it is
    neither a folder nor a readable ``.zip`` file.
    """
    path = Path(path)
    if path.is_dir():
        names = []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            relative = Path(folder).relative_to(path).as_posix()
            names += [f if relative == "." else f"{relative}/{f}" for f in files]
        return sorted(n for n in names if _is_sample(n))
    if _is_zip(path):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [i.filename for i in archive.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as error:
            raise ValueError(f"{path} is not a readable zip file ({error}).") from error
        return sorted(n for n in members if _is_sample(n))
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    raise ValueError(f"{path} is neither a folder nor a .zip file.")


def minimum_images(generated_block: Mapping) -> int:
    """The fewest images a sample set may have to be scored (config block ``generated``).

    * PRDC (Naeem et al., 2020) finds each generated sample's k-th nearest neighbour among the
      *other* generated samples (the radii of recall and coverage): ``n >= prdc_k + 1``;
    * the Fréchet distance needs the set's covariance matrix: ``n >= 2`` (KID's subsets are
      ``min(kid_subset_size, n)`` rows and need no more);
    * attribute attribution (prevalence of each attribute in the set) needs ``n >= 1``.

    Hence ``max(2, prdc_k + 1)``.
    """
    prdc_k = positive_int(generated_block.get("prdc_k", 5), "generated.prdc_k")
    return max(2, prdc_k + 1)


def _source_error(path: Path, name: str, problem: str) -> ValueError:
    fix = _FIX.format(name=name, cwd=os.getcwd())
    return ValueError(f"generator {name!r}: images path {path} {problem}. {fix}")


def check_sample_source(
    path: str | Path, name: str, minimum: int, *, max_images: int | None = None
) -> int:
    """The number of images the generator ``name`` will pack from ``path``; the parse-time check.

    Checks that ``path`` exists, is a folder or a zip, holds at least one image and at least
    ``minimum`` of them (after ``max_images``, when given). Each failure raises a ValueError
    naming the generator, the path, what was found and how to fix it.
    """
    path = Path(path)
    minimum = positive_int(minimum, "minimum")
    if max_images is not None:
        max_images = positive_int(max_images, f"generators.{name}.max_images")
    try:
        names = list_sample_images(path)
    except FileNotFoundError:
        raise _source_error(path, name, "does not exist") from None
    except ValueError as error:
        problem = str(error).removeprefix(f"{path} ").rstrip(".")
        raise _source_error(path, name, problem) from None
    kind = "folder" if path.is_dir() else "zip"
    if not names:
        raise ValueError(
            f"generator {name!r}: empty {kind}: {path} holds no {'/'.join(IMAGE_SUFFIXES)} "
            f"images{_other_files(path)}. Put the sample images there (PNG or JPEG, any size; "
            f"subfolders are searched too) or point generators.{name}.images at the right "
            "folder or zip."
        )
    n = len(names) if max_images is None else min(len(names), max_images)
    if n < minimum:
        found = f"{len(names)} images" + (
            f", of which generators.{name}.max_images = {max_images} are used"
            if n < len(names)
            else ""
        )
        raise ValueError(
            f"generator {name!r}: the {kind} {path} holds {found}, but scoring a sample set "
            f"needs at least {minimum} (more than generated.prdc_k for PRDC's nearest "
            "neighbours within the set, and 2 for the Fréchet distance's covariance). Add "
            f"images{', raise max_images' if n < len(names) else ''} or lower generated.prdc_k."
        )
    return n


def _other_files(path: Path) -> str:
    """', only found: a, b' - what the folder or zip holds instead of images, for messages."""
    if path.is_dir():
        found = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    else:
        with zipfile.ZipFile(path) as archive:
            found = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    if not found:
        return " (it is empty)"
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return f" (found only: {shown})"


def _decode(data: bytes | Path):
    """RGB uint8 PIL image of an image file's bytes or path, decoded like the data set's
    (:class:`modedrop.data.images.ImageList`: Pillow's ``convert("RGB")``)."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as handle:
        return handle.convert("RGB")


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _write_json(path: Path, description: Mapping) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def pack_sample_set(
    path: str | Path, out_dir: str | Path, *, name: str, max_images: int | None = None
) -> dict:
    """Pack the sample images of the folder or zip ``path`` into a sample set in ``out_dir``.

    Decodes every image (RGB uint8, any size) and writes it losslessly as PNG into
    ``out_dir/images.zip`` under the names ``sample_set_names(n)``, in the sorted order of
    :func:`list_sample_images` (the first ``max_images`` of it when given), then
    ``out_dir/sample_set.json``: the generator's name, the source path, the source file of
    each row, the image sizes seen and ``n_images``. Returns that description.

    Every image is decoded before anything is kept: unreadable files raise one ValueError
    naming all of them, and the temporary zip is removed, so a failed pack leaves no sample set.
    Both files are written under temporary names and renamed (an interrupted job leaves none).
    """
    from modedrop.generators import sample_set_names

    path = Path(path)
    out_dir = Path(out_dir)
    if max_images is not None:
        max_images = positive_int(max_images, f"generators.{name}.max_images")
    n = check_sample_source(path, name, 1, max_images=max_images)
    available = list_sample_images(path)
    sources = available[:n]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / IMAGES_FILE
    tmp = target.with_name(f".{target.name}.tmp")
    bad: list[str] = []
    sizes: Counter[str] = Counter()
    archive_in = zipfile.ZipFile(path) if _is_zip(path) else None
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for source, row_name in zip(sources, sample_set_names(n), strict=True):
                try:
                    data = archive_in.read(source) if archive_in else path / source
                    image = _decode(data)
                except _DECODE_ERRORS as error:
                    bad.append(f"{source} ({error})")
                    continue
                sizes[f"{image.width}x{image.height}"] += 1
                if not bad:  # after the first bad file only decoding continues, to list all
                    info = zipfile.ZipInfo(row_name, date_time=(1980, 1, 1, 0, 0, 0))
                    archive.writestr(info, _png_bytes(image))  # fixed dates: identical re-runs
        if bad:
            raise ValueError(
                f"generator {name!r}: {len(bad)} of the {n} images in {path} cannot be decoded: "
                + "; ".join(bad)
                + ". Re-export or delete these files (PNG or JPEG), then run again."
            )
        os.replace(tmp, target)
    finally:
        if archive_in is not None:
            archive_in.close()
        tmp.unlink(missing_ok=True)
    description = {
        "generator": name,
        "kind": "sample folder",
        "source": str(path),
        "max_images": max_images,
        "n_available": len(available),
        "n_images": n,
        # Row i of the set (sample_set_names(n)[i]) is source_images[i].
        "source_images": sources,
        "image_sizes": dict(sorted(sizes.items())),  # "WIDTHxHEIGHT": count
    }
    _write_json(out_dir / DESCRIPTION_FILE, description)
    return description
