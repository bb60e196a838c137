"""Item 3 - modedrop's metrics against their peer packages, on identical features.

Each metric is timed against the package a user would otherwise call, on the same inputs and
with the same parameters, both sides in this process, interleaved (``harness.compare``), with
the same thread limits (BLAS, OpenMP and torch all get the machine's cores):

* Inception Score against torch-fidelity 0.4.0 ``metric_isc.isc_featuresdict_to_metric``;
* Fréchet distance against torch-fidelity's ``metric_fid.fid_featuresdict_to_statistics`` (both
  sets) + ``fid_statistics_to_metric``, and KID against ``metric_kid.kid_featuresdict_to_metric``
  (same subsets: same ``rng_seed``, evaluated set as input 1);
* PRDC against ``prdc.compute_prdc`` (prdc 0.2);
* Vendi against the ``vendi_score`` 0.0.3 function its README documents for embeddings:
  ``vendi.score_dual`` when N >= D, ``vendi.score_X`` otherwise (what the package's own
  ``image_utils.embedding_vendi_score`` does); ``score_X`` on the same N >= D set is reported too
  (CSV only);
* NDB against :func:`benchmarks.peer_comparisons.ndb_baseline`, Richardson & Weiss's algorithm
  written the straightforward way with NumPy, SciPy and scikit-learn (K-means on the reference with the same bins, seed and
  restarts as ours, ``predict`` for both sets, pooled two-proportion z-tests, JSD).

Inputs: synthetic, shaped like the study's (EfficientNet-Lite0 pooled features, D = 1280,
float32, non-negative; 1000-class logits), an evaluated set that drops 4 of 20 modes and a
reference with all of them. The features lie on a 1/32 grid in [0, 31/32]: every squared
distance is then a multiple of 2^-10 below 2^11, exact in float32, and its float32 square root
keeps the order and the ties of the exact values, so prdc (float32 distances) and ours (float64
squared distances) make the same comparisons and PRDC can be required to agree exactly. Sizes:
``default`` runs the study's (2048 evaluated vs 2048 reference) and, for IS and FD whose peers
stay fast there, a paper-like 10,000 vs 10,000; ``full`` adds 10,000 vs 10,000 for every metric;
``smoke`` a few hundred rows of 128 features, one repeat, one thread (its timings mean little).

Equal values: every comparison checks ``|ours - peer| <= atol + rtol |peer|`` for each value and
raises :class:`Disagreement` otherwise; the tolerances, and why they are not 0, are stated with
each comparison (the ``tolerance`` column of ``peers.csv``). ``Summary.agreement`` is the largest
relative difference found. Writes ``peers.csv`` (one row per comparison: timings, ratios, values
of both sides). The comparisons themselves (inputs, both sides, tolerances) are in
:mod:`benchmarks.peer_comparisons`; this module plans, times and summarises them.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.harness import Summary, compare, ratio_stats, spread, write_csv
from benchmarks.peer_comparisons import Case, Comparison, Settings, Values, comparisons

ITEM = "3 peers"
TARGET = 2.0
GOAL = f">= {TARGET:g}x faster than the peer (median), equal values"


class Disagreement(AssertionError):
    """Ours and the peer computed different values (beyond the stated tolerance)."""


#: scale -> (settings, [(metrics, case, repeats per metric)]).
PLANS: dict[str, tuple[Settings, list[tuple[tuple[str, ...], Case, dict[str, int]]]]] = {
    "smoke": (
        Settings(kid_subsets=10, kid_subset_size=100, prdc_block_size=64, ndb_bins=10),
        [(("IS", "FD", "KID", "PRDC", "Vendi", "NDB"), Case(240, 240, 128, 100), {})],
    ),
    "default": (
        Settings(),
        [
            (
                ("IS", "FD", "KID", "PRDC", "Vendi", "NDB"),
                Case(2048, 2048, 1280),
                {"IS": 5, "FD": 5, "KID": 2, "PRDC": 5, "Vendi": 5, "NDB": 3},
            ),
            (("IS", "FD"), Case(10_000, 10_000, 1280), {"IS": 3, "FD": 2}),
        ],
    ),
    "full": (
        Settings(),
        [
            (
                ("IS", "FD", "KID", "PRDC", "Vendi", "NDB"),
                Case(2048, 2048, 1280),
                {"IS": 5, "FD": 5, "KID": 2, "PRDC": 5, "Vendi": 5, "NDB": 3},
            ),
            (
                ("IS", "FD", "KID", "PRDC", "Vendi", "NDB"),
                Case(10_000, 10_000, 1280),
                {"IS": 3, "FD": 3, "KID": 1, "PRDC": 1, "Vendi": 3, "NDB": 1},
            ),
        ],
    ),
}


# --- running ----------------------------------------------------------------------------------


def agreement(ours: Values, peer: Values, rtol: float, atol: float, label: str) -> float:
    """Largest relative difference of the values; :class:`Disagreement` beyond the tolerance."""
    if set(ours) != set(peer):
        raise Disagreement(f"{label}: ours returned {sorted(ours)}, the peer {sorted(peer)}")
    worst = 0.0
    for key, value in ours.items():
        a, b = float(value), float(peer[key])
        if not (np.isfinite(a) and np.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)):
            raise Disagreement(
                f"{label}: {key} differs beyond the tolerance (rtol {rtol:g}, atol {atol:g}): "
                f"ours {a!r}, peer {b!r}"
            )
        worst = max(worst, abs(a - b) / abs(b) if b != 0 else abs(a - b))
    return worst


@contextlib.contextmanager
def same_threads(n: int) -> Iterator[None]:
    """BLAS, OpenMP and torch limited to ``n`` threads for both sides."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def measure(comparison: Comparison, repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Interleaved timings of both sides, their values and the agreement check."""
    results: dict[str, Values] = {}

    def ours() -> None:
        results["ours"] = comparison.run_ours()

    def peer() -> None:
        results["peer"] = comparison.run_peer()

    ours_s, peer_s = compare(ours, peer, repeats=repeats, warmup=warmup)
    worst = agreement(
        results["ours"], results["peer"], comparison.rtol, comparison.atol, comparison.metric
    )
    return {
        "ours_s": ours_s,
        "peer_s": peer_s,
        "speedup": ratio_stats(ours_s, peer_s),
        "agreement": worst,
        "values_ours": results["ours"],
        "values_peer": results["peer"],
    }


def _row(comparison: Comparison, case: Case, got: dict[str, Any], cores: int) -> dict[str, Any]:
    ours, peer, speed = spread(got["ours_s"]), spread(got["peer_s"]), got["speedup"]
    return {
        "metric": comparison.metric,
        "case": case.label,
        "n_evaluated": case.n_evaluated,
        "n_reference": case.n_reference,
        "dim": case.dim,
        "ours": comparison.ours,
        "peer": comparison.peer,
        "repeats": len(got["ours_s"]),
        "cores": cores,
        "ours_min_s": ours["min"],
        "ours_median_s": ours["median"],
        "ours_max_s": ours["max"],
        "peer_min_s": peer["min"],
        "peer_median_s": peer["median"],
        "peer_max_s": peer["max"],
        "speedup_min": speed["min"],
        "speedup_median": speed["median"],
        "speedup_max": speed["max"],
        "max_rel_diff": got["agreement"],
        "rtol": comparison.rtol,
        "atol": comparison.atol,
        "tolerance": comparison.tolerance,
        "values_ours": json.dumps(got["values_ours"]),
        "values_peer": json.dumps(got["values_peer"]),
        "headline": comparison.headline,
        "met": bool(speed["median"] >= TARGET),
        "note": comparison.note,
        "limit": comparison.limit,
    }


def _summary(comparison: Comparison, case: Case, got: dict[str, Any]) -> Summary:
    speed = got["speedup"]
    met = bool(speed["median"] >= TARGET)
    note = f"{comparison.note}; tolerance {comparison.tolerance}"
    if not met and comparison.limit:
        note += f"; limit: {comparison.limit}"
    return Summary(
        item=f"{ITEM}: {comparison.metric}",
        case=case.label,
        ours=comparison.ours,
        baseline=comparison.peer,
        ours_s=spread(got["ours_s"])["median"],
        baseline_s=spread(got["peer_s"])["median"],
        speedup=speed,
        agreement=got["agreement"],
        goal=GOAL,
        met=met,
        note=note,
        extra={"values_ours": got["values_ours"], "values_peer": got["values_peer"]},
    )


def run(out: Path, scale: str) -> list[Summary]:
    """Every metric against its peer at ``scale``; writes ``out/peers.csv``."""
    if scale not in PLANS:
        raise ValueError(f"unknown scale {scale!r}; choose from {sorted(PLANS)}")
    settings, plan = PLANS[scale]
    # Smoke checks the plumbing only: one thread keeps it fast on a busy machine.
    cores = 1 if scale == "smoke" else len(os.sched_getaffinity(0))
    rows, summaries = [], []
    start = time.perf_counter()
    with same_threads(cores):
        for metrics, case, repeats in plan:
            print(f"peers: {case.label}, threads per side: {cores}", flush=True)
            for comparison in comparisons(metrics, case, settings):
                got = measure(comparison, repeats=repeats.get(comparison.metric, 1))
                rows.append(_row(comparison, case, got, cores))
                if comparison.headline:
                    summaries.append(_summary(comparison, case, got))
                print(
                    f"  {comparison.metric:5s} vs {comparison.peer}: ours "
                    f"{spread(got['ours_s'])['median']:.3g} s, peer "
                    f"{spread(got['peer_s'])['median']:.3g} s, speed-up "
                    f"{got['speedup']['median']:.2f}x, max rel. diff {got['agreement']:.1e}",
                    flush=True,
                )
    write_csv(rows, Path(out) / "peers.csv")
    print(f"peers: {time.perf_counter() - start:.0f} s", flush=True)
    return summaries
