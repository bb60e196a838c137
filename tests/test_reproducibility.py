"""Determinism and concurrency: the tiny study run twice gives the same bytes.

The second run differs from the first in everything that must not matter - a fresh folder, 8
concurrent jobs instead of 2 (so many metric jobs read the one HDF5 feature cache at once) and
another ``PYTHONHASHSEED`` - and must agree on every index file, metric result and table.

Byte identity is a same-machine claim: both runs use this machine's CPU, BLAS and kernels. On
other hardware or with another BLAS build, features and metric values may differ in their last
bits (the index files do not depend on BLAS).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
from pathlib import Path

import numpy as np
import pytest

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

CONCURRENT_JOBS = 8
CONDITIONS = ("unbiased", "target", "nontarget", "dose50", "collapse50")


@pytest.fixture(scope="module")
def second_run(tmp_path_factory) -> Path:
    workdir = copy_workflow(tmp_path_factory.mktemp("second_run"))
    write_config(workdir, TINY)
    env = dict(os.environ, PYTHONHASHSEED="12345")
    snakemake(workdir, cores=CONCURRENT_JOBS, env=env)
    return workdir


def test_two_runs_give_byte_identical_indices_metrics_and_tables(tiny_study, second_run):
    first, second = result_files(tiny_study), result_files(second_run)
    assert count_by_folder(first) == expected_result_counts(TINY, len(CONDITIONS))
    assert differing_files(first, second) == []


def test_two_runs_give_identical_feature_caches(tiny_study, second_run):
    import h5py

    path = Path("results", "synthfaces", "features", f"{FEATURES}.h5")
    with h5py.File(tiny_study / path, "r") as a, h5py.File(second_run / path, "r") as b:
        assert set(a) == set(b)
        for name in a:
            np.testing.assert_array_equal(a[name][()], b[name][()], err_msg=name)


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)


def _job_span(log: Path) -> tuple[dt.datetime, dt.datetime]:
    stamps = [
        dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in _STAMP.findall(log.read_text())
    ]
    return min(stamps), max(stamps)


def _most_at_once(spans: list[tuple[dt.datetime, dt.datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_metric_jobs_read_the_one_cache_concurrently(second_run):
    """The concurrent run really overlapped cache readers (else the byte test proves little)."""
    logs = second_run / "results" / "synthfaces" / "logs" / "metrics"
    readers = [p for p in logs.glob(f"*/{FEATURES}/*/*.log")]
    assert len(readers) == 2 * 2 * (len(TINY["metrics"]) - 1)  # all but the pixel metric
    assert _most_at_once([_job_span(p) for p in readers]) >= 3


def _read_while_others_hold_it_open(path: str, barrier, names: list[str]) -> float:
    from modedrop.features import FeatureCache

    with FeatureCache(path) as cache:
        barrier.wait(timeout=60)  # every process has the file open before anyone reads
        total = float(cache.features(names).sum(dtype=np.float64))
        barrier.wait(timeout=60)
    return total


def test_many_processes_read_one_cache_at_once(tmp_path):
    """Eight readers hold one cache open at the same time and all read the right rows."""
    from modedrop.features import FEATURES as DATASET
    from modedrop.features import FeatureCache, write_cache

    path = str(tmp_path / "cache.h5")
    names = [f"{i:06d}.jpg" for i in range(3000)]
    rows = np.random.default_rng(0).normal(size=(len(names), 32)).astype(np.float32)
    with write_cache(path, names=names, feature_dim=32, num_classes=None, attrs={}) as cache:
        cache[DATASET][:] = rows
    wanted = names[::3]
    # Summed as the readers sum what they read (a contiguous array): a float64 sum depends on
    # the summation order, which differs between that and the strided view rows[::3].
    expected = float(np.ascontiguousarray(rows[::3]).sum(dtype=np.float64))
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(CONCURRENT_JOBS)
        with context.Pool(CONCURRENT_JOBS) as pool:
            totals = pool.starmap(
                _read_while_others_hold_it_open, [(path, barrier, wanted)] * CONCURRENT_JOBS
            )
    assert totals == [expected] * CONCURRENT_JOBS
    with FeatureCache(path) as cache:  # and the file is intact afterwards
        np.testing.assert_array_equal(cache.features(names), rows)
