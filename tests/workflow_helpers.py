"""Running Snakemake on a copy of the workflow in a temporary directory (for the workflow tests).

The workflow (Snakefile + workflow/ + envs/) is copied so that a test can edit a library module
there and ask Snakemake what it would re-run, without touching the checkout.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO


def copy_workflow(workdir: Path) -> Path:
    """Snakefile, workflow/ and envs/ copied into ``workdir`` (created), with an empty config/."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Snakefile", workdir / "Snakefile")
    for folder in ("workflow", "envs"):
        shutil.copytree(
            REPO / folder, workdir / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (workdir / "config").mkdir()
    return workdir


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    cores: int = 2,
    env: dict[str, str] | None = None,
    timeout: float = 1200,
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir``; every run is bounded by ``timeout`` seconds."""
    env = dict(os.environ if env is None else env)
    # Scripts run with the interpreter found on PATH: make it this test's interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
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


# The tiny study: every rule and metric of the workflow on 320 synthetic faces (about 3 minutes),
# kept as a file so that users can run it too (`snakemake --cores 2 --directory .test`).
TINY_CONFIG = REPO / ".test" / "config" / "config.yaml"
TINY = yaml.safe_load(TINY_CONFIG.read_text())
FEATURES = TINY["metrics"]["rankme"]["encoders"][0]

# The generator studies, tiny (tests/test_gan_workflow.py; conftest's gan_study fixture).
GAN_TARGETS = ("gan_toy", "gan_dcgan", "calibration")
GAN_TINY = {
    "dataset": "synthfaces",
    "studies": ["gan_toy", "gan_dcgan", "calibration"],
    "synthfaces": {"n_images": 320, "n_identities": 32, "width": 48, "height": 59, "seed": 0},
    "seeds": [1],
    "experiments": {"drop_male": {"attributes": ["Male"], "size": 48}},
    "reference": {"size": 64},
    "metrics": {"rankme": {"encoders": ["efficientnet_lite0"]}},
    "features": {"batch_size": 16, "threads": 2},
    "gan_toy": {
        "datasets": ["ring", "moons"],
        "latent_dims": [1, 2],
        "seeds": [1, 2],
        "steps": 300,
        "snapshot_every": 100,
        "n_eval": 200,
        "n_snapshot": 100,
        "n_real": 1000,
        "ndb_bins": 10,
    },
    "gan_dcgan": {
        "latent_dims": [8, 1],
        "width": 4,
        "steps": 20,
        "eval_every": 10,
        "checkpoint_every": 10,
        "ndb": {"bins": 5, "reference": 100, "generated": 50},
    },
    "generators": {
        "user_gan": {"entry_point": "user_generator:build", "latent_dim": 4, "kwargs": {"size": 32}}
    },
    "generated": {"generators": ["dcgan_z8", "dcgan_z1", "user_gan"], "n_images": 64},
    "calibration": {"generators": ["dcgan_z8"], "clusters": 3, "hull_dims": 2},
}
USER_GENERATOR = """
import torch


def build(size):
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3 * size * size)

    def network(z):
        return torch.tanh(layer(z)).reshape(-1, 3, size, size)

    return network
"""


# What two runs of the same config must agree on, byte for byte: the index files, the metric
# job results and the tables computed from them (logs, benchmarks and figures may differ).
NUMBERS = ("indices/**/*.txt", "indices/**/*.json", "metrics/**/*.json", "tables/*.csv")


def result_files(workdir: Path, dataset: str = "synthfaces") -> dict[str, bytes]:
    """Relative path -> bytes of every file matching :data:`NUMBERS` under results/<dataset>."""
    root = workdir / "results" / dataset
    return {
        str(path.relative_to(root)): path.read_bytes()
        for pattern in NUMBERS
        for path in sorted(root.glob(pattern))
    }


def expected_result_counts(config: dict, conditions: int) -> dict[str, int]:
    """How many :data:`NUMBERS` files a finished study of ``config`` has, per folder."""
    seeds, experiments = len(config["seeds"]), len(config["experiments"])
    return {
        # every condition's index file, the reference and the summary of each (experiment, seed)
        "indices": seeds * experiments * (conditions + 2),
        "metrics": seeds * experiments * len(config["metrics"]),
        # metrics, summary, detection, rankme_known_rank, null_calibration, headline
        "tables": 6,
    }


def count_by_folder(files: dict[str, bytes]) -> dict[str, int]:
    return dict(collections.Counter(path.split("/")[0] for path in files))


def differing_files(first: dict[str, bytes], second: dict[str, bytes]) -> list[str]:
    """Paths present in only one of the two runs or with different bytes."""
    return sorted(p for p in first.keys() | second.keys() if first.get(p) != second.get(p))


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> str:
    path = workdir / "config" / name
    path.write_text(yaml.safe_dump(config))
    return str(path.relative_to(workdir))


def dry_run_jobs(workdir: Path, *args: str) -> list[dict]:
    """Every job a dry run plans, in Snakemake's printed order: its ``rule``, ``reason`` and
    ``wildcards`` (a dict)."""
    result = snakemake(workdir, "--dry-run", *args)
    jobs = []
    for line in (result.stdout + result.stderr).splitlines():
        started = re.match(r"^(?:local)?rule (\w+):$", line)
        field = re.match(r"^\s+(reason|wildcards): (.*)$", line)
        if started:
            jobs.append({"rule": started.group(1), "reason": "", "wildcards": {}})
        elif field and jobs:
            key, value = field.groups()
            jobs[-1][key] = (
                dict(item.split("=", 1) for item in value.split(", "))
                if key == "wildcards"
                else value
            )
    return jobs


def job_graph(workdir: Path, *targets: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Every job of the study (``--forceall --dag``): job id -> rule, and job id -> the jobs
    that read its outputs."""
    text = snakemake(workdir, "--forceall", "--dag", "dot", *targets).stdout
    rules = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)', text, flags=re.MULTILINE))
    children: dict[str, set[str]] = {job: set() for job in rules}
    for source, sink in re.findall(r"^\s*(\d+) -> (\d+)", text, flags=re.MULTILINE):
        children[source].add(sink)
    return rules, children


def downstream(children: dict[str, set[str]], jobs: set[str]) -> set[str]:
    """``jobs`` and every job that reads their outputs, directly or not."""
    reached, pending = set(jobs), list(jobs)
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in reached:
                reached.add(child)
                pending.append(child)
    return reached


def declared_inputs(workdir: Path, *targets: str) -> dict[str, set[str]]:
    """Rule -> every input file its jobs declare (the ``input:`` lines of a forced dry run)."""
    result = snakemake(workdir, "--dry-run", "--forceall", *targets)
    inputs: dict[str, set[str]] = collections.defaultdict(set)
    rule = None
    for line in (result.stdout + result.stderr).splitlines():
        started = re.match(r"^(?:local)?rule (\w+):$", line)
        if started:
            rule = started.group(1)
        elif rule and line.startswith("    input: "):
            inputs[rule].update(line.removeprefix("    input: ").split(", "))
    return dict(inputs)


# ----- the code each rule runs, found independently of the workflow's own derivation --------


def rule_scripts(workdir: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """Rule -> (its script, modules the script imports by name) from the rule files' text.

    The metric rules are built in a loop from the metric registry: each runs the generic
    script with its family's evaluate module.
    """
    from modedrop.metrics import METRICS

    scripts = {}
    for path in sorted((workdir / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        for block in re.split(r"(?m)^(?=\s*rule \w+:)", text):
            name = re.match(r"\s*rule (\w+):", block)
            script = re.search(r'script:\n\s+"\.\./scripts/(\w+\.py)"', block)
            if name and script:
                scripts[name.group(1)] = (workdir / "workflow" / "scripts" / script.group(1), ())
    metric_script = workdir / "workflow" / "scripts" / "metric.py"
    for family, spec in METRICS.items():
        scripts[family] = (metric_script, (spec.module,))
    return scripts


def library_modules_run_by(script: Path, extra: tuple[str, ...], library: Path) -> set[Path]:
    """Files of the ``modedrop`` modules a script imports, directly or not (stdlib modulefinder,
    which reads the compiled code of every function too)."""
    import modulefinder

    class LibraryOnly(modulefinder.ModuleFinder):
        def find_module(self, name, path, parent=None):
            full = f"{parent.__name__}.{name}" if parent else name
            if name != "__init__" and full.split(".")[0] != "modedrop":  # __init__: a package
                raise ImportError(full)  # third-party and stdlib: not the library's code
            return super().find_module(name, path, parent)

    finder = LibraryOnly(path=[str(library)])
    finder.run_script(str(script))
    for module in extra:
        finder.import_hook(module)
    return {
        Path(m.__file__).resolve()
        for name, m in finder.modules.items()
        if name.split(".")[0] == "modedrop" and m.__file__
    }


def assert_references_balanced_and_held_out(
    results: Path, config: dict, attributes: Path | None = None
) -> int:
    """Every (experiment, seed) of a finished study: the reference shares no image with any
    condition and has the same share of each target attribute at +1 as ``unbiased`` (within
    one image). Returns the number of (experiment, seed) folders checked."""
    from modedrop.data.celeba_format import read_attributes
    from modedrop.design import with_random_attribute
    from modedrop.indices import read_index

    table = read_attributes(attributes or results / "data" / "list_attr_celeba.txt")
    checked = 0
    for experiment, block in config["experiments"].items():
        targets = block["attributes"]
        values = with_random_attribute(table, targets)
        for seed in config["seeds"]:
            folder = results / "indices" / experiment / f"seed{seed}"
            reference = read_index(folder / "reference.txt")
            unbiased = read_index(folder / "unbiased.txt")
            for index in sorted(folder.glob("*.txt")):
                if index.name != "reference.txt":
                    overlap = set(reference) & set(read_index(index))
                    assert not overlap, f"{index} shares {len(overlap)} images with the reference"
            for attribute in targets:
                in_reference = int((values.loc[reference, attribute] == 1).sum())
                share = (values.loc[unbiased, attribute] == 1).mean()
                assert abs(in_reference - share * len(reference)) <= 1, (
                    f"{folder}: {attribute} +1 in {in_reference} of {len(reference)} reference "
                    f"images but in {share:.4f} of unbiased"
                )
            checked += 1
    return checked
