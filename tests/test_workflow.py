"""The Snakemake workflow end to end on a tiny config, and dry-run plans of partial re-runs.

The workflow (Snakefile + workflow/) is copied into a temporary directory so that a test can
edit a library module there and ask Snakemake what it would re-run, without touching the
checkout. The scripts import the installed ``modedrop`` package.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import copy_workflow, planned_jobs, snakemake, write_config

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


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A finished tiny study in a copy of the workflow."""
    workdir = copy_workflow(tmp_path_factory.mktemp("study"))
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
