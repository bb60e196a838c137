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
