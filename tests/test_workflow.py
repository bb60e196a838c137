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

from modedrop.indices import read_index
from workflow_helpers import (
    FEATURES,
    TINY,
    assert_references_balanced_and_held_out,
    planned_jobs,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.slow

CONDITIONS = ("unbiased", "target", "nontarget", "dose50", "collapse50")
OUTPUTS_PER_CONDITION = 1 + 1 + 1 + 2 + 6 + 1 + 4 + 3 + 2 + 1 + 3  # every output of every family


@pytest.fixture
def study(tiny_study) -> Path:
    """The finished tiny study (conftest's session fixture)."""
    return tiny_study


def test_tiny_study_produces_every_output(study):
    results = study / "results" / "synthfaces"
    assert_references_balanced_and_held_out(results, TINY)
    for seed in TINY["seeds"]:
        for experiment, block in TINY["experiments"].items():
            folder = results / "indices" / experiment / f"seed{seed}"
            assert len(read_index(folder / "reference.txt")) == TINY["reference"]["size"]
            for condition in CONDITIONS:
                assert len(read_index(folder / f"{condition}.txt")) == block["size"]
            for metric in TINY["metrics"]:
                encoder = "pixels" if metric == "ms_ssim" else FEATURES
                assert (
                    results / "metrics" / experiment / encoder / metric / f"seed{seed}.json"
                ).exists()
    figures = [
        *(f"{e}_{enc}" for e in TINY["experiments"] for enc in (FEATURES, "pixels")),
        "detection_heatmap",
        *(f"{axis}_response_{e}" for axis in ("dose", "collapse") for e in TINY["experiments"]),
        *(
            f"{kind}_{e}_{FEATURES}"
            for kind in ("ndb_bins", "duplicate_pairs")
            for e in TINY["experiments"]
        ),
        "rankme_known_rank",
        "dataset_sample",
        *(f"paper/{e}_{FEATURES}" for e in TINY["experiments"]),
        "null_calibration",
        "headline",
    ]
    for name in figures:
        for ext in ("png", "pdf"):
            assert (results / "figures" / f"{name}.{ext}").stat().st_size > 0, name
    assert (results / "features" / f"{FEATURES}.h5").exists()
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
    assert len(table) == 2 * 2 * len(CONDITIONS) * OUTPUTS_PER_CONDITION
    summary = pd.read_csv(results / "tables" / "summary.csv")
    assert {"mean", "std", "n", "ci95_low", "ci95_high"} <= set(summary.columns)
    assert (summary["n"] == 2).all()
    for name in ("null_calibration", "headline"):
        assert len(pd.read_csv(results / "tables" / f"{name}.csv")) == OUTPUTS_PER_CONDITION
    detection = pd.read_csv(results / "tables" / "detection.csv")
    assert len(detection) == 2 * (len(CONDITIONS) - 1) * OUTPUTS_PER_CONDITION
    assert {"hedges_g", "p_holm", "auroc", "detected"} <= set(detection.columns)
    # Logs and benchmarks exist for every job kind.
    assert (results / "logs" / "features" / f"{FEATURES}.log").exists()
    assert (results / "benchmarks" / "features" / f"{FEATURES}.tsv").exists()
    assert (
        results / "benchmarks" / "metrics" / "drop_male" / "pixels" / "ms_ssim" / "seed1.tsv"
    ).exists()


def test_second_run_has_nothing_to_do(study):
    assert planned_jobs(study) == {}


# Figures that read the tables re-run whenever a metric value may change.
TABLE_FIGURES = {
    "aggregate": 1,
    "plot_experiment": 4,
    "plot_detection": 1,
    "plot_response": 4,
    "plot_paper": 2,
    "null_calibration": 1,
    "headline": 1,
    "all": 1,
}


@pytest.mark.parametrize(
    ("family", "change", "extra"),
    [
        ("inception_score", {"rng_seed": 7}, {}),
        ("ndb", {"bins": 5}, {"plot_ndb_bins": 2}),
        ("ms_ssim", {"pairs": 21}, {}),
        ("duplicates", {"threshold_quantile": 0.99}, {"plot_duplicate_pairs": 2}),
    ],
)
def test_changing_one_metrics_params_reruns_only_that_metric(study, family, change, extra):
    config = {**TINY, "metrics": {**TINY["metrics"]}}
    config["metrics"][family] = {**TINY["metrics"][family], **change}
    plan = planned_jobs(study, "--configfile", write_config(study, config, f"{family}.yaml"))
    assert plan == {family: 4, **TABLE_FIGURES, **extra}


def test_adding_a_seed_embeds_nothing(study):
    config = {**TINY, "seeds": [1, 2, 3]}
    plan = planned_jobs(study, "--configfile", write_config(study, config, "seed.yaml"))
    assert plan == {
        "build_indices": 2,
        **{family: 2 for family in TINY["metrics"]},
        **TABLE_FIGURES,
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
    assert plan == {"rankme": 4, "rankme_known_rank": 1, **TABLE_FIGURES}


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
