"""Item 2 - RankMe: the streamed Gram matrix versus ``torch.linalg.svdvals`` on the whole matrix.

The setting is the pipeline's: the features are in an HDF5 file (the feature cache: a float32
``features`` dataset chunked by 1,024 rows) and both sides start from the open dataset.

* ours: ``modedrop.metrics.rankme.rankme(dataset)``, which streams row batches and accumulates
  the float64 D x D Gram matrix, then takes its eigenvalues (memory O(D^2), independent of N);
* baseline: the paper's reference code's way: read the whole matrix (``dataset[...]``) into a
  torch tensor, ``s = torch.linalg.svdvals(z)``, ``p = s / s.sum() + eps`` with ``eps`` the
  float32 machine epsilon, RankMe = ``exp(-sum p log p)`` (in the tensor's dtype, float32).

Time includes reading the rows from the file on both sides (neither can start without them);
the file was just written (and read by the memory runs), so the OS page cache holds it and the
read costs a memory copy, not disk time (about 0.1 s per 400 MiB) - the timings compare
computation, not the disk.

Features are synthetic: float32, D = 2,048 (64 at "smoke"), independent zero-mean uniform columns
(unit variance; uniform rather than Gaussian because it is three times faster to draw, and the
singular values of such matrices behave alike) scaled by ``1/j`` (j = 1..D), so the singular
values decay like ``1/j`` and RankMe is about 280 at D = 2,048. Rows come from one random stream per block of :data:`GEN_ROWS` rows (seeded by
``(seed, block)``), so any row range can be generated alone and the file is written batch by
batch, never held whole.

For every N of the sweep: the file is written; each side runs once in a fresh process
(:func:`benchmarks.harness.isolated`) with :class:`benchmarks.harness.PeakMemory` around the
computation only (after the imports and a tiny warm-up call, so one-time library set-up is not
counted); then one fresh process times both sides interleaved (:func:`benchmarks.harness.
compare`); the file is deleted. Where ``svdvals`` would need more memory than
:data:`BASELINE_CAP_MIB` (or half the memory available), the baseline is not run: the CSV
records the estimated need and the reason, and only ours runs (its time is then the one run of
the memory process). Writes ``rankme.csv`` (one row per N and side) and ``rankme_sweep.png``.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmarks.harness import (
    PeakMemory,
    Summary,
    compare,
    isolated,
    ratio_stats,
    spread,
    time_repeats,
    write_csv,
)

#: Rows per random-stream block of the synthetic features (and per HDF5 chunk, as in the cache).
GEN_ROWS = 1024
#: The paper's size (Garrido et al. 2023 evaluate RankMe on 25,600 x 2 = 51,200 embeddings).
HEADLINE_N = 51_200
#: Largest estimated memory need (MiB) of the baseline that is run on this 24 GiB machine.
BASELINE_CAP_MIB = 6 * 1024
#: Agreement goal of issue 7 (relative difference of the two RankMe values).
AGREEMENT_GOAL = 1e-6
#: Memory goal: ours at most this fraction of the baseline's peak.
MEMORY_GOAL = 0.1
SEED = 7

#: Per scale: D and, per N, (timing repeats, float64 reference computed?).
SCALES: dict[str, dict[str, Any]] = {
    "smoke": {"d": 64, "sizes": {48: (1, True), 500: (1, True)}},
    "default": {
        "d": 2048,
        "sizes": {
            1_000: (5, True),
            10_000: (3, True),
            HEADLINE_N: (3, False),
            100_000: (2, False),
            1_000_000: (1, False),
        },
    },
    "full": {
        "d": 2048,
        "sizes": {
            1_000: (5, True),
            10_000: (5, True),
            HEADLINE_N: (5, True),
            100_000: (3, False),
            320_000: (1, False),
            1_000_000: (2, False),
        },
    },
}


# --- synthetic features --------------------------------------------------------------------


def column_scales(d: int) -> np.ndarray:
    """``sqrt(12)/j`` for j = 1..d (float32): unit-variance uniform columns decaying as ``1/j``."""
    return (math.sqrt(12.0) / np.arange(1, d + 1, dtype=np.float64)).astype(np.float32)


def synthetic_rows(seed: int, start: int, stop: int, d: int) -> np.ndarray:
    """Rows ``start:stop`` (float32, ``stop - start`` x ``d``) of the synthetic feature matrix.

    Row block ``k`` (rows ``k*GEN_ROWS`` to ``(k+1)*GEN_ROWS``) is drawn from its own stream
    ``numpy.random.default_rng((seed, k))``, so the result does not depend on how the rows are
    split into calls.
    """
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    out = np.empty((stop - start, d), dtype=np.float32)
    for block in range(start // GEN_ROWS, -(-stop // GEN_ROWS)):
        lo, hi = block * GEN_ROWS, (block + 1) * GEN_ROWS
        a, b = max(lo, start), min(hi, stop)
        rng = np.random.default_rng((seed, block))
        if (a, b) == (lo, hi):  # a whole block: draw straight into the output
            rng.random(dtype=np.float32, out=out[a - start : b - start])
        else:
            out[a - start : b - start] = rng.random((GEN_ROWS, d), np.float32)[a - lo : b - lo]
    out -= np.float32(0.5)
    out *= column_scales(d)
    return out


def write_features(path: Path, n: int, d: int, seed: int = SEED) -> Path:
    """The synthetic N x D matrix as an HDF5 ``features`` dataset laid out like the cache."""
    step = 32 * GEN_ROWS
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset(
            "features", shape=(n, d), dtype="float32", chunks=(min(n, GEN_ROWS), d)
        )
        for start in range(0, n, step):
            stop = min(start + step, n)
            data[start:stop] = synthetic_rows(seed, start, stop, d)
    return path


# --- the two sides -------------------------------------------------------------------------


def ours_rankme(dataset: Any) -> float:
    """modedrop's RankMe, streaming the rows of the dataset (default batch size)."""
    from modedrop.metrics.rankme import rankme

    return rankme(dataset)


def baseline_rankme(dataset: Any) -> float:
    """The paper's reference way: whole matrix into torch, ``svdvals``, entropy in float32."""
    import torch

    z = torch.from_numpy(dataset[...])
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + torch.finfo(torch.float32).eps
    return float(torch.exp(-(p * p.log()).sum()))


def float64_rankme(dataset: Any) -> float:
    """Reference: the same formula with a float64 SVD of the (float64) matrix."""
    import torch

    z = torch.from_numpy(dataset[...].astype(np.float64))
    s = torch.linalg.svdvals(z)
    p = s / s.sum() + float(np.finfo(np.float32).eps)
    return float(torch.exp(-(p * p.log()).sum()))


SIDES = {"ours": ours_rankme, "baseline": baseline_rankme, "float64": float64_rankme}
LABELS = {
    "ours": "streamed Gram (modedrop rankme)",
    "baseline": "read all + torch.linalg.svdvals",
}


def baseline_need_mib(n: int, d: int) -> float:
    """Estimated peak of the baseline: the float32 matrix, LAPACK's copy of it, D x D work."""
    return (2 * n * d * 4 + 4 * d * d * 4) / 2**20


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def baseline_skip_reason(n: int, d: int) -> str | None:
    """Why the baseline is not run at this size (None: it is run)."""
    need = baseline_need_mib(n, d)
    limit = min(BASELINE_CAP_MIB, 0.5 * _available_mib())
    if need <= limit:
        return None
    return (
        f"not run: svdvals needs ~{need / 1024:.1f} GiB (matrix + LAPACK copy), over the "
        f"{limit / 1024:.1f} GiB allowed on this machine"
    )


def _warm_up(*sides: str) -> None:
    """Initialise the BLAS/LAPACK libraries of ``sides`` on a tiny matrix (one-time set-up)."""
    tiny = synthetic_rows(0, 0, 64, 16)
    for side in sides:
        SIDES[side](tiny)


def measure_peak(side: str, path: str) -> dict[str, float]:
    """Run one side once (meant for a fresh process): peak extra MiB, seconds, value."""
    _warm_up(side)
    with h5py.File(path, "r") as handle:
        dataset = handle["features"]
        with PeakMemory() as memory:
            start = time.perf_counter()
            value = SIDES[side](dataset)
            seconds = time.perf_counter() - start
    return {
        "peak_mib": memory.extra_mib,
        "seconds": seconds,
        "value": value,
        "method": memory.method,
    }


def time_pair(path: str, repeats: int, reference: bool = False) -> dict[str, Any]:
    """Interleaved timings of both sides (meant for a fresh process) and their values.

    With ``reference``, also the float64-SVD value (untimed, after the timings).
    """
    _warm_up("ours", "baseline")
    values: dict[str, float] = {}
    with h5py.File(path, "r") as handle:
        dataset = handle["features"]

        def side(name: str):
            def call() -> None:
                values[name] = SIDES[name](dataset)

            return call

        ours_s, baseline_s = compare(side("ours"), side("baseline"), repeats, warmup=0)
        if reference:
            values["float64"] = float64_rankme(dataset)
    return {"ours": ours_s, "baseline": baseline_s, "values": values}


def time_ours(path: str, repeats: int) -> list[float]:
    """Timings of ours alone (meant for a fresh process), where the baseline is not run."""
    _warm_up("ours")
    with h5py.File(path, "r") as handle:
        dataset = handle["features"]
        return time_repeats(lambda: ours_rankme(dataset), repeats, warmup=0)


# --- analysis ------------------------------------------------------------------------------


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)`` (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _crossing(n: list[int], ratio: list[float], lo: int) -> float:
    """N where the speed-up crosses 1 between sizes ``lo`` and ``lo + 1`` (log-log linear)."""
    hi = lo + 1
    t = -math.log(ratio[lo]) / (math.log(ratio[hi]) - math.log(ratio[lo]))
    return math.exp(math.log(n[lo]) + t * (math.log(n[hi]) - math.log(n[lo])))


def crossover(sizes: list[int], ours_s: list[float], baseline_s: list[float]) -> dict[str, Any]:
    """Where ours becomes faster (or slower) than the baseline, from median times at each N.

    Returns ``kind``, ``estimate`` and a sentence ``text``. ``kind`` is "always faster",
    "never faster", "faster above" (slower at the smaller sizes, faster from some size on),
    "faster below" (the reverse) or "mixed" (more than one change). ``estimate`` (for "faster
    above" / "faster below") is the N where the speed-up ``baseline/ours`` crosses 1,
    interpolating log(speed-up) linearly in log N between the two sizes around the change.
    A speed-up of exactly 1 does not count as faster.
    """
    if not sizes or not len(sizes) == len(ours_s) == len(baseline_s):
        raise ValueError("crossover needs one time per side for each size, at least one size")
    order = np.argsort(sizes)
    n = [int(sizes[i]) for i in order]
    ratio = [baseline_s[i] / ours_s[i] for i in order]
    faster = [r > 1.0 for r in ratio]
    span = f"N = {n[0]:,} to {n[-1]:,}"
    changes = [i for i in range(len(n) - 1) if faster[i] != faster[i + 1]]
    if not changes:
        kind = "always faster" if faster[0] else "never faster"
        verdict = "faster" if faster[0] else "slower"
        return {"kind": kind, "estimate": None, "text": f"ours {verdict} at every N ({span})"}
    if len(changes) == 1:
        lo = changes[0]
        estimate = _crossing(n, ratio, lo)
        above = faster[-1]
        side = "above" if above else "below"
        text = (
            f"ours faster {side} N ~ {estimate:,.0f} ("
            + ("slower" if above else "faster")
            + f" at N <= {n[lo]:,}, "
            + ("faster" if above else "slower")
            + f" at N >= {n[lo + 1]:,}; speed-up "
            + ", ".join(f"{r:.2f}x" for r in ratio)
            + f" at N = {', '.join(f'{x:,}' for x in n)})"
        )
        return {"kind": f"faster {side}", "estimate": estimate, "text": text}
    fast = ", ".join(f"{x:,}" for x, f in zip(n, faster, strict=True) if f)
    slow = ", ".join(f"{x:,}" for x, f in zip(n, faster, strict=True) if not f)
    return {
        "kind": "mixed",
        "estimate": None,
        "text": f"no single crossover: ours faster at N = {fast}, slower at N = {slow}",
    }


# --- the sweep -----------------------------------------------------------------------------


def _call(fn: Any, fresh: bool, **kwargs: Any) -> Any:
    return isolated(fn, **kwargs) if fresh else fn(**kwargs)


def measure_size(
    path: Path, n: int, d: int, repeats: int, reference: bool, fresh: bool = True
) -> list[dict]:
    """Both sides at one N: CSV rows (one per side). ``fresh``: each run in a new process."""
    skip = baseline_skip_reason(n, d)
    peaks = {"ours": _call(measure_peak, fresh, side="ours", path=str(path))}
    if skip is None:
        peaks["baseline"] = _call(measure_peak, fresh, side="baseline", path=str(path))
        timed = _call(time_pair, fresh, path=str(path), repeats=repeats, reference=reference)
        times = {side: timed[side] for side in ("ours", "baseline")}
        values = timed["values"]
    else:
        # The memory run is the first timed run; more repeats run in one further process.
        more = _call(time_ours, fresh, path=str(path), repeats=repeats - 1) if repeats > 1 else []
        times = {"ours": [peaks["ours"]["seconds"], *more]}
        values = {"ours": peaks["ours"]["value"]}
    exact = values.get("float64")
    rows = []
    for side in ("ours", "baseline"):
        row: dict[str, Any] = {"n": n, "d": d, "side": side, "implementation": LABELS[side]}
        if side not in times:
            need = baseline_need_mib(n, d)
            rows.append({**row, "status": skip, "peak_extra_mib": None, "est_need_mib": need})
            continue
        stats = spread(times[side])
        other = "baseline" if side == "ours" else "ours"
        rows.append(
            {
                **row,
                "status": "run",
                "repeats": len(times[side]),
                "time_min_s": stats["min"],
                "time_median_s": stats["median"],
                "time_max_s": stats["max"],
                "peak_extra_mib": peaks[side]["peak_mib"],
                "memory_method": peaks[side]["method"],
                "est_need_mib": baseline_need_mib(n, d) if side == "baseline" else None,
                "rankme": values[side],
                "rel_diff": (
                    relative_difference(values[side], values[other]) if other in values else None
                ),
                "rankme_float64": exact,
                "rel_diff_float64": (
                    None if exact is None else relative_difference(values[side], exact)
                ),
            }
        )
    if "baseline" in times:
        speed = ratio_stats(times["ours"], times["baseline"])
        rows[0].update({f"speedup_{k}": v for k, v in speed.items()})
        baseline_peak = peaks["baseline"]["peak_mib"]
        # At tiny sizes (smoke) the baseline's peak can be below the kernel's 4 KiB resolution.
        rows[0]["memory_ratio"] = (
            peaks["ours"]["peak_mib"] / baseline_peak if baseline_peak > 0 else None
        )
    return rows


def plot(rows: list[dict], path: Path) -> Path:
    """Log-log time and peak memory against N, both sides (baseline need where not run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for side, style in (("ours", "o-"), ("baseline", "s--")):
        run = [r for r in rows if r["side"] == side and r["status"] == "run"]
        n = [r["n"] for r in run]
        ax_t.plot(n, [r["time_median_s"] for r in run], style, label=LABELS[side])
        ax_m.plot(n, [max(r["peak_extra_mib"], 1e-1) for r in run], style, label=LABELS[side])
    skipped = [r for r in rows if r["side"] == "baseline" and r["status"] != "run"]
    if skipped:
        ax_m.plot(
            [r["n"] for r in skipped],
            [r["est_need_mib"] for r in skipped],
            "s",
            mfc="none",
            color="C1",
            label="svdvals not run (estimated need)",
        )
    ax_t.set(xscale="log", yscale="log", xlabel="N (rows)", ylabel="time, median (s)")
    ax_m.set(xscale="log", yscale="log", xlabel="N (rows)", ylabel="peak extra memory (MiB)")
    d = rows[0]["d"]
    ax_t.set_title(f"RankMe, D = {d:,}: time")
    ax_m.set_title(f"RankMe, D = {d:,}: peak memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _summaries(rows: list[dict], scale: str, headline_n: int) -> list[Summary]:
    ours = {r["n"]: r for r in rows if r["side"] == "ours"}
    base = {r["n"]: r for r in rows if r["side"] == "baseline" and r["status"] == "run"}
    both = sorted(base)
    d = rows[0]["d"]
    cross = crossover(
        both, [ours[n]["time_median_s"] for n in both], [base[n]["time_median_s"] for n in both]
    )
    agreement = max(ours[n]["rel_diff"] for n in both)
    head = ours[headline_n]
    speed = {k: head[f"speedup_{k}"] for k in ("min", "median", "max")}
    met = (
        speed["median"] >= 1.0
        and head["memory_ratio"] is not None
        and head["memory_ratio"] <= MEMORY_GOAL
        and head["rel_diff"] <= AGREEMENT_GOAL
    )
    float64_note = "; ".join(
        f"N={n:,}: vs float64 SVD ours {ours[n]['rel_diff_float64']:.1e}, "
        f"svdvals {base[n]['rel_diff_float64']:.1e}"
        for n in both
        if ours[n].get("rel_diff_float64") is not None
    )
    headline = Summary(
        item="2 RankMe",
        case=f"{headline_n:,} x {d:,} float32, HDF5",
        ours=LABELS["ours"],
        baseline=LABELS["baseline"],
        ours_s=head["time_median_s"],
        baseline_s=base[headline_n]["time_median_s"],
        speedup=speed,
        memory_ratio=head["memory_ratio"],
        agreement=head["rel_diff"],
        goal="equal or faster, <= 1/10 peak memory, agreement <= 1e-6",
        met=None if scale == "smoke" else met,
        note=(
            f"peak {head['peak_extra_mib']:.0f} MiB vs {base[headline_n]['peak_extra_mib']:.0f}"
            f" MiB; RankMe {head['rankme']:.6g}; times include the HDF5 read (page cache)"
            + (f"; {float64_note}" if float64_note else "")
        ),
    )
    largest = max(ours)
    largest_both = both[-1]
    not_run = [r for r in rows if r["side"] == "baseline" and r["status"] != "run"]
    sweep = Summary(
        item="2 RankMe",
        case=f"sweep N = {min(ours):,} to {largest:,}, D = {d:,}",
        ours=LABELS["ours"],
        baseline=LABELS["baseline"],
        ours_s=ours[largest_both]["time_median_s"],
        baseline_s=base[largest_both]["time_median_s"],
        speedup={k: ours[largest_both][f"speedup_{k}"] for k in ("min", "median", "max")},
        memory_ratio=ours[largest_both]["memory_ratio"],
        agreement=agreement,
        goal="state the crossover; streamed side runs at every N",
        met=None if scale == "smoke" else len(ours) == len({r["n"] for r in rows}),
        note=(
            f"{cross['text']}; times at N={largest_both:,} (largest run by both); ours ran up "
            f"to N={largest:,} ({ours[largest]['time_median_s']:.1f} s, "
            f"{ours[largest]['peak_extra_mib']:.0f} MiB)"
            + "".join(f"; svdvals at N={r['n']:,} {r['status']}" for r in not_run)
        ),
        extra={"crossover": cross},
    )
    return [headline, sweep]


def run(out: Path, scale: str) -> list[Summary]:
    setting = SCALES[scale]
    d = setting["d"]
    sizes = setting["sizes"]
    headline_n = HEADLINE_N if HEADLINE_N in sizes else max(sizes)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_rankme_") as folder:
        for n, (repeats, reference) in sizes.items():
            path = Path(folder) / f"features_{n}.h5"
            start = time.perf_counter()
            write_features(path, n, d)
            written = time.perf_counter() - start
            # smoke: one process (spawning fresh interpreters would take most of its budget)
            size_rows = measure_size(path, n, d, repeats, reference, fresh=scale != "smoke")
            path.unlink()
            rows.extend(size_rows)
            ours, base = size_rows
            line = (
                f"rankme: N={n:,} D={d:,} (file {written:.1f} s): ours "
                f"{ours['time_median_s']:.3g} s {ours['peak_extra_mib']:.0f} MiB"
            )
            if base["status"] == "run":
                line += (
                    f", svdvals {base['time_median_s']:.3g} s {base['peak_extra_mib']:.0f} MiB,"
                    f" speed-up {ours['speedup_median']:.2f}x, rel diff {ours['rel_diff']:.1e}"
                )
            else:
                line += f", svdvals {base['status']}"
            print(line, flush=True)
    write_csv(rows, out / "rankme.csv")
    plot(rows, out / "rankme_sweep.png")
    return _summaries(rows, scale, headline_n)
