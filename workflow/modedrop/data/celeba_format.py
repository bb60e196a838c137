"""Readers and writers for CelebA's three metadata files, byte-exact in both directions.

The study only ever sees CelebA (or the synthetic ``synthfaces`` stand-in) through these files,
so the readers validate everything a later step relies on (counts, the 40 attribute names,
values, unique image names) and say which file, which line and what to fix. The writers
reproduce the official layout byte for byte, so that a synthetic data set is indistinguishable
from the real one on disk and real files survive a read/write round trip unchanged.

Layout of the official files (all CRLF, ASCII):

* ``list_attr_celeba.txt``: line 1 the image count, line 2 the 40 attribute names each
  followed by one space, then one row per image: the file name, one space and the first value
  unpadded (``-1`` or ``1``), then every later value right-aligned in width 2 after one space
  (so runs of one or two spaces: ``000007.jpg 1 -1  1``).
* ``list_eval_partition.txt``: ``000001.jpg 0`` (0 train, 1 valid, 2 test).
* ``identity_CelebA.txt``: ``000001.jpg 2880`` (identities numbered from 1).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ATTRIBUTE_FILE",
    "ATTRIBUTE_NAMES",
    "CELEBA_MD5",
    "IDENTITY_FILE",
    "IMAGE_DIR",
    "PARTITION_FILE",
    "PARTITION_NAMES",
    "CelebAFormatError",
    "md5sum",
    "read_attributes",
    "read_identities",
    "read_partition",
    "write_attributes",
    "write_identities",
    "write_partition",
]

ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IDENTITY_FILE = "identity_CelebA.txt"
IMAGE_DIR = "img_align_celeba"

#: Official MD5 sums (the ones torchvision's ``CelebA`` class checks).
CELEBA_MD5: dict[str, str] = {
    ATTRIBUTE_FILE: "75e246fa4810816ffd6ee81facbd244c",
    PARTITION_FILE: "d32c9cbf5e040fd4025c592c306e6668",
    IDENTITY_FILE: "32bd1bd63d3c78cd57e08160ec5ed1e2",
}

#: The 40 attributes in the column order of ``list_attr_celeba.txt``.
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)

#: Meaning of the values of ``list_eval_partition.txt``.
PARTITION_NAMES: dict[int, str] = {0: "train", 1: "valid", 2: "test"}

_NEWLINE = b"\r\n"


class CelebAFormatError(ValueError):
    """A CelebA metadata file does not have the official layout; the message says where."""


def md5sum(path: str | os.PathLike[str]) -> str:
    """Hex MD5 of a file, read in chunks (compare with :data:`CELEBA_MD5`)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _fail(path: Path, line: int | None, problem: str, fix: str) -> CelebAFormatError:
    where = f"{path}" if line is None else f"{path}, line {line}"
    return CelebAFormatError(f"{where}: {problem}. {fix}")


def _read_lines(path: Path) -> list[str]:
    """All lines without their terminators (CRLF or LF); a final newline is optional."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; pass the path of the CelebA metadata file "
            f"(e.g. <data_dir>/{path.name})."
        )
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1  # the line to open in an editor
        raise _fail(
            path,
            line,
            f"non-ASCII byte {data[err.start]:#04x} at byte offset {err.start}",
            "The CelebA metadata files are plain ASCII; remove the byte or re-download the file.",
        ) from err
    return text.splitlines()


def _data_lines(lines: list[str], first: int) -> Iterable[tuple[int, str]]:
    """(1-based line number, line) of the non-blank data lines from index ``first``."""
    for i in range(first, len(lines)):
        if lines[i].strip():
            yield i + 1, lines[i]


@dataclass(frozen=True)
class _Values:
    """What the values of a metadata file's rows may be, for the fast and the slow path.

    ``columns`` names each value (the attribute names, or one name for a two-column file) so an
    error can say which value is wrong; ``valid`` checks a whole int64 array at once; ``check``
    explains one bad field (``None`` when it is fine) and ``fix`` says what the values must be.
    """

    columns: tuple[str, ...]
    valid: Callable[[np.ndarray], np.ndarray]
    check: Callable[[str], str | None]
    fix: str


def _field_count_problem(fields: list[str], n_values: int) -> str:
    found = len(fields) - 1
    gap = "missing" if found < n_values else "too many"
    return (
        f"expected the image name and {n_values} value(s) ({n_values + 1} fields), found "
        f"{len(fields)} field(s): the name {fields[0]!r} and {found} value(s) "
        f"({abs(found - n_values)} {gap})"
    )


def _value_problem(fields: list[str], spec: _Values) -> str | None:
    """The first bad value of a row with the right field count, named by its column."""
    for position, (column, value) in enumerate(zip(spec.columns, fields[1:], strict=True), 1):
        problem = spec.check(value)
        if problem is not None:
            where = f" ({column}, value {position} of {len(spec.columns)})"
            return f"{problem}{where if len(spec.columns) > 1 else ''} for image {fields[0]}"
    return None


def _locate_row_problem(
    path: Path, lines: list[str], first: int, spec: _Values
) -> CelebAFormatError | None:
    """Slow path run only after the fast parser failed: find the first bad row and explain it."""
    n_values = len(spec.columns)
    seen: dict[str, int] = {}
    for number, line in _data_lines(lines, first):
        fields = line.split()
        if len(fields) != 1 + n_values:
            return _fail(
                path,
                number,
                _field_count_problem(fields, n_values),
                f"Each row must read '<image name> <value>...' with {n_values} value(s) "
                "separated by spaces; repair the row or re-download the file.",
            )
        problem = _value_problem(fields, spec)
        if problem is not None:
            return _fail(path, number, problem, spec.fix)
        if fields[0] in seen:
            return _fail(
                path,
                number,
                f"image {fields[0]} already listed on line {seen[fields[0]]}",
                "Each image must be listed once; remove the duplicate row.",
            )
        seen[fields[0]] = number
    return None


def _read_table(path: Path, skip: int, n_values: int) -> pd.DataFrame | None:
    """Fast whitespace-separated parse; ``None`` when the rows do not fit the expected shape."""
    try:
        table = pd.read_csv(
            path, sep=r"\s+", header=None, skiprows=skip, dtype={0: str}, engine="c"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    return table if table.shape[1] == 1 + n_values else None


def _integer_values(table: pd.DataFrame | None) -> np.ndarray | None:
    """The value columns as int64, or ``None`` when any is missing or not an integer."""
    if table is None:
        return None
    values = table.iloc[:, 1:]
    if not all(pd.api.types.is_integer_dtype(dt) for dt in values.dtypes):
        return None
    return values.to_numpy(np.int64)


def _parse_rows(
    path: Path, lines: list[str], skip: int, spec: _Values
) -> tuple[pd.Index, np.ndarray]:
    """Image names and an (n, n_values) int64 array, validated; precise errors on failure."""
    n_values = len(spec.columns)
    if not any(line.strip() for line in lines[skip:]):
        return pd.Index([], dtype=str, name="image"), np.zeros((0, n_values), np.int64)
    table = _read_table(path, skip, n_values)
    values = _integer_values(table)
    ok = (
        values is not None
        and bool(spec.valid(values).all())
        and not table.iloc[:, 0].duplicated().any()
    )
    if not ok:
        error = _locate_row_problem(path, lines, skip, spec)
        if error is None:  # pragma: no cover - the fast and slow paths disagree
            error = _fail(path, None, "the rows could not be parsed", "Re-download the file.")
        raise error
    names = pd.Index(table.iloc[:, 0].astype(str), name="image")
    return names, values


def _check_pm1(value: str) -> str | None:
    return None if value in ("1", "-1") else f"value {value!r} is not -1 or 1"


def _check_partition(value: str) -> str | None:
    return None if value in ("0", "1", "2") else f"partition {value!r} is not 0, 1 or 2"


def _check_identity(value: str) -> str | None:
    if re.fullmatch(r"[0-9]+", value) and int(value) >= 1:
        return None
    return f"identity {value!r} is not a positive integer"


_PARTITION_VALUES = _Values(
    columns=("partition",),
    valid=lambda v: (v >= 0) & (v <= 2),
    check=_check_partition,
    fix="A partition is 0 (train), 1 (valid) or 2 (test); correct it or re-download the file.",
)
_IDENTITY_VALUES = _Values(
    columns=("identity",),
    valid=lambda v: v >= 1,
    check=_check_identity,
    fix="Identities are whole numbers from 1; correct it or re-download the file.",
)


def _attribute_values(names: Sequence[str]) -> _Values:
    return _Values(
        columns=tuple(names),
        valid=lambda v: (v == 1) | (v == -1),
        check=_check_pm1,
        fix="Attribute values are 1 (has the attribute) or -1 (has not), never 0 or blank; "
        "correct the value or re-download the file.",
    )


def _looks_like_row(fields: list[str]) -> bool:
    """A data row (an image name then ±1 values) where the header should be."""
    return len(fields) > 1 and all(value in ("1", "-1") for value in fields[1:])


def _n_rows(lines: list[str], first: int) -> int:
    return sum(1 for _ in _data_lines(lines, first))


def _count_line_problem(path: Path, lines: list[str]) -> CelebAFormatError:
    """Line 1 is not a count: say whether it is the names line (count line missing)."""
    fields = lines[0].split()
    if fields and all(name in ATTRIBUTE_NAMES for name in fields):
        return _fail(
            path,
            1,
            "line 1 holds the attribute names, so the count line is missing",
            f"Insert the number of images as line 1 (this file has {_n_rows(lines, 1)} rows).",
        )
    if _looks_like_row(fields):
        return _fail(
            path,
            1,
            f"line 1 is an image row ({fields[0]} ...): the count and attribute-name lines are "
            "missing",
            f"Insert the number of images ({_n_rows(lines, 0)}) as line 1 and the 40 attribute "
            "names (in the order of ATTRIBUTE_NAMES) as line 2.",
        )
    return _fail(
        path,
        1,
        f"expected the number of images, found {lines[0].strip()[:40]!r}",
        "Line 1 must be a single non-negative integer: the number of image rows.",
    )


def _names_line_problem(path: Path, names: list[str]) -> CelebAFormatError:
    """Line 2 is not the 40 attribute names, each once: say what is wrong with it."""
    if _looks_like_row(names):
        return _fail(
            path,
            2,
            f"line 2 is an image row ({names[0]} ...), so the attribute-name line is missing",
            "Insert the 40 attribute names as line 2 (the order of the value columns, "
            f"officially: {' '.join(ATTRIBUTE_NAMES)}).",
        )
    unknown = [n for n in names if n not in ATTRIBUTE_NAMES]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    absent = [n for n in ATTRIBUTE_NAMES if n not in names]
    parts = (
        f"{len(names)} names instead of {len(ATTRIBUTE_NAMES)}",
        f"unknown: {unknown[:5]}" if unknown else "",
        f"duplicated: {duplicated}" if duplicated else "",
        f"absent: {absent[:5]}" if absent else "",
    )
    return _fail(
        path,
        2,
        f"bad attribute header ({', '.join(part for part in parts if part)})",
        "Line 2 must list each of the 40 CelebA attribute names exactly once "
        "(see ATTRIBUTE_NAMES in modedrop.data.celeba_format).",
    )


def _parse_attribute_header(path: Path, lines: list[str]) -> tuple[int, list[str]]:
    """Validate lines 1 (count) and 2 (names); return (declared count, names in file order)."""
    if len(lines) < 2:
        raise _fail(
            path,
            len(lines) + 1,
            "file ends before the count and header lines",
            "Line 1 must be the number of images and line 2 the 40 attribute names.",
        )
    count = lines[0].strip()
    if not count.isdigit():
        raise _count_line_problem(path, lines)
    names = lines[1].split()
    if sorted(names) != sorted(ATTRIBUTE_NAMES):
        raise _names_line_problem(path, names)
    return int(count), names


def _check_count(path: Path, declared: int, found: int) -> None:
    if declared != found:
        raise _fail(
            path,
            1,
            f"the count line says {declared} images but the file has {found} rows",
            f"Set line 1 to {found} if the rows are complete, or restore the missing rows.",
        )


def read_attributes(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``list_attr_celeba.txt`` into an int8 frame of ±1.

    Index: image file names (name ``"image"``); columns: the attribute names in file order
    (the official order is :data:`ATTRIBUTE_NAMES`). Rows are parsed by pandas' C parser, so the
    real 202,599-row file takes well under two seconds; the slow line-by-line scan runs only to
    explain a failure (file, line, image and attribute, and how to fix it).
    """
    path = Path(path)
    lines = _read_lines(path)
    declared, names = _parse_attribute_header(path, lines)
    index, values = _parse_rows(path, lines, 2, _attribute_values(names))
    _check_count(path, declared, len(index))
    return pd.DataFrame(values.astype(np.int8), index=index, columns=pd.Index(names))


def _read_two_column(path: Path, spec: _Values) -> tuple[pd.Index, np.ndarray]:
    lines = _read_lines(path)
    index, values = _parse_rows(path, lines, 0, spec)
    return index, values[:, 0]


def read_partition(path: str | os.PathLike[str]) -> pd.Series:
    """Read ``list_eval_partition.txt``: int8 Series (0 train, 1 valid, 2 test) by image name."""
    index, values = _read_two_column(Path(path), _PARTITION_VALUES)
    return pd.Series(values.astype(np.int8), index=index, name="partition")


def read_identities(path: str | os.PathLike[str]) -> pd.Series:
    """Read ``identity_CelebA.txt``: int64 Series of identity numbers (>= 1) by image name."""
    index, values = _read_two_column(Path(path), _IDENTITY_VALUES)
    return pd.Series(values.astype(np.int64), index=index, name="identity")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _check_index(index: pd.Index, what: str) -> list[str]:
    names = [str(n) for n in index]
    bad = [n for n in names if not n or any(c.isspace() for c in n) or not n.isascii()]
    if bad:
        raise ValueError(
            f"{what}: image names must be non-empty ASCII without whitespace, got {bad[:3]}; "
            "rename them (e.g. '000001.jpg')."
        )
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[:3].tolist()
        raise ValueError(f"{what}: duplicated image names {dup}; each image must appear once.")
    return names


def _atomic_write(path: Path, chunks: Iterable[bytes]) -> None:
    """Write via a temporary file in the same folder so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_attributes(path: str | os.PathLike[str], df: pd.DataFrame) -> None:
    """Write ``df`` (image names × attribute names, values ±1) in the official layout.

    Columns are written in the frame's order; they must be the 40 CelebA names, each once,
    so the result reads back with :func:`read_attributes`.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
    cols = [str(c) for c in df.columns]
    if sorted(cols) != sorted(ATTRIBUTE_NAMES):
        missing = sorted(set(ATTRIBUTE_NAMES) - set(cols))
        extra = sorted(set(cols) - set(ATTRIBUTE_NAMES))
        raise ValueError(
            f"df columns must be the 40 CelebA attributes; missing {missing[:5]}, "
            f"unexpected {extra[:5]}. Select them with df[list(ATTRIBUTE_NAMES)]."
        )
    values = df.to_numpy()
    if values.size and not np.isin(values, (-1, 1)).all():
        raise ValueError("df values must all be -1 or 1; map booleans with np.where(x, 1, -1).")
    names = _check_index(df.index, "write_attributes")
    # The official quirk: the first value follows the name after one space, unpadded
    # ("x.jpg 1 -1" / "x.jpg -1  1"); every later value is right-aligned in width 2 after one
    # space, i.e. three bytes each.
    positive = (values > 0).astype(np.intp)
    first = np.array([b" -1", b" 1"])[positive[:, 0]] if len(names) else []
    table = np.frombuffer(b" -1  1", np.uint8).reshape(2, 3)
    cells = table[positive[:, 1:]].reshape(len(names), -1)
    header = [f"{len(names)}".encode() + _NEWLINE, " ".join(cols).encode() + b" " + _NEWLINE]
    rows = (n.encode() + first[i] + cells[i].tobytes() + _NEWLINE for i, n in enumerate(names))
    _atomic_write(Path(path), [*header, b"".join(rows)])


def _write_two_column(path: Path, series: pd.Series, what: str) -> None:
    names = _check_index(series.index, what)
    values = series.to_numpy()
    rows = (f"{n} {int(v)}".encode() + _NEWLINE for n, v in zip(names, values, strict=True))
    _atomic_write(path, [b"".join(rows)])


def _as_integer_series(series: pd.Series, what: str) -> pd.Series:
    if not isinstance(series, pd.Series):
        raise TypeError(f"{what}: expected a pandas Series, got {type(series).__name__}.")
    if not pd.api.types.is_integer_dtype(series.dtype):
        raise ValueError(f"{what}: values must be integers, got dtype {series.dtype}; cast first.")
    return series


def write_partition(path: str | os.PathLike[str], series: pd.Series) -> None:
    """Write ``list_eval_partition.txt`` (values 0 train, 1 valid, 2 test) by image name."""
    series = _as_integer_series(series, "write_partition")
    if not series.isin([0, 1, 2]).all():
        raise ValueError("write_partition: values must be 0 (train), 1 (valid) or 2 (test).")
    _write_two_column(Path(path), series, "write_partition")


def write_identities(path: str | os.PathLike[str], series: pd.Series) -> None:
    """Write ``identity_CelebA.txt`` (positive identity numbers) by image name."""
    series = _as_integer_series(series, "write_identities")
    if len(series) and series.min() < 1:
        raise ValueError("write_identities: identities must be >= 1 (CelebA numbers from 1).")
    _write_two_column(Path(path), series, "write_identities")
