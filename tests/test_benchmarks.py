"""The benchmark suite (`make bench`): its harness, and every benchmark run at a tiny size.

`make bench` itself is too slow for the test suite; the smoke run here executes each benchmark
end to end (``--scale smoke``) so that none of them can rot.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from benchmarks import bench_end_to_end, bench_scaling, harness, run
from conftest import REPO

ITEMS = ("1 ", "2 ", "3 ", "4 ", "5 ")


# ----- harness ---------------------------------------------------------------------------------


def test_ratio_stats_are_baseline_over_ours_per_pair():
    ratios = harness.ratio_stats([1.0, 2.0, 4.0], [3.0, 2.0, 20.0])
    assert ratios == {"min": 1.0, "median": 3.0, "max": 5.0}


def test_ratio_stats_refuses_unpaired_timings():
    with pytest.raises(ValueError, match="interleaved pairs"):
        harness.ratio_stats([1.0, 2.0], [1.0])


def test_compare_interleaves_the_two_sides_after_warm_up():
    calls = []
    ours, baseline = harness.compare(
        lambda: calls.append("o"), lambda: calls.append("b"), repeats=3, warmup=1
    )
    assert calls == ["o", "b"] * 4
    assert len(ours) == len(baseline) == 3


def test_compare_times_each_side_separately():
    ours, baseline = harness.compare(lambda: None, lambda: time.sleep(0.02), repeats=2, warmup=0)
    assert max(ours) < 0.01 < min(baseline)


def test_peak_memory_sees_an_allocation_and_not_earlier_ones():
    held = np.ones(64 * 2**20 // 8)  # allocated before: must not count
    earlier_peak = np.ones(300 * 2**20 // 8)  # an earlier, higher peak: must not count either
    del earlier_peak
    with harness.PeakMemory() as idle:
        pass
    with harness.PeakMemory() as busy:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        del block
    assert idle.extra_mib < 20
    assert 190 < busy.extra_mib < 260
    del held


def test_isolated_runs_in_another_process():
    import os

    assert harness.isolated(os.getpid) != os.getpid()


def test_write_csv_takes_the_union_of_the_keys(tmp_path):
    path = harness.write_csv([{"a": 1}, {"b": 2, "a": 3}], tmp_path / "x" / "t.csv")
    assert path.read_text().splitlines() == ["a,b", "1,", "3,2"]


def test_markdown_table_shows_ratios_goals_and_notes():
    summary = harness.Summary(
        item="2 RankMe",
        case="51,200 x 2,048",
        ours="Gram",
        baseline="svdvals",
        ours_s=1.0,
        baseline_s=None,
        speedup={"min": 1.5, "median": 2.0, "max": 2.5},
        memory_ratio=0.05,
        goal=">= 1x",
        met=False,
        note="crossover at 10^4",
    )
    table = run.markdown_table([summary])
    assert "2.00x (1.50-2.50)" in table
    assert "| **no** |" in table
    assert "crossover at 10^4" in table


# ----- end to end and scaling helpers ----------------------------------------------------------


def test_agreement_is_the_largest_relative_difference():
    keys = {"experiment": ["e", "e"], "seed": [1, 1], "condition": ["a", "b"]}
    ours = pd.DataFrame({**keys, "metric": ["rankme"] * 2, "value": [10.0, 20.0]})
    naive = pd.DataFrame({**keys, "metric": ["rankme"] * 2, "value": [10.0, 25.0]})
    assert bench_end_to_end.agreement(ours, naive) == pytest.approx(0.2)


def test_agreement_fails_when_a_value_is_missing():
    keys = {"experiment": ["e"], "seed": [1], "condition": ["a"], "metric": ["rankme"]}
    naive = pd.DataFrame({**keys, "value": [1.0]})
    ours = pd.DataFrame({**keys, "value": [1.0]}).assign(condition="b")
    with pytest.raises(RuntimeError, match="match 0"):
        bench_end_to_end.agreement(ours, naive)


def test_scaled_configs_keep_feasible_joint_balance():
    from benchmarks.study import scaled_config

    config = scaled_config(1 / 16)
    sizes = {name: block["size"] for name, block in config["experiments"].items()}
    assert sizes == {"drop_male": 128, "drop_three": 32, "control_random": 32}
    assert config["synthfaces"]["n_images"] == 500
    assert config["studies"] == ["mode_drop"]


def test_growth_exponent_recovers_a_power_law():
    sizes = np.array([500, 1000, 2000, 4000])
    assert bench_scaling.growth_exponent(sizes, 3 * sizes**1.5) == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("path", "stage"),
    [
        ("metrics/drop_male/efficientnet_lite0/prdc/seed1.tsv", "prdc"),
        ("features/efficientnet_lite0.tsv", "extract_features"),
        ("features/efficientnet_lite0_throughput.tsv", None),
        ("indices/drop_male_seed1.tsv", "build_indices"),
        ("synthfaces.tsv", "synthfaces"),
    ],
)
def test_stage_of_a_benchmark_file(path, stage):
    from pathlib import Path

    assert bench_scaling.stage_of(Path(path)) == stage


# ----- every benchmark at a tiny size ----------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--scale", "smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out, result.stdout


@pytest.mark.slow
def test_smoke_run_covers_every_item(smoke_run):
    out, stdout = smoke_run
    summary = pd.read_csv(out / "summary.csv")
    for item in ITEMS:
        assert summary["item"].str.startswith(item).any(), f"no summary row for item {item}"
    measured = summary["ours_median_s"].notna()
    assert (summary.loc[measured, "ours_median_s"] > 0).all()
    # the only row without a time is the GPU row on a machine without one
    assert summary.loc[~measured, "case"].str.contains("not measured").all()
    assert summary["met"].isna().all(), "goals are not judged at smoke size"
    assert "| item | case |" in stdout


@pytest.mark.slow
def test_smoke_run_writes_each_benchmarks_files(smoke_run):
    out, _ = smoke_run
    for name in ("end_to_end", "rankme", "peers", "extraction", "dlib", "scaling", "scaling_jobs"):
        table = pd.read_csv(out / f"{name}.csv")
        assert len(table) > 0, name
    assert (out / "scaling.png").stat().st_size > 0
    header = (out / "summary.md").read_text().splitlines()[0]
    assert "cores" in header and "GPU" in header


@pytest.mark.slow
def test_smoke_end_to_end_values_agree_with_the_pipeline(smoke_run):
    out, _ = smoke_run
    table = pd.read_csv(out / "end_to_end.csv")
    assert (table["max_rel_diff"] < 1e-4).all()
    assert np.isfinite(table["speedup"]).all() and (table["speedup"] > 0).all()
