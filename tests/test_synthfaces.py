"""The synthetic data set: CelebA-like statistics, determinism, on-disk format, visibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    read_attributes,
    read_identities,
    read_partition,
)
from modedrop.data.synthfaces import generate
from modedrop.data.synthfaces_appearance import identity_params
from modedrop.data.synthfaces_metadata import (
    NONVISUAL_ATTRIBUTES,
    SPLIT_FRACTIONS,
    VISIBLE_ATTRIBUTES,
    SynthMetadata,
    image_rng,
    load_celeba_stats,
    sample_metadata,
)
from modedrop.data.synthfaces_render import DEFAULT_HEIGHT, DEFAULT_WIDTH, render_face


@pytest.fixture(scope="module")
def big() -> SynthMetadata:
    return sample_metadata(20_000, 1_000, seed=3)


def test_attribute_lists_partition_the_40():
    assert set(VISIBLE_ATTRIBUTES) | set(NONVISUAL_ATTRIBUTES) == set(ATTRIBUTE_NAMES)
    assert not set(VISIBLE_ATTRIBUTES) & set(NONVISUAL_ATTRIBUTES)
    required = {"Male", "Young", "Attractive", "High_Cheekbones", "Smiling", "Eyeglasses",
                "Wearing_Hat", "Bald", "Bangs", "Blond_Hair", "Black_Hair", "Mustache",
                "Pale_Skin", "Heavy_Makeup"}  # fmt: skip
    assert required <= set(VISIBLE_ATTRIBUTES) and len(NONVISUAL_ATTRIBUTES) >= 5


def test_embedded_stats_are_valid():
    stats = load_celeba_stats()
    assert stats.attributes == ATTRIBUTE_NAMES
    assert np.allclose(np.diag(stats.correlation), 1.0)
    np.linalg.cholesky(stats.correlation)  # positive definite after rounding
    assert ((stats.prevalence > 0) & (stats.prevalence < 1)).all()
    assert ((stats.identity_persistence >= 0) & (stats.identity_persistence <= 1)).all()


def test_sample_metadata_layout_and_determinism():
    a = sample_metadata(300, 20, seed=5)
    b = sample_metadata(300, 20, seed=5)
    c = sample_metadata(300, 20, seed=6)
    pd.testing.assert_frame_equal(a.attributes, b.attributes)
    pd.testing.assert_series_equal(a.identities, b.identities)
    assert not a.attributes.equals(c.attributes)
    assert a.attributes.index[0] == "000001.jpg" and a.attributes.index[-1] == "000300.jpg"
    assert list(a.attributes.columns) == list(ATTRIBUTE_NAMES)
    assert (a.attributes.dtypes == np.int8).all() and a.partition.dtype == np.int8
    assert a.identities.dtype == np.int64 and set(a.identities) == set(range(1, 21))


def test_marginals_match_celeba(big):
    stats = load_celeba_stats()
    observed = (big.attributes > 0).mean().to_numpy()
    # 1,000 identities carry most of the variance of persistent attributes: ~±0.03 at 3 sigma.
    assert np.abs(observed - stats.prevalence).max() < 0.04


def test_identity_persistence_and_correlations(big):
    male = big.attributes["Male"] > 0
    share = male.groupby(big.identities).mean()
    assert np.maximum(share, 1 - share).mean() >= 0.95
    smiling = (big.attributes["Smiling"] > 0).groupby(big.identities).mean()
    assert np.maximum(smiling, 1 - smiling).mean() < 0.85  # per-image attributes vary
    corr = (big.attributes > 0).astype(float).corr()
    assert corr.loc["Male", "Heavy_Makeup"] < -0.3
    assert corr.loc["Male", "Wearing_Lipstick"] < -0.3
    assert corr.loc["Smiling", "High_Cheekbones"] > 0.3


def test_partition_by_identity(big):
    per_identity = big.partition.groupby(big.identities).nunique()
    assert (per_identity == 1).all()
    shares = big.partition.value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, SPLIT_FRACTIONS, atol=0.02)
    assert big.partition.is_monotonic_increasing  # CelebA order: train, valid, test


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"n_images": 5, "n_identities": 6, "seed": 0}, ValueError, "Lower n_identities"),
        ({"n_images": 0, "n_identities": 0, "seed": 0}, ValueError, ">= 1"),
        ({"n_images": 5.0, "n_identities": 1, "seed": 0}, TypeError, "integer"),
        ({"n_images": 5, "n_identities": 1, "seed": -1}, ValueError, "seed"),
    ],
)
def test_sample_metadata_validation(kwargs, error, words):
    with pytest.raises(error, match=words):
        sample_metadata(**kwargs)


def _render(attrs: dict, identity: int = 3, index: int = 11) -> np.ndarray:
    img = render_face(attrs, identity_params(0, identity), image_rng(0, index))
    assert img.size == (DEFAULT_WIDTH, DEFAULT_HEIGHT) and img.mode == "RGB"
    return np.asarray(img)


def test_visible_attributes_change_pixels_nonvisual_do_not():
    base = dict(sample_metadata(40, 4, seed=0).attributes.iloc[0])
    reference = _render(base)
    np.testing.assert_array_equal(reference, _render(base))  # deterministic
    for name in VISIBLE_ATTRIBUTES:
        flipped = {**base, name: -base[name]}
        assert np.abs(_render(flipped).astype(int) - reference).sum() > 0, name
    for name in NONVISUAL_ATTRIBUTES:
        flipped = {**base, name: -base[name]}
        np.testing.assert_array_equal(_render(flipped), reference, err_msg=name)


def test_eyeglasses_are_planted_where_the_eyes_are():
    base = {a: -1 for a in ATTRIBUTE_NAMES} | {"Young": 1, "No_Beard": 1}
    diff = np.abs(_render(base | {"Eyeglasses": 1}).astype(int) - _render(base)).sum(axis=2)
    rows = np.nonzero(diff.sum(axis=1))[0]
    assert diff.sum() > 2000
    assert 0.25 * DEFAULT_HEIGHT < rows.mean() < 0.6 * DEFAULT_HEIGHT


def test_render_validates_inputs():
    with pytest.raises(KeyError, match="full row"):
        render_face({"Male": 1}, identity_params(0, 1), image_rng(0, 0))
    with pytest.raises(ValueError, match=">= 32"):
        render_face({}, identity_params(0, 1), image_rng(0, 0), width=8)


def _tree_bytes(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_writes_celeba_layout(tmp_path):
    kwargs = {"n_images": 40, "n_identities": 5, "width": 40, "height": 49, "seed": 1}
    meta = generate(tmp_path / "one", workers=1, progress=False, **kwargs)
    root = tmp_path / "one"
    files = sorted((root / IMAGE_DIR).iterdir())
    assert [p.name for p in files] == [f"{i:06d}.jpg" for i in range(1, 41)]
    for path in files[:5]:
        with Image.open(path) as img:
            assert img.format == "JPEG" and img.size == (40, 49)
    pd.testing.assert_frame_equal(read_attributes(root / ATTRIBUTE_FILE), meta.attributes)
    pd.testing.assert_series_equal(read_identities(root / IDENTITY_FILE), meta.identities)
    pd.testing.assert_series_equal(read_partition(root / PARTITION_FILE), meta.partition)
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # temp folder gone

    generate(tmp_path / "two", workers=2, progress=False, **kwargs)
    assert _tree_bytes(root) == _tree_bytes(tmp_path / "two")


def test_generate_refuses_to_clobber(tmp_path):
    kwargs = {"n_images": 3, "n_identities": 1, "width": 32, "height": 40, "progress": False}
    (tmp_path / "other.txt").write_text("kept")
    generate(tmp_path, **kwargs)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        generate(tmp_path, **kwargs)
    generate(tmp_path, seed=2, overwrite=True, **kwargs)
    assert (tmp_path / "other.txt").read_text() == "kept"
    with pytest.raises(ValueError, match="jpeg_quality"):
        generate(tmp_path / "x", jpeg_quality=101, **kwargs)
