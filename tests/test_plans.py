"""Snakemake's plan as users meet it: config semantics, key order, and code edits.

* ``--configfile X`` is the whole study (X on top of the schema's defaults), asked from the
  repository root as the README's commands are.
* The same configuration in another key order plans nothing; a changed value re-plans what
  depends on it.
* Editing any library module plans exactly the rules whose scripts import it, directly or
  not - checked module by module against the standard library's ``modulefinder``, which
  derives the imports independently of the workflow's own ``modedrop.dependencies``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from workflow_helpers import (
    GAN_TARGETS,
    TINY,
    declared_inputs,
    downstream,
    dry_run_jobs,
    job_graph,
    library_modules_run_by,
    planned_jobs,
    rule_scripts,
    write_config,
)

pytestmark = pytest.mark.slow


def reversed_keys(value):
    """``value`` with the keys of every mapping in reverse order (lists unchanged)."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


# ----- a user's config is the whole study ------------------------------------------------------


def test_paper_config_from_the_repository_root_plans_only_its_experiments():
    jobs = dry_run_jobs(REPO, "--configfile", "config/celeba.yaml")
    indices = [job["wildcards"] for job in jobs if job["rule"] == "build_indices"]
    assert len(indices) == 15
    assert {w["experiment"] for w in indices} == {"drop_male", "drop_three", "control_random"}
    assert {w["seed"] for w in indices} == {"1", "2", "3", "4", "5"}


def test_config_override_applies_on_top_of_a_users_configfile():
    args = ("--configfile", "config/celeba.yaml")
    every_study = {job["rule"] for job in dry_run_jobs(REPO, *args)}
    mode_drop = {
        job["rule"] for job in dry_run_jobs(REPO, *args, "--config", "studies=[mode_drop]")
    }
    assert {"train_toy_gan", "train_dcgan", "build_indices"} <= every_study
    assert "build_indices" in mode_drop and not {"train_toy_gan", "train_dcgan"} & mode_drop


def test_list_overrides_on_the_command_line_are_typed():
    # Snakemake hands ``seeds=[1,2]`` over as ['1', '2']; the README documents this form.
    jobs = dry_run_jobs(REPO, "--configfile", "config/celeba.yaml", "--config", "seeds=[1,2]")
    indices = [job["wildcards"] for job in jobs if job["rule"] == "build_indices"]
    assert len(indices) == 6 and {w["seed"] for w in indices} == {"1", "2"}


def test_without_configfile_the_study_is_config_yaml():
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    jobs = dry_run_jobs(REPO, "--forceall")
    experiments = {j["wildcards"]["experiment"] for j in jobs if j["rule"] == "build_indices"}
    assert experiments == set(default["experiments"])


# ----- key order -------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_the_same_config_in_another_key_order_plans_nothing(tiny_study, order):
    text = (
        yaml.safe_dump(TINY, sort_keys=True)
        if order == "sorted"
        else yaml.safe_dump(reversed_keys(TINY), sort_keys=False)
    )
    path = tiny_study / "config" / f"{order}.yaml"
    path.write_text(text)
    assert planned_jobs(tiny_study, "--configfile", str(path.relative_to(tiny_study))) == {}


def test_a_new_synthfaces_seed_replans_the_data_set_and_what_follows(tiny_study):
    config = {**TINY, "synthfaces": {**TINY["synthfaces"], "seed": 1}}
    plan = planned_jobs(tiny_study, "--configfile", write_config(tiny_study, config, "seed.yaml"))
    everything = planned_jobs(tiny_study, "--forceall")
    # Only the known-rank study does not read the data set.
    assert plan == {rule: n for rule, n in everything.items() if rule != "rankme_known_rank"}
    assert plan["synthfaces"] == 1 and plan["extract_features"] == 1


@pytest.mark.skipif(
    not (REPO / "results" / "synthfaces" / "tables" / "metrics.csv").exists(),
    reason="needs a finished `make study` in the checkout (run it first)",
)
def test_default_config_with_sorted_keys_plans_nothing_after_make_study(tmp_path):
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    path = tmp_path / "sorted.yaml"
    path.write_text(yaml.safe_dump(default, sort_keys=True))
    # Right after `make study` both plans are empty; after later code edits both plan the same.
    as_written = planned_jobs(REPO, "--configfile", "config/config.yaml")
    assert planned_jobs(REPO, "--configfile", str(path)) == as_written


# ----- code edits ------------------------------------------------------------------------------


def importers(study: Path, rules: set[str]) -> dict[str, set[Path]]:
    """Rule -> the library files its script runs (modulefinder), for the rules of a study."""
    scripts = rule_scripts(study)
    library = study / "workflow"
    return {
        rule: library_modules_run_by(*scripts[rule], library) for rule in rules if rule in scripts
    }


STUDIES = ["tiny_study", "gan_study"]


def study_and_targets(request, which: str) -> tuple[Path, tuple[str, ...]]:
    return request.getfixturevalue(which), GAN_TARGETS if which == "gan_study" else ()


@pytest.mark.parametrize("which", STUDIES)
def test_each_rules_code_inputs_are_the_modules_its_script_imports(request, which):
    study, targets = study_and_targets(request, which)
    library = (study / "workflow" / "modedrop").resolve()
    declared = declared_inputs(study, *targets)
    runs = importers(study, set(declared))
    assert runs, "no rule with a script in the finished study"
    for rule, files in runs.items():
        code = {Path(f).resolve() for f in declared[rule]} & set(library.rglob("*.py"))
        assert code == files, rule


@pytest.mark.parametrize("which", STUDIES)
def test_editing_a_module_plans_exactly_the_rules_that_import_it(request, which):
    """Planned: the importers' jobs and the jobs that read their outputs, nothing else.
    Snakemake names the edited module as the reason of importers that no other job precedes
    (a job that an upstream job already re-runs is reported with that reason only)."""
    study, targets = study_and_targets(request, which)
    job_rules, children = job_graph(study, *targets)
    runs = importers(study, set(job_rules.values()))
    modules = sorted((study / "workflow" / "modedrop").rglob("*.py"))
    assert len(modules) > 50
    mismatches = []
    for module in modules:
        module = module.resolve()
        original = module.read_text()
        # An edit, not a bare touch: Snakemake compares the checksums of small inputs whose
        # mtime changed, so a touch alone is rightly no change at all.
        module.write_text(original + "\n# an edit\n")
        try:
            jobs = dry_run_jobs(study, *targets)
        finally:
            module.write_text(original)
            os.utime(module, (0, 0))  # back to older than every output
        importing = {rule for rule, files in runs.items() if module in files}
        first_jobs = {job for job, rule in job_rules.items() if rule in importing}
        expected = Counter(job_rules[job] for job in downstream(children, first_jobs))
        planned = Counter(job["rule"] for job in jobs)
        named = {job["rule"] for job in jobs if str(module) in job["reason"]}
        if planned != expected or not named <= importing or bool(named) != bool(importing):
            mismatches.append(
                (module.name, sorted(importing), planned - expected, expected - planned)
            )
    assert not mismatches
    # The check has teeth: the metrics' shared validation re-runs every feature metric family
    # (MS-SSIM works on pixels and does not use it).
    checks = (study / "workflow" / "modedrop" / "validation.py").resolve()
    assert {rule for rule, files in runs.items() if checks in files} >= (
        set(TINY["metrics"]) - {"ms_ssim"} if which == "tiny_study" else {"score_sample_set"}
    )
