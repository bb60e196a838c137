"""The RankMe benchmark (benchmarks/bench_rankme.py): its helpers and its smoke run."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repo on it
    sys.path.insert(0, str(REPO))

from benchmarks import bench_rankme as bench  # noqa: E402


def test_synthetic_rows_are_deterministic_and_seeded():
    a = bench.synthetic_rows(3, 100, 2500, 16)
    assert a.dtype == np.float32 and a.shape == (2400, 16)
    np.testing.assert_array_equal(a, bench.synthetic_rows(3, 100, 2500, 16))
    assert not np.array_equal(a, bench.synthetic_rows(4, 100, 2500, 16))


@pytest.mark.parametrize("cuts", [[0, 1, 1023, 1024, 1025, 3000], [5, 2049, 2050, 2900]])
def test_synthetic_rows_do_not_depend_on_the_batching(cuts):
    whole = bench.synthetic_rows(1, cuts[0], cuts[-1], 8)
    pieces = [bench.synthetic_rows(1, a, b, 8) for a, b in zip(cuts, cuts[1:], strict=False)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert bench.synthetic_rows(1, 7, 7, 8).shape == (0, 8)


def test_synthetic_spectrum_decays_like_one_over_j():
    z = bench.synthetic_rows(0, 0, 4096, 32).astype(np.float64)
    sigma = np.linalg.svd(z, compute_uv=False)
    np.testing.assert_allclose(sigma * np.arange(1, 33), sigma[0], rtol=0.15)


def test_written_file_matches_the_generator(tmp_path):
    path = bench.write_features(tmp_path / "f.h5", 2100, 8, seed=5)
    with h5py.File(path, "r") as handle:
        data = handle["features"]
        assert data.chunks == (bench.GEN_ROWS, 8)
        np.testing.assert_array_equal(data[...], bench.synthetic_rows(5, 0, 2100, 8))


def test_both_sides_agree_on_a_small_file(tmp_path):
    path = bench.write_features(tmp_path / "f.h5", 600, 24)
    with h5py.File(path, "r") as handle:
        ours = bench.ours_rankme(handle["features"])
        baseline = bench.baseline_rankme(handle["features"])
        exact = bench.float64_rankme(handle["features"])
    assert 1 < ours < 24
    assert bench.relative_difference(ours, exact) < 1e-12
    assert bench.relative_difference(baseline, exact) < 1e-5


def test_relative_difference():
    assert bench.relative_difference(2.0, 2.0) == 0.0
    assert bench.relative_difference(0.0, 0.0) == 0.0
    assert bench.relative_difference(100.0, 101.0) == pytest.approx(1 / 101)
    assert bench.relative_difference(-1.0, 1.0) == 2.0


def test_baseline_is_skipped_only_where_it_would_not_fit():
    assert bench.baseline_skip_reason(51_200, 2048) is None
    reason = bench.baseline_skip_reason(1_000_000, 2048)
    assert reason is not None and "not run" in reason and "GiB" in reason
    assert bench.baseline_need_mib(1_000_000, 2048) > 15_000


def test_crossover_on_planted_timings():
    sizes = [10_000, 1_000, 100_000]  # unsorted on purpose
    # speed-ups (baseline / ours): 0.8 at N=1e4, 0.5 at N=1e3, 4.0 at N=1e5
    slower_then_faster = bench.crossover(sizes, [1.25, 2.0, 1.0], [1.0, 1.0, 4.0])
    assert slower_then_faster["kind"] == "faster above"
    # log(speed-up) linear in log N between (1e4, 0.8) and (1e5, 4.0) crosses 0 at 10^4.1386
    assert slower_then_faster["estimate"] == pytest.approx(13_755, rel=1e-3)
    assert "faster above" in slower_then_faster["text"]
    # log-linear interpolation: speed-up 0.5 at 1e3, 2.0 at 1e5 -> exactly 1 at 1e4
    mid = bench.crossover([1_000, 100_000], [2.0, 1.0], [1.0, 2.0])
    assert mid["estimate"] == pytest.approx(10_000, rel=1e-9)
    tie = bench.crossover([1_000, 10_000], [1.0, 1.0], [1.0, 2.0])  # equal is not faster
    assert tie["kind"] == "faster above" and tie["estimate"] == pytest.approx(1_000)
    assert bench.crossover(sizes, [1, 1, 1], [2, 2, 2])["kind"] == "always faster"
    assert bench.crossover(sizes, [2, 2, 2], [1, 1, 1])["kind"] == "never faster"
    # faster at 1e3 (4x) and 1e4 (2x), slower at 1e5 (0.5x): the speed-up crosses 1 at ~3.2e4
    below = bench.crossover(sizes, [1.0, 1.0, 2.0], [2.0, 4.0, 1.0])
    assert below["kind"] == "faster below"
    assert below["estimate"] == pytest.approx(10**4.5, rel=1e-9)
    assert "faster below" in below["text"]
    mixed = bench.crossover(sizes, [1.0, 2.0, 2.0], [2.0, 1.0, 1.0])  # faster only at 1e4
    assert mixed["kind"] == "mixed" and "10,000" in mixed["text"]
    with pytest.raises(ValueError, match="one time per side"):
        bench.crossover([1, 2], [1.0], [1.0, 2.0])


def test_smoke_run(tmp_path):
    summaries = bench.run(tmp_path, "smoke")
    assert [s.item for s in summaries] == ["2 RankMe", "2 RankMe"]
    headline, sweep = summaries
    assert headline.agreement is not None and headline.agreement < 1e-5
    assert headline.speedup is not None
    # At smoke size the baseline's peak can fall below the kernel's 4 KiB resolution: no ratio.
    assert headline.memory_ratio is None or headline.memory_ratio > 0
    assert "crossover" in sweep.extra and sweep.note
    with open(tmp_path / "rankme.csv") as handle:
        rows = list(csv.DictReader(handle))
    sizes = sorted(bench.SCALES["smoke"]["sizes"])
    assert [(int(r["n"]), r["side"]) for r in rows] == [
        (n, side) for n in sizes for side in ("ours", "baseline")
    ]
    assert all(r["status"] == "run" and float(r["rel_diff"]) < 1e-5 for r in rows)
    assert (tmp_path / "rankme_sweep.png").stat().st_size > 0


def test_size_without_baseline_times_ours_only(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BASELINE_CAP_MIB", 0)
    path = bench.write_features(tmp_path / "f.h5", 300, 16)
    ours, baseline = bench.measure_size(path, 300, 16, repeats=2, reference=False, fresh=False)
    assert ours["status"] == "run" and ours["repeats"] == 2 and ours["rel_diff"] is None
    assert ours["time_min_s"] <= ours["time_median_s"] <= ours["time_max_s"]
    assert baseline["status"].startswith("not run") and baseline["peak_extra_mib"] is None
    assert baseline["est_need_mib"] == pytest.approx(bench.baseline_need_mib(300, 16))
