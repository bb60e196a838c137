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


FEATURES = "efficientnet_lite0"
# The tiny study: every rule and metric of the workflow on 320 synthetic faces (about 2 minutes).
TINY = {
    "dataset": "synthfaces",
    # The generator studies have their own tiny end-to-end test (test_gan_workflow.py).
    "studies": ["mode_drop"],
    "synthfaces": {"n_images": 320, "n_identities": 32, "width": 48, "height": 59, "seed": 0},
    "seeds": [1, 2],
    "experiments": {
        "drop_male": {"attributes": ["Male"], "size": 48},
        "control": {"attributes": ["Random"], "size": 32},
    },
    "reference": {"size": 64},
    "dose_response": {"fractions": [0.5]},
    "intra_mode_collapse": {"fractions": [0.5], "identities": 2},
    "features": {"batch_size": 16, "device": "cpu", "threads": 2},
    "metrics": {
        "rankme": {"encoders": [FEATURES]},
        "inception_score": {"encoders": [FEATURES], "splits": 2},
        "fd_kd": {"encoders": [FEATURES], "kid_subsets": 10, "kid_subset_size": 16},
        "prdc": {"encoders": [FEATURES], "k": 3, "improved_k": 2},
        "vendi": {"encoders": [FEATURES]},
        "ndb": {"encoders": [FEATURES], "bins": 4},
        "mccs": {"encoders": [FEATURES]},
        "c2st": {"encoders": [FEATURES], "folds": 2, "pca_components": 8, "n_neighbors": 3},
        "ms_ssim": {"pairs": 20, "batch_size": 10},
        "duplicates": {"encoders": [FEATURES], "top": 4},
    },
    "rankme_known_rank": {"dim": 16, "ranks": [2, 4], "n_samples": [8, 32, 128], "repeats": 2},
}

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
        # every condition's index file and each (experiment, seed)'s summary, and the reference
        "indices": seeds * (experiments * (conditions + 1) + 1),
        "metrics": seeds * experiments * len(config["metrics"]),
        "tables": 4,  # metrics, summary, detection, rankme_known_rank
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
