"""The SLURM profile, run for real: the tiny study through the SLURM executor plugin.

A throw-away single-node cluster (``tests/local_slurm.py``) starts on localhost; the tiny study
runs with ``--workflow-profile workflow/profiles/slurm`` and the overrides a GPU-less test cluster
needs; its numbers must equal the local run's byte for byte. That is a same-machine claim: the
cluster's one node is this machine, so both runs use the same CPU, BLAS and kernels (on other
hardware, features and metrics may differ in their last bits). Skipped, with the reason, where
the machine cannot host the cluster (not root, no apt-get, a real Slurm already configured).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from local_slurm import PARTITION, LocalSlurm, SlurmUnavailable, check_machine, install_packages
from workflow_helpers import (
    FEATURES,
    TINY,
    copy_workflow,
    count_by_folder,
    differing_files,
    expected_result_counts,
    result_files,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.slow

# What differs between the real cluster the profile is written for and the test cluster.
TEST_CLUSTER_OVERRIDES = (
    # The profile's partition and account are placeholders; the test cluster has no accounts.
    "--default-resources",
    f"slurm_partition={PARTITION}",
    "mem_mb=1000",
    "runtime=30",
    "--slurm-no-account",
    # No accounting database, so sacct fails; MinJobAge keeps finished jobs visible to squeue.
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    # No GPU on the node: the documented CPU-only override of the GPU rule.
    "--set-resources",
    "extract_features:gpu=0",
    "extract_features:cpus_per_gpu=0",
    "--set-threads",
    "extract_features=2",
    # Keep every job's SLURM log, to count them.
    "--slurm-keep-successful-logs",
    # One machine: outputs appear at once, no need to wait for a shared file system.
    "--latency-wait",
    "5",
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        check_machine()
        install_packages()
    except SlurmUnavailable as reason:
        pytest.skip(str(reason))
    slurm = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    slurm.start()
    yield slurm
    slurm.stop()
    assert all(p.poll() is not None for p in slurm.processes) or not slurm.processes


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm_study"))
    write_config(workdir, TINY)
    start = time.monotonic()
    result = snakemake(
        workdir,
        "--workflow-profile",
        "workflow/profiles/slurm",
        *TEST_CLUSTER_OVERRIDES,
        env=cluster.env,
        timeout=1500,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"the SLURM run failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}\n"
            f"{cluster.logs()}"
        )
    print(f"tiny study through SLURM: {time.monotonic() - start:.0f} s")
    return workdir, result, _slurm_job_states(cluster)


def _slurm_job_states(cluster: LocalSlurm) -> list[str]:
    """The state of every job the cluster ran (MinJobAge keeps finished jobs listed)."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%T"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.split()


def test_every_job_ran_as_a_slurm_job(slurm_run):
    workdir, result, states = slurm_run
    jobs = _total_jobs(result.stdout + result.stderr)
    assert jobs > 50
    assert states == ["COMPLETED"] * jobs
    logs = list((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(logs) == jobs


def _total_jobs(log: str) -> int:
    """Jobs in Snakemake's plan, without the target rule ``all`` (it runs no job)."""
    table = log.split("Job stats:", 1)[1]
    total = int(table.split("total", 1)[1].split()[0])
    return total - 1


def test_slurm_run_equals_the_local_run(tiny_study, slurm_run):
    workdir, _, _ = slurm_run
    local, cluster = result_files(tiny_study), result_files(workdir)
    assert count_by_folder(local) == expected_result_counts(TINY, conditions=5)
    assert differing_files(local, cluster) == []
    path = Path("results", "synthfaces", "features", f"{FEATURES}.h5")
    with h5py.File(tiny_study / path, "r") as a, h5py.File(workdir / path, "r") as b:
        for name in a:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)
