"""CelebA metadata readers/writers: the real files' quirks, precise errors, byte-exact output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    CELEBA_MD5,
    IDENTITY_FILE,
    PARTITION_FILE,
    CelebAFormatError,
    md5sum,
    read_attributes,
    read_identities,
    read_partition,
    write_attributes,
    write_identities,
    write_partition,
)

# ../shared next to the repository root, so the tests work from any clone beside it.
CELEBA = Path(__file__).resolve().parents[2] / "shared" / "celeba"


def _real(name: str) -> Path:
    path = CELEBA / name
    if not path.exists():
        pytest.skip(f"official CelebA metadata not found at {CELEBA} (contributors only)")
    return path


def _attr_row(name: str, values: list[int]) -> str:
    """A row as the official file writes it: first value unpadded, later ones width 2."""
    return f"{name} {values[0]}" + "".join(f" {v:2d}" for v in values[1:])


def _attr_text(rows: dict[str, list[int]], newline: str = "\r\n", final: bool = True) -> str:
    lines = [str(len(rows)), " ".join(ATTRIBUTE_NAMES) + " "]
    lines += [_attr_row(name, values) for name, values in rows.items()]
    return newline.join(lines) + (newline if final else "")


def _rows(n: int = 3) -> dict[str, list[int]]:
    rng = np.random.default_rng(0)
    return {
        f"{i:06d}.jpg": rng.choice([-1, 1], len(ATTRIBUTE_NAMES)).tolist() for i in range(1, n + 1)
    }


def _write(tmp_path: Path, text: str, name: str = ATTRIBUTE_FILE) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("ascii"))
    return path


# ----- reading: quirks --------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("final", [True, False])
def test_read_attributes_layouts(tmp_path, newline, final):
    rows = _rows()
    df = read_attributes(_write(tmp_path, _attr_text(rows, newline, final)))
    assert df.shape == (3, 40)
    assert list(df.columns) == list(ATTRIBUTE_NAMES)
    assert df.index.name == "image" and df.index.tolist() == list(rows)
    assert (df.dtypes == np.int8).all()
    np.testing.assert_array_equal(df.to_numpy(), np.array(list(rows.values())))


def test_read_attributes_irregular_spacing(tmp_path):
    rows = _rows(2)
    text = _attr_text(rows).replace(" -1", "  -1").replace("  1", "   1")
    df = read_attributes(_write(tmp_path, text))
    np.testing.assert_array_equal(df.to_numpy(), np.array(list(rows.values())))


def test_read_partition_and_identities(tmp_path):
    part = read_partition(_write(tmp_path, "000001.jpg 0\r\n000002.jpg 2\r\n", PARTITION_FILE))
    assert part.dtype == np.int8 and part.tolist() == [0, 2] and part.index.name == "image"
    ids = read_identities(_write(tmp_path, "000001.jpg 2880\n000002.jpg  7", IDENTITY_FILE))
    assert ids.dtype == np.int64 and ids.tolist() == [2880, 7]


def test_empty_partition(tmp_path):
    assert len(read_partition(_write(tmp_path, "", PARTITION_FILE))) == 0


# ----- reading: errors name file, line and fix --------------------------------------------------


def _error(path: Path, reader=read_attributes) -> str:
    with pytest.raises(CelebAFormatError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_error_bad_count(tmp_path):
    text = _attr_text(_rows()).replace("3\r\n", "4\r\n", 1)
    assert "line 1" in _error(_write(tmp_path, text))
    assert "line 1" in _error(_write(tmp_path, "abc\r\n" + text.split("\r\n", 1)[1]))


def test_error_bad_header(tmp_path):
    text = _attr_text(_rows())
    unknown = text.replace("Young", "Old")
    assert "line 2" in _error(_write(tmp_path, unknown)) and "Old" in _error(
        tmp_path / ATTRIBUTE_FILE
    )
    dup = text.replace("Young", "Male")
    assert "duplicated" in _error(_write(tmp_path, dup))
    assert "line 2" in _error(_write(tmp_path, "3\r\n"))


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda row: row + "  1", "found 42 field"),  # one value too many
        (lambda row: row[:-3], "found 40 field"),  # one value too few
        (lambda row: row[:-2] + " 0", "'0'"),  # not ±1
        (lambda row: row[:-2] + "x1", "'x1'"),  # not a number
    ],
)
def test_error_bad_row_names_line(tmp_path, edit, words):
    lines = _attr_text(_rows(5)).split("\r\n")
    lines[4] = edit(lines[4])  # line 5 of the file
    message = _error(_write(tmp_path, "\r\n".join(lines)))
    assert "line 5" in message and words in message


def test_error_duplicate_image(tmp_path):
    rows = _rows(3)
    text = _attr_text(rows).replace("000003.jpg", "000001.jpg")
    message = _error(_write(tmp_path, text))
    assert "line 5" in message and "line 3" in message


def test_error_partition_and_identity(tmp_path):
    bad = _write(tmp_path, "000001.jpg 0\r\n000002.jpg 3\r\n", PARTITION_FILE)
    assert "line 2" in _error(bad, read_partition)
    bad = _write(tmp_path, "000001.jpg 5\r\n000002.jpg 0\r\n", IDENTITY_FILE)
    assert "line 2" in _error(bad, read_identities)
    bad = _write(tmp_path, "000001.jpg 5 6\r\n", IDENTITY_FILE)
    assert "line 1" in _error(bad, read_identities)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_attributes(tmp_path / ATTRIBUTE_FILE)


# ----- writing ----------------------------------------------------------------------------------


def test_write_attributes_layout_and_round_trip(tmp_path):
    rows = _rows(4)
    source = _write(tmp_path, _attr_text(rows))
    df = read_attributes(source)
    out = tmp_path / "out.txt"
    write_attributes(out, df)
    assert out.read_bytes() == source.read_bytes()
    pd.testing.assert_frame_equal(read_attributes(out), df)


def test_write_two_column_layout(tmp_path):
    index = pd.Index(["000001.jpg", "000002.jpg"], name="image")
    write_partition(tmp_path / "p.txt", pd.Series([0, 2], index=index, dtype=np.int8))
    assert (tmp_path / "p.txt").read_bytes() == b"000001.jpg 0\r\n000002.jpg 2\r\n"
    write_identities(tmp_path / "i.txt", pd.Series([10177, 3], index=index))
    assert (tmp_path / "i.txt").read_bytes() == b"000001.jpg 10177\r\n000002.jpg 3\r\n"


def test_write_validation(tmp_path):
    df = pd.DataFrame(1, index=["a.jpg"], columns=list(ATTRIBUTE_NAMES), dtype=np.int8)
    with pytest.raises(ValueError, match="-1 or 1"):
        write_attributes(tmp_path / "a.txt", df.replace(1, 0))
    with pytest.raises(ValueError, match="missing"):
        write_attributes(tmp_path / "a.txt", df.drop(columns="Male"))
    with pytest.raises(ValueError, match="whitespace"):
        write_attributes(tmp_path / "a.txt", df.set_axis(["a b.jpg"]))
    with pytest.raises(ValueError, match="0 \\(train\\)"):
        write_partition(tmp_path / "p.txt", pd.Series([3], index=["a.jpg"]))
    with pytest.raises(ValueError, match=">= 1"):
        write_identities(tmp_path / "i.txt", pd.Series([0], index=["a.jpg"]))
    with pytest.raises(ValueError, match="duplicated"):
        write_identities(tmp_path / "i.txt", pd.Series([1, 2], index=["a.jpg", "a.jpg"]))
    assert not list(tmp_path.iterdir())  # nothing half-written


# ----- the real files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reader", "writer"),
    [
        (PARTITION_FILE, read_partition, write_partition),
        (IDENTITY_FILE, read_identities, write_identities),
        (ATTRIBUTE_FILE, read_attributes, write_attributes),
    ],
)
def test_real_files_round_trip_bytes(tmp_path, name, reader, writer):
    source = _real(name)
    data = reader(source)
    assert len(data) == 202_599
    writer(tmp_path / name, data)
    assert md5sum(tmp_path / name) == CELEBA_MD5[name]


def test_real_attributes_content():
    df = read_attributes(_real(ATTRIBUTE_FILE))
    assert list(df.columns) == list(ATTRIBUTE_NAMES)
    assert df.index[0] == "000001.jpg" and df.index[-1] == "202599.jpg"
    assert 0.41 < (df["Male"] > 0).mean() < 0.42
    assert df.loc["000007.jpg", "5_o_Clock_Shadow"] == 1  # the unpadded-first-value quirk


# ----- the statistics fitter's numerics ---------------------------------------------------------


def test_bivariate_normal_cdf_matches_scipy():
    from modedrop.data.fit_celeba_stats import bivariate_normal_cdf

    for h, k, rho in [(0.3, -0.5, 0.7), (1.5, 1.2, 0.99), (-2.0, 0.1, -0.95), (2.5, 2.5, 0.9999)]:
        ref = multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([h, k])
        assert bivariate_normal_cdf(h, k, rho) == pytest.approx(ref, abs=1e-7)


def test_tetrachoric_recovers_latent_correlation():
    from scipy.special import ndtri

    from modedrop.data.fit_celeba_stats import (
        bivariate_normal_cdf,
        nearest_correlation,
        tetrachoric,
    )

    p_i, p_j, rho = 0.3, 0.6, -0.45
    p_11 = bivariate_normal_cdf(ndtri(p_i), ndtri(p_j), rho)
    assert tetrachoric(p_i, p_j, p_11) == pytest.approx(rho, abs=1e-6)
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])  # not PSD
    fixed = nearest_correlation(bad)
    assert np.allclose(np.diag(fixed), 1.0) and np.linalg.eigvalsh(fixed).min() > 0
