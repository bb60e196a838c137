"""Which attributes did my generator drop? The `attribution` target end to end on folders of
samples (issue 18's acceptance): a folder (and a zip) of men-free faces names Male as dropped, a
folder of faces drawn like the data set names nothing, and bad folders fail before heavy work.

The samples are synthfaces drawn with another seed: new identities the probes never saw, like a
generator's output, with known labels. Both the data set and the samples have few images per
identity: attributes are traits of an identity, and a set drawn from a few dozen identities
really differs from the data set in them (which the attribution rightly names).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modedrop.data.celeba_format import read_attributes
from modedrop.data.synthfaces import generate
from workflow_helpers import copy_workflow, snakemake, write_config

pytestmark = pytest.mark.slow

SIZE = {"width": 48, "height": 59}
ENCODER = "efficientnet_lite0"
FOLDERS = ("male_absent", "male_absent_zip", "uniform")


def study_config(generators: dict, scored=()) -> dict:
    return {
        "dataset": "synthfaces",
        "studies": ["attribution"],
        "synthfaces": {"n_images": 800, "n_identities": 400, **SIZE, "seed": 0},
        "seeds": [1],
        "experiments": {"drop_male": {"attributes": ["Male"], "size": 64}},
        "reference": {"size": 64},
        "features": {"batch_size": 32, "device": "cpu", "threads": 2},
        "metrics": {"rankme": {"encoders": [ENCODER]}},
        "generators": generators,
        "generated": {"generators": list(scored), "encoders": [ENCODER]},
        "attribution": {"generators": sorted(generators), "bootstrap": 500, "folds": 3},
    }


def sample_folders(root: Path) -> dict:
    """Men-free faces as a folder and a zip, and faces drawn like the data set, from synthfaces
    with another seed; their labels."""
    source = root / "source"
    generate(source, n_images=400, n_identities=400, seed=7, progress=False, **SIZE)
    labels = read_attributes(source / "list_attr_celeba.txt")
    images = source / "img_align_celeba"
    women = labels.index[labels["Male"] < 0][:150]
    uniform = np.random.default_rng(0).choice(labels.index, size=150, replace=False)
    for name, chosen in (("male_absent", women), ("uniform", uniform)):
        (root / name).mkdir()
        for image in chosen:
            shutil.copy(images / image, root / name / image)
    with zipfile.ZipFile(root / "male_absent.zip", "w") as archive:
        for image in women:
            archive.write(images / image, arcname=image)
    return {
        "male_absent": {"images": str(root / "male_absent")},
        "male_absent_zip": {"images": str(root / "male_absent.zip")},
        "uniform": {"images": str(root / "uniform")},
    }


@pytest.fixture(scope="module")
def attribution_study(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("attribution_study"))
    generators = sample_folders(workdir)
    write_config(workdir, study_config(generators))
    snakemake(workdir, "attribution", timeout=1800)
    return workdir


def tables(workdir: Path) -> dict[str, pd.DataFrame]:
    root = workdir / "results" / "synthfaces" / "tables"
    return {
        name: pd.read_csv(root / f"{name}.csv")
        for name in ("attribute_probes", "attribution", "attribution_validation")
    }


def generator_rows(attribution: pd.DataFrame, generator: str) -> pd.DataFrame:
    rows = attribution[(attribution["set_kind"] == "generator")]
    return rows[rows["generator"] == generator]


@pytest.mark.parametrize("folder", ["male_absent", "male_absent_zip"])
def test_a_folder_without_men_names_male_as_dropped(attribution_study, folder):
    rows = generator_rows(tables(attribution_study)["attribution"], folder)
    male = rows[(rows["kind"] == "attribute") & (rows["feature"] == "Male")].iloc[0]
    assert male["measurable"]
    assert abs(male["estimate"]) <= 0.05
    assert male["ci_high"] < male["baseline_prevalence"]
    assert male["named"] == "under"


def test_a_folder_and_its_zip_are_one_sample_set(attribution_study):
    attribution = tables(attribution_study)["attribution"]
    folder, archive = (
        generator_rows(attribution, g).reset_index(drop=True)
        for g in ("male_absent", "male_absent_zip")
    )
    pd.testing.assert_frame_equal(
        folder.drop(columns="generator"), archive.drop(columns="generator")
    )


def test_a_folder_drawn_like_the_data_set_names_nothing(attribution_study):
    rows = generator_rows(tables(attribution_study)["attribution"], "uniform")
    assert rows["measurable"].any()
    assert not rows["named"].fillna("").astype(bool).any(), rows[rows["named"].notna()]


def test_probes_table_and_figures(attribution_study):
    probes = tables(attribution_study)["attribute_probes"]
    assert set(probes["encoder"]) == {ENCODER}
    male = probes.set_index("attribute").loc["Male"]
    assert male["auroc"] > 0.8 and male["measurable"]
    figures = attribution_study / "results" / "synthfaces" / "figures" / "attribution"
    for generator in FOLDERS:
        assert (figures / "generated" / f"{generator}_{ENCODER}.png").stat().st_size > 0
    assert (figures / "conditions" / f"drop_male_target_{ENCODER}.png").stat().st_size > 0


def test_the_validation_table_covers_the_planted_drops(attribution_study):
    validation = tables(attribution_study)["attribution_validation"]
    drops = validation[(validation["role"] == "drop") & (validation["feature"] == "Male")]
    assert {"target", "nontarget"} <= set(drops["condition"])


def bad_folder_error(tmp_path: Path, make_folder, scored=()) -> str:
    workdir = copy_workflow(tmp_path / "study")
    folder = make_folder(tmp_path)
    write_config(workdir, study_config({"mine": {"images": str(folder)}}, scored))
    result = snakemake(workdir, "attribution", check=False)
    assert result.returncode != 0
    assert not (workdir / "results" / "synthfaces" / "features").exists()
    return result.stdout + result.stderr


def test_an_empty_folder_fails_at_parse_time_naming_it(tmp_path):
    def empty(root):
        (root / "empty").mkdir()
        return root / "empty"

    text = bad_folder_error(tmp_path, empty)
    assert str(tmp_path / "empty") in text and "Job stats" not in text


def test_a_corrupt_image_is_named_before_any_embedding(tmp_path):
    def corrupt(root):
        folder = root / "corrupt"
        folder.mkdir()
        rng = np.random.default_rng(0)
        from PIL import Image

        for i in range(20):
            Image.fromarray(rng.integers(0, 255, (59, 48, 3), dtype=np.uint8)).save(
                folder / f"{i:03d}.jpg"
            )
        data = (folder / "007.jpg").read_bytes()
        (folder / "007.jpg").write_bytes(data[: len(data) // 3])
        return folder

    text = bad_folder_error(tmp_path, corrupt)
    assert "007.jpg" in text


def test_too_few_images_for_a_metric_fail_at_parse_time(tmp_path):
    def ten(root):
        folder = root / "ten"
        folder.mkdir()
        from PIL import Image

        for i in range(10):
            Image.new("RGB", (48, 59), (i * 20, 0, 0)).save(folder / f"{i}.png")
        return folder

    workdir = copy_workflow(tmp_path / "study")
    folder = ten(tmp_path)
    config = study_config({"mine": {"images": str(folder)}}, scored=["mine"])
    config["generated"]["prdc_k"] = 10
    write_config(workdir, config)
    result = snakemake(workdir, "attribution", "--dry-run", check=False)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert str(folder) in text and "10" in text
