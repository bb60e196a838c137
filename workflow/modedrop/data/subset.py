"""A ``celeba_format`` folder from some CelebA images and the official metadata.

Public copies of part of CelebA (a course repository's first 10,000 aligned faces, a Kaggle
sample) hold images but not the three text files. This module filters the official
``list_attr_celeba.txt``, ``list_eval_partition.txt`` and ``identity_CelebA.txt`` to the images
present and lays the result out as a ``celeba_format`` data set (see ``config/README.md``)::

    python -m modedrop.data.subset --images path/to/celebA --metadata path/to/celeba \\
        --out data/celeba_subset

Images are linked, not copied (``--copy`` copies them). Every image must be an official CelebA
name: one that is not is an error naming it, since its attributes would be unknown.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    read_attributes,
    read_identities,
    read_partition,
    write_attributes,
    write_identities,
    write_partition,
)

__all__ = ["IMAGE_SUFFIXES", "make_celeba_subset"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _image_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"--images {folder}: not a folder. Point it at the image folder.")
    files = {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }
    if not files:
        raise ValueError(f"--images {folder}: no {'/'.join(IMAGE_SUFFIXES)} files in it.")
    return files


def make_celeba_subset(
    images: str | os.PathLike[str],
    metadata: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    copy: bool = False,
) -> int:
    """Write ``out`` as a ``celeba_format`` folder of the images in ``images``.

    ``metadata`` holds the three official text files. Rows keep the official order. Returns
    the number of images.
    """
    files = _image_files(Path(images))
    metadata, out = Path(metadata), Path(out)
    attributes = read_attributes(metadata / ATTRIBUTE_FILE)
    unknown = sorted(set(files) - set(attributes.index))
    if unknown:
        raise ValueError(
            f"{len(unknown)} image(s) in {images} are not CelebA image names "
            f"(first: {unknown[:5]}); the metadata has no attributes for them. Remove them."
        )
    names = [name for name in attributes.index if name in files]
    write_dir = out / IMAGE_DIR
    write_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = write_dir / name
        if target.exists() or target.is_symlink():
            target.unlink()
        if copy:
            shutil.copyfile(files[name], target)
        else:
            target.symlink_to(files[name].resolve())
    write_attributes(out / ATTRIBUTE_FILE, attributes.loc[names])
    write_partition(out / PARTITION_FILE, read_partition(metadata / PARTITION_FILE).loc[names])
    write_identities(out / IDENTITY_FILE, read_identities(metadata / IDENTITY_FILE).loc[names])
    return len(names)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m modedrop.data.subset", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--images", required=True, help="folder of CelebA images (000001.jpg …)")
    parser.add_argument("--metadata", required=True, help="folder of the official text files")
    parser.add_argument("--out", required=True, help="the celeba_format folder to write")
    parser.add_argument("--copy", action="store_true", help="copy the images instead of links")
    args = parser.parse_args(argv)
    n = make_celeba_subset(args.images, args.metadata, args.out, copy=args.copy)
    print(f"{args.out}: {n} images; use it with dataset: celeba_format, celeba_format.root")


if __name__ == "__main__":
    main()
