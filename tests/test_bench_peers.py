"""The peer benchmark (issue 7, item 3): its NDB baseline, its inputs and a smoke run."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from benchmarks.bench_peers import Disagreement, agreement, run
from benchmarks.peer_comparisons import mode_features, ndb_baseline
from modedrop.metrics.ndb import ndb

METRICS = {"IS", "FD", "KID", "PRDC", "Vendi", "NDB"}


def planted(seed: int, dropped: list[int], n_ref: int = 3000, n_eval: int = 1500):
    """10 well-separated Gaussian modes in 16-D; the evaluated set lacks ``dropped``."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((10, 16)) * 8.0
    kept = [c for c in range(10) if c not in dropped]
    reference = means[rng.integers(0, 10, n_ref)] + rng.standard_normal((n_ref, 16))
    evaluated = means[rng.choice(kept, n_eval)] + rng.standard_normal((n_eval, 16))
    return reference, evaluated


@pytest.mark.parametrize("dropped", [[], [2, 7]])
def test_ndb_baseline_agrees_with_modedrop(dropped):
    reference, evaluated = planted(seed=len(dropped), dropped=dropped)
    ours = ndb(reference, evaluated, n_bins=10, seed=0, n_init=3)
    theirs = ndb_baseline(reference, evaluated, n_bins=10, seed=0, n_init=3)
    # A count from two implementations, compared exactly: every point is far nearer one centre
    # than any other, and every p-value is >= 30 % away from alpha, so rounding changes none.
    assert theirs["ndb"] == ours.ndb
    assert theirs["jsd"] == pytest.approx(ours.jsd, rel=1e-9, abs=1e-15)
    assert theirs["mean_p"] == pytest.approx(ours.p_values.mean(), rel=1e-9)
    if dropped:  # the planted drop is seen, not just two equal zeros
        assert theirs["ndb"] >= 2 and theirs["jsd"] > 0.05
    else:
        assert theirs["ndb"] <= 2 and theirs["jsd"] < 0.01


def test_agreement_check_catches_a_different_ndb():
    reference, evaluated = planted(seed=3, dropped=[1, 4, 8])
    ours = ndb(reference, evaluated, n_bins=10, seed=0, n_init=3)
    values = {"ndb": float(ours.ndb), "jsd": ours.jsd, "mean_p": float(ours.p_values.mean())}
    same = ndb_baseline(reference, evaluated, n_bins=10, seed=0, n_init=3)
    assert agreement(values, same, rtol=1e-9, atol=0.0, label="NDB") < 1e-9
    other_bins = ndb_baseline(reference, evaluated, n_bins=14, seed=0, n_init=3)
    with pytest.raises(Disagreement, match="NDB"):
        agreement(values, other_bins, rtol=1e-9, atol=0.0, label="NDB")


def test_agreement_tolerance_and_report():
    assert agreement({"a": 1.0 + 1e-7}, {"a": 1.0}, rtol=1e-6, atol=0.0, label="x") == (
        pytest.approx(1e-7, rel=1e-6)
    )
    assert agreement({"a": 1e-9}, {"a": 0.0}, rtol=0.0, atol=1e-8, label="x") == 1e-9
    with pytest.raises(Disagreement, match="a differs"):
        agreement({"a": 1.0 + 1e-5}, {"a": 1.0}, rtol=1e-6, atol=0.0, label="x")
    with pytest.raises(Disagreement, match="differs"):
        agreement({"a": float("nan")}, {"a": 1.0}, rtol=1.0, atol=1.0, label="x")
    with pytest.raises(Disagreement, match="returned"):
        agreement({"a": 1.0}, {"b": 1.0}, rtol=1.0, atol=1.0, label="x")


def test_features_make_prdc_comparisons_exact():
    # The 1/32 grid is why PRDC must agree exactly: prdc's float32 distances order the pairs
    # exactly as the exact squared distances do (ties included), so every count is the same.
    x = mode_features(200, 1280, seed=1, dropped=4)
    y = mode_features(150, 1280, seed=2)
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 31 / 32
    np.testing.assert_array_equal(x * 32, np.round(x * 32))
    exact = ((x[:, None, :].astype(np.float64) - y[None, :, :]) ** 2).sum(axis=2)
    peer = pairwise_distances(x, y)  # float32, as prdc computes them
    assert peer.dtype == np.float32
    order = np.argsort(exact, axis=None, kind="stable")
    exact_sorted, peer_sorted = exact.ravel()[order], peer.ravel()[order]
    same = np.diff(exact_sorted) == 0
    np.testing.assert_array_equal(np.diff(peer_sorted) == 0, same)  # ties stay ties
    assert np.all(np.diff(peer_sorted)[~same] > 0)  # and nothing else collides


def test_smoke_run_compares_every_metric(tmp_path):
    summaries = run(tmp_path, "smoke")
    assert [s.item.split(": ")[1] for s in summaries] == ["IS", "FD", "KID", "PRDC", "Vendi", "NDB"]
    for s in summaries:
        assert s.ours_s > 0 and s.baseline_s > 0 and math.isfinite(s.ours_s + s.baseline_s)
        assert s.speedup is not None and s.speedup["min"] <= s.speedup["median"]
        assert s.agreement is not None and s.agreement < 1e-3
        assert s.met is (s.speedup["median"] >= 2.0)
    with open(tmp_path / "peers.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["metric"] for row in rows} == METRICS
    assert len(rows) == len(summaries) + 1  # + Vendi against score_X, CSV only
