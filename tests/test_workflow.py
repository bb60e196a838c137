"""The Snakemake workflow end to end on a tiny config, and dry-run plans of partial re-runs.

The workflow (Snakefile + workflow/) is copied into a temporary directory so that a test can
edit a library module there and ask Snakemake what it would re-run, without touching the
checkout. The scripts import the installed ``modedrop`` package.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO

pytestmark = pytest.mark.slow

TINY = {
    "dataset": "synthfaces",
    "synthfaces": {"n_images": 320, "n_identities": 32, "width": 48, "height": 59, "seed": 0},
    "seeds": [1, 2],
    "experiments": {
        "drop_male": {"attributes": ["Male"], "size": 48},
        "drop_two": {"attributes": ["Smiling", "Young"], "size": 16},
    },
    "features": {"batch_size": 16, "device": "cpu", "threads": 2},
    "metrics": {
        "rankme": {"encoders": ["efficientnet_lite0"]},
        "inception_score": {"encoders": ["efficientnet_lite0"], "splits": 2},
    },
    "rankme_known_rank": {"dim": 16, "ranks": [2, 4], "n_samples": [8, 32, 128], "repeats": 2},
}


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Scripts run with the interpreter found on PATH: make it this test's interpreter.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> job count of a dry run (parsed from Snakemake's 'Job stats' table)."""
    result = snakemake(workdir, "--dry-run", *args)
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1]
    counts = collections.Counter()
    for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE):
        if rule != "total":
            counts[rule] = int(count)
    return dict(counts)


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> str:
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(config))
    return str(path.relative_to(workdir))


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A finished tiny study in a copy of the workflow."""
    workdir = tmp_path_factory.mktemp("study")
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    for folder in ("workflow", "envs"):
        shutil.copytree(
            REPO / folder, workdir / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (workdir / "config").mkdir()
    write_config(workdir, TINY)
    snakemake(workdir)
    return workdir


def test_tiny_study_produces_every_output(study):
    results = study / "results" / "synthfaces"
    for experiment in TINY["experiments"]:
        for seed in TINY["seeds"]:
            for condition in ("unbiased", "target", "nontarget"):
                index = results / "indices" / experiment / f"seed{seed}" / f"{condition}.txt"
                assert len(index.read_text().split()) == TINY["experiments"][experiment]["size"]
                for metric in ("rankme", "inception_score"):
                    json_name = f"seed{seed}_{condition}.json"
                    assert (
                        results / "metrics" / experiment / "efficientnet_lite0" / metric / json_name
                    ).exists()
        for ext in ("png", "pdf"):
            assert (
                results / "figures" / f"{experiment}_efficientnet_lite0.{ext}"
            ).stat().st_size > 0
    assert (results / "features" / "efficientnet_lite0.h5").exists()
    assert (results / "figures" / "rankme_known_rank.png").exists()
    assert (results / "figures" / "dataset_sample.png").exists()
    table = pd.read_csv(results / "tables" / "metrics.csv")
    assert list(table.columns) == [
        "dataset",
        "experiment",
        "encoder",
        "metric",
        "condition",
        "seed",
        "value",
    ]
    assert len(table) == 2 * 2 * 3 * 2  # experiments x seeds x conditions x metrics
    summary = pd.read_csv(results / "tables" / "summary.csv")
    assert {"mean", "std", "n", "ci95_low", "ci95_high"} <= set(summary.columns)
    assert (summary["n"] == 2).all()
    # Logs and benchmarks exist for every job kind.
    assert (results / "logs" / "features" / "efficientnet_lite0.log").exists()
    assert (results / "benchmarks" / "features" / "efficientnet_lite0.tsv").exists()


def test_second_run_has_nothing_to_do(study):
    assert planned_jobs(study) == {}


def test_changing_inception_score_params_reruns_only_is_jobs(study):
    config = {**TINY, "metrics": {**TINY["metrics"]}}
    config["metrics"]["inception_score"] = {**TINY["metrics"]["inception_score"], "rng_seed": 7}
    plan = planned_jobs(study, "--configfile", write_config(study, config, "is.yaml"))
    assert plan == {"inception_score": 12, "aggregate": 1, "plot_experiment": 2, "all": 1}


def test_adding_a_seed_embeds_nothing(study):
    config = {**TINY, "seeds": [1, 2, 3]}
    plan = planned_jobs(study, "--configfile", write_config(study, config, "seed.yaml"))
    assert plan == {
        "build_indices": 2,
        "rankme": 6,
        "inception_score": 6,
        "aggregate": 1,
        "plot_experiment": 2,
        "all": 1,
    }


def test_editing_the_rankme_module_reruns_only_rankme_jobs(study):
    module = study / "workflow" / "modedrop" / "metrics" / "rankme.py"
    original = module.read_text()
    try:
        module.write_text(original + "\n# an edit\n")
        plan = planned_jobs(study)
    finally:
        module.write_text(original)
        os.utime(module, (0, 0))  # back to "older than every output"
    assert plan == {
        "rankme": 12,
        "rankme_known_rank": 1,
        "aggregate": 1,
        "plot_experiment": 2,
        "all": 1,
    }


def test_infeasible_experiment_fails_before_any_job(study):
    config = {**TINY, "experiments": {"too_big": {"attributes": ["Bald"], "size": 300}}}
    result = snakemake(
        study, "--dry-run", "--configfile", write_config(study, config, "bad.yaml"), check=False
    )
    assert result.returncode != 0
    assert "largest feasible size" in result.stdout + result.stderr


def test_unknown_config_key_fails_with_its_path(study):
    config = {**TINY, "feature": {}}
    result = snakemake(
        study, "--dry-run", "--configfile", write_config(study, config, "typo.yaml"), check=False
    )
    assert result.returncode != 0
    assert "'feature' was unexpected" in result.stdout + result.stderr
