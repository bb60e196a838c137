"""The tiny study is a file users can run: `.test/config/config.yaml` (the snakemake-workflows
convention), planned from the repository root exactly as the README's smoke run does."""

from __future__ import annotations

import yaml

from conftest import REPO
from workflow_helpers import TINY, TINY_CONFIG, planned_jobs


def test_the_workflow_tests_run_the_smoke_config():
    assert TINY == yaml.safe_load(TINY_CONFIG.read_text())
    assert TINY["studies"] == ["mode_drop"] and TINY["dataset"] == "synthfaces"


def test_the_readme_smoke_run_plans_the_tiny_study_in_its_own_folder(tiny_study):
    """`snakemake --cores 2 --directory .test` from the checkout plans every job that the tests'
    tiny study ran, and nothing in the checkout's own results/ (the default study's home)."""
    from_root = planned_jobs(REPO, "--directory", ".test", "--forceall")
    assert from_root == planned_jobs(tiny_study, "--forceall")
    assert {"extract_features", "aggregate", "headline", "plot_detection"} <= from_root.keys()
    readme = (REPO / "README.md").read_text()
    assert "snakemake --cores 2 --directory .test" in readme
