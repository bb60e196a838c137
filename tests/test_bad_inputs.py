"""Bad input, clear errors, nothing lost.

Each bad input (a broken attribute file, an unknown attribute, an infeasible size, a config
with an unknown key or a wrong type, a missing data folder) must fail with a message that says
what is wrong (file and line, key path, value) and how to fix it; where the workflow can see
it at parse time, ``snakemake --dry-run`` must fail there, before any job has run (no
``results/`` folder). A job that does fail must leave no output a later run could trust.

Unit tests run in milliseconds; the workflow tests (``slow``) are dry runs of a copy of the
workflow on a 64-image ``celeba_format`` folder, a few seconds each, plus one real run whose
only job (the data-set check) fails at once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from celeba_fixture import make_celeba_folder
from conftest import REPO
from modedrop.allocation import check_feasible
from modedrop.config import ConfigError, check_schema, check_semantics
from modedrop.data.celeba import DatasetNotFoundError, locate_celeba, missing_celeba_message
from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    CelebAFormatError,
    read_attributes,
    write_attributes,
)
from modedrop.design import CONDITIONS, Design, Experiment, InfeasibleExperimentError
from modedrop.indices import write_index
from workflow_helpers import snakemake, write_config

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
N_ROWS = 8


# ----- attribute file: unit level -------------------------------------------------------------


def attribute_lines(tmp_path: Path) -> list[str]:
    """An official-layout attribute file of N_ROWS random rows, as its lines (CRLF dropped)."""
    rng = np.random.default_rng(0)
    names = pd.Index([f"{i:06d}.jpg" for i in range(1, N_ROWS + 1)], name="image")
    values = rng.choice(np.array([-1, 1], np.int8), (N_ROWS, len(ATTRIBUTE_NAMES)))
    path = tmp_path / "source.txt"
    write_attributes(path, pd.DataFrame(values, names, list(ATTRIBUTE_NAMES)))
    return path.read_bytes().decode().split("\r\n")


def attribute_error(tmp_path: Path, lines: list[str]) -> str:
    """The message of reading the attribute file made of ``lines``; it must name the file."""
    path = tmp_path / ATTRIBUTE_FILE
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(CelebAFormatError) as info:
        read_attributes(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line ")
    return message


def test_intact_attribute_file_reads(tmp_path):
    # The control for every broken-file test below: the unedited lines are accepted.
    path = tmp_path / ATTRIBUTE_FILE
    path.write_bytes("\r\n".join(attribute_lines(tmp_path)).encode())
    assert read_attributes(path).shape == (N_ROWS, len(ATTRIBUTE_NAMES))


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (lambda row: row.rsplit(" ", 1)[0].rstrip(), "39 value(s) (1 missing)"),
        (lambda row: row + " -1", "41 value(s) (1 too many)"),
    ],
)
def test_wrong_column_count_names_line_and_counts(tmp_path, edit, found):
    lines = attribute_lines(tmp_path)
    lines[5] = edit(lines[5])  # line 6: the 4th image row
    message = attribute_error(tmp_path, lines)
    assert message.split(":")[0].endswith("line 6")
    assert "000004.jpg" in message and found in message
    assert "with 40 value(s) separated by spaces" in message  # how a row must read


@pytest.mark.parametrize("value", ["0", "2"])
def test_value_other_than_pm1_names_line_image_and_attribute(tmp_path, value):
    lines = attribute_lines(tmp_path)
    fields = lines[6].split(" ")
    fields[-1] = value  # the last attribute: Young
    lines[6] = " ".join(fields)
    message = attribute_error(tmp_path, lines)
    assert "line 7" in message and f"value {value!r} is not -1 or 1" in message
    assert "(Young, value 40 of 40) for image 000005.jpg" in message
    assert "1 (has the attribute) or -1 (has not)" in message


def test_missing_count_line_is_recognised(tmp_path):
    lines = attribute_lines(tmp_path)[1:]
    message = attribute_error(tmp_path, lines)
    assert "line 1 holds the attribute names, so the count line is missing" in message
    assert f"Insert the number of images as line 1 (this file has {N_ROWS} rows)" in message


def test_missing_names_line_is_recognised(tmp_path):
    lines = attribute_lines(tmp_path)
    del lines[1]
    message = attribute_error(tmp_path, lines)
    assert "line 2 is an image row (000001.jpg ...)" in message
    assert "attribute-name line is missing" in message
    assert "Insert the 40 attribute names as line 2" in message and "5_o_Clock_Shadow" in message


def test_header_with_a_missing_name_lists_it(tmp_path):
    lines = attribute_lines(tmp_path)
    lines[1] = lines[1].replace("Narrow_Eyes ", "")
    message = attribute_error(tmp_path, lines)
    assert "line 2" in message and "39 names instead of 40" in message
    assert "absent: ['Narrow_Eyes']" in message


def test_count_line_disagreeing_with_the_rows(tmp_path):
    lines = attribute_lines(tmp_path)
    lines[0] = str(N_ROWS + 2)
    message = attribute_error(tmp_path, lines)
    assert f"line 1: the count line says {N_ROWS + 2} images but the file has {N_ROWS}" in message
    assert f"Set line 1 to {N_ROWS}" in message


def test_non_ascii_byte_names_its_line(tmp_path):
    lines = attribute_lines(tmp_path)
    lines[3] = lines[3].replace(".jpg", ".jpg\u00a0", 1)
    path = tmp_path / ATTRIBUTE_FILE
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    with pytest.raises(CelebAFormatError, match=r"line 4: non-ASCII byte 0xc2") as info:
        read_attributes(path)
    assert "plain ASCII" in str(info.value)


# ----- config: unknown keys, wrong types, unknown attributes ----------------------------------


def schema_message(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        check_schema(config, SCHEMA)
    return str(info.value)


def test_unknown_nested_key_names_its_path_and_the_likely_key(config):
    config["metrics"]["rankme"]["centre"] = True
    message = schema_message(config)
    assert "metrics.rankme: Additional properties are not allowed ('centre' was unexpected)" in (
        message
    )
    assert "Keys allowed here: batch_size, center, encoders, epsilon." in message
    assert "Did you mean 'center' for 'centre'?" in message


def test_quoted_number_is_named_with_its_path(config):
    config["features"]["batch_size"] = "16"
    message = schema_message(config)
    assert "features.batch_size: '16' is not of type 'integer'" in message
    assert "Remove the quotes" in message


def test_wrong_type_gives_the_default_as_an_example(config):
    config["seeds"] = "1"
    message = schema_message(config)
    assert "seeds: '1' is not of type 'array'. The default is [1, 2, 3, 4, 5]." in message
    assert "Remove the quotes" not in message  # 1 unquoted is not a list either


def test_unknown_attribute_suggests_the_spelling(config):
    config["experiments"]["drop_male"]["attributes"] = ["Moustache"]
    with pytest.raises(ConfigError) as info:
        check_semantics(config)
    message = str(info.value)
    assert "experiments.drop_male.attributes: unknown attribute(s) ['Moustache']" in message
    assert "Did you mean 'Mustache' for 'Moustache'?" in message
    assert "'Random' is a random half" in message


# ----- data folder not found ------------------------------------------------------------------


def test_missing_celeba_root_names_files_and_key(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        locate_celeba(root)
    message = str(info.value)
    assert f"CelebA folder {root} (`celeba.root`) does not exist" in message
    for name in (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE, f"{IMAGE_DIR}/000001.jpg"):
        assert f"{root}/{name}" in message
    assert f"set `celeba.root: {root}`" in message and "celeba.download: true" in message


def test_missing_celeba_format_root_names_its_own_key(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        locate_celeba(root, official=False)
    message = str(info.value)
    assert f"celeba_format folder {root} (`celeba_format.root`) does not exist" in message
    for name in (ATTRIBUTE_FILE, PARTITION_FILE, IDENTITY_FILE, IMAGE_DIR):
        assert f"{root}/{name}" in message
    # A celeba_format folder is never downloaded: the message must not offer it.
    assert "download" not in message and "set `celeba_format.root`" in message


def test_null_celeba_format_root_says_which_key_to_set():
    message = missing_celeba_message(None, official=False)
    assert "`celeba_format.root` is null" in message
    assert f"<folder>/{ATTRIBUTE_FILE}" in message and "set `celeba_format.root`" in message


# ----- infeasible sizes -----------------------------------------------------------------------


def skewed_table(n: int = 400) -> pd.DataFrame:
    """A is +1 in a quarter of the images, B in half, independently (cells 50/50/150/150)."""
    names = pd.Index([f"{i:06d}.jpg" for i in range(1, n + 1)], name="image")
    a = np.where(np.arange(n) % 4 == 0, 1, -1)
    b = np.where(np.arange(n) // 4 % 2 == 0, 1, -1)
    return pd.DataFrame({"A": a, "B": b}, index=names).astype(np.int8)


def largest_in(message: str) -> int:
    match = re.search(r"every condition of the design can reach is (\d+): set [\w.]+: \1", message)
    assert match, message
    return int(match.group(1))


def experiment(size: int, attributes=("A",), balance: str = "joint") -> Experiment:
    return Experiment("e", tuple(attributes), dict.fromkeys(CONDITIONS, size), balance)


@pytest.mark.parametrize(
    ("attributes", "design", "step"),
    [
        (("A",), Design(), 2),  # unbiased fits 200, but target (A=+1) only 100
        (("A",), Design(doses=(0.5,)), 2),  # dose50 needs 3/4 of the size from A=+1
        (("A", "B"), Design(doses=(0.25,)), 4),  # joint: 4 x 50 fits, sizes step by 2^2
    ],
)
def test_infeasible_size_names_the_largest_size_that_fits_every_condition(attributes, design, step):
    table = skewed_table()
    with pytest.raises(InfeasibleExperimentError) as info:
        check_feasible(table, experiment(160, attributes), design)
    message = str(info.value)
    assert "is infeasible" in message and "Lower experiments.e.size" in message
    largest = largest_in(message)
    assert info.value.largest == largest
    check_feasible(table, experiment(largest, attributes), design)  # the advice works ...
    with pytest.raises(InfeasibleExperimentError):  # ... and is the largest that does
        check_feasible(table, experiment(largest + step, attributes), design)


def collapse_experiment(unbiased: int) -> Experiment:
    # One size for all conditions can never run out of images to bring in (a single size is at
    # most the smaller half of the data set), so the collapse check binds with per-condition
    # sizes: a large unbiased subset and small target and nontarget ones.
    return Experiment("e", ("B",), {"unbiased": unbiased, "target": 10, "nontarget": 10})


def test_infeasible_collapse_fails_in_the_feasibility_check():
    # 400 images, 100 held out: an unbiased subset of 200 leaves 100 to bring in, and the
    # collapse fraction 0.75 would replace 150. Before, only build_indices found it, in the job.
    table = skewed_table()
    reference = table.index[1::4].tolist()
    design = Design(collapse=(0.75,))
    with pytest.raises(InfeasibleExperimentError) as info:
        check_feasible(table, collapse_experiment(200), design, exclude=reference)
    message = str(info.value)
    assert "condition 'collapse75': replacing 150 of the 200 unbiased images" in message
    assert "only 100 more (300 images besides the reference)" in message
    assert "Lower experiments.e.size, the fraction in intra_mode_collapse.fractions" in message
    # 170 + 128 <= 300 < 172 + 129; 171 is not an even split of the unbiased subset.
    assert "The largest unbiased size this fraction allows is 170." in message
    assert info.value.largest == 170
    check_feasible(table, collapse_experiment(170), design, exclude=reference)
    with pytest.raises(InfeasibleExperimentError):
        check_feasible(table, collapse_experiment(172), design, exclude=reference)


# ----- nothing half-written -------------------------------------------------------------------


def test_index_writer_never_leaves_a_truncated_file(tmp_path, monkeypatch):
    path = tmp_path / "indices" / "unbiased.txt"
    write_index(path, ["000001.jpg", "000002.jpg"])
    before = path.read_bytes()
    real_write_text = Path.write_text

    def crash_halfway(self, text, *args, **kwargs):  # a job killed in the middle of a write
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError("killed")

    monkeypatch.setattr(Path, "write_text", crash_halfway)
    with pytest.raises(OSError, match="killed"):
        write_index(path, [f"{i:06d}.jpg" for i in range(1, 100)])
    assert path.read_bytes() == before  # the old complete file, not half of the new one
    assert sorted(p.name for p in path.parent.iterdir()) == ["unbiased.txt"]  # no leftovers


# ----- the workflow: parse-time failures, no job run ------------------------------------------


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """A valid 64-image celeba_format folder (synthetic metadata, stand-in JPEGs)."""
    return make_celeba_folder(tmp_path_factory.mktemp("tiny") / "celeba", None, n_rows=64)


@pytest.fixture
def data(tiny_folder, tmp_path) -> Path:
    """A copy of the tiny folder that a test may break."""
    return Path(shutil.copytree(tiny_folder, tmp_path / "data"))


def format_config(root: Path | None, **changes) -> dict:
    config = {
        "dataset": "celeba_format",
        "celeba_format": {"root": None if root is None else str(root)},
        "seeds": [1, 2],
        "experiments": {"drop_male": {"attributes": ["Male"], "size": 8}},
        "reference": {"size": 8},
        "metrics": {"rankme": {"encoders": ["efficientnet_lite0"]}},
    }
    return {**config, **changes}


def failed_dry_run(workdir: Path, config: dict) -> str:
    """Snakemake's output of a dry run that must fail before any job (no results/ folder)."""
    write_config(workdir, config)
    result = snakemake(workdir, "--dry-run", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert not (workdir / "results").exists()
    return output


@pytest.mark.slow
def test_intact_folder_plans_the_study(workdir, data):
    # The control for every dry run below: without the breakage the workflow parses and plans.
    write_config(workdir, format_config(data))
    result = snakemake(workdir, "--dry-run", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify_dataset" in result.stdout and "build_indices" in result.stdout


def break_row(path: Path, line: int, edit: Callable[[bytes], bytes]) -> None:
    """Replace line ``line`` (1-based) of a CRLF metadata file by ``edit`` of it."""
    lines = path.read_bytes().split(b"\r\n")
    lines[line - 1] = edit(lines[line - 1])
    path.write_bytes(b"\r\n".join(lines))


def drop_line(path: Path, line: int) -> None:
    lines = path.read_bytes().split(b"\r\n")
    del lines[line - 1]
    path.write_bytes(b"\r\n".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "damage", "words"),
    [
        (7, lambda p: break_row(p, 7, lambda row: row[:-3]), "found 40 field(s)"),
        (
            12,
            lambda p: break_row(p, 12, lambda row: row[:-2] + b" 2"),
            "value '2' is not -1 or 1 (Young, value 40 of 40)",
        ),
        (2, lambda p: drop_line(p, 2), "attribute-name line is missing"),
    ],
    ids=["value-missing", "value-2", "no-names-line"],
)
def test_broken_attribute_file_stops_the_dry_run(workdir, data, line, damage, words):
    path = data / ATTRIBUTE_FILE
    damage(path)
    output = failed_dry_run(workdir, format_config(data))
    assert f"{path}, line {line}:" in output and words in output


@pytest.mark.slow
def test_unknown_attribute_stops_the_dry_run(workdir, data):
    experiments = {"drop_male": {"attributes": ["male"], "size": 8}}
    output = failed_dry_run(workdir, format_config(data, experiments=experiments))
    assert "experiments.drop_male.attributes: unknown attribute(s) ['male']" in output
    assert "Did you mean 'Male' for 'male'?" in output


@pytest.mark.slow
def test_wrong_types_and_unknown_key_stop_the_dry_run(workdir, data):
    config = format_config(data, seeds="1", features={"batch_size": "16"})
    config["metrics"]["rankme"]["centre"] = True
    output = failed_dry_run(workdir, config)
    assert "seeds: '1' is not of type 'array'" in output
    assert "features.batch_size: '16' is not of type 'integer'. Remove the quotes" in output
    assert "metrics.rankme: Additional properties are not allowed ('centre'" in output


@pytest.mark.slow
def test_infeasible_collapse_stops_the_dry_run(workdir, data):
    # 64 images - 8 held out - 40 unbiased = 16 to bring in, but collapse100 replaces 40.
    size = {"unbiased": 40, "target": 4, "nontarget": 4}
    config = format_config(
        data,
        experiments={"drop_male": {"attributes": ["Random"], "size": size}},
        intra_mode_collapse={"fractions": [1.0]},
        dose_response={"fractions": []},
    )
    output = failed_dry_run(workdir, config)
    assert "condition 'collapse100': replacing 40 of the 40 unbiased images" in output
    assert "The largest unbiased size this fraction allows is 28" in output
    assert "balanced held-out reference of 8 images excluded" in output


@pytest.mark.slow
def test_missing_celeba_root_stops_the_dry_run(workdir, tmp_path):
    root = tmp_path / "no_celeba"
    config = format_config(None, dataset="celeba", celeba={"root": str(root), "download": False})
    output = failed_dry_run(workdir, config)
    assert f"CelebA folder {root} (`celeba.root`) does not exist" in output
    assert f"{root}/{ATTRIBUTE_FILE}" in output and f"{root}/{IMAGE_DIR}/000001.jpg" in output


@pytest.mark.slow
def test_null_celeba_format_root_stops_the_dry_run(workdir):
    output = failed_dry_run(workdir, format_config(None))
    assert "`celeba_format.root` is null" in output and "set `celeba_format.root`" in output


# ----- the workflow: a failing job leaves no output -------------------------------------------


@pytest.mark.slow
def test_bad_identity_file_fails_in_the_data_check_and_leaves_nothing(workdir, data):
    # Only the attribute file is read at parse time: a broken identity file passes the dry run
    # and stops the first job, verify_dataset - before any index or feature is computed.
    path = data / IDENTITY_FILE
    break_row(path, 5, lambda row: row.split(b" ")[0] + b" 0")
    write_config(workdir, format_config(data))
    results = workdir / "results" / "celeba_format"
    target = results / "indices" / "drop_male" / "seed1" / "conditions.json"
    result = snakemake(workdir, str(target.relative_to(workdir)), check=False)
    assert result.returncode != 0
    log = (results / "logs" / "verify_dataset.log").read_text()
    assert f"{path}, line 5: identity '0' is not a positive integer" in log
    assert "Identities are whole numbers from 1" in log
    assert not (results / "data" / "manifest.json").exists()
    assert not (results / "indices").exists() and not (results / "features").exists()
