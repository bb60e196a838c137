"""`make bench`: run the benchmarks, write results/bench/*.csv and the summary table, print it.

Usage: ``python -m benchmarks.run [--scale smoke|default|full] [--out results/bench]
[--only rankme,peers,...]``. ``default`` is what ``make bench`` runs (about 23 minutes on
2 cores); ``smoke`` runs every benchmark at a tiny size in about two minutes (the tests do, so the
benchmarks cannot rot); ``full`` runs the end-to-end comparison on the whole default study.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from benchmarks.harness import Summary, machine, write_csv

#: Benchmark modules in the order they run (issue 7's items 1-5, and dlib_face on every core
#: from issue 19), each with ``run(out, scale)``.
BENCHMARKS = {
    "end_to_end": "benchmarks.bench_end_to_end",
    "rankme": "benchmarks.bench_rankme",
    "peers": "benchmarks.bench_peers",
    "extraction": "benchmarks.bench_extraction",
    "dlib": "benchmarks.bench_dlib",
    "scaling": "benchmarks.bench_scaling",
}
SCALES = ("smoke", "default", "full")


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def markdown_table(summaries: list[Summary]) -> str:
    """The summary as a Markdown table (speed-up = baseline time / our time)."""
    lines = [
        "| item | case | ours | baseline | ours (median s) | baseline (median s) "
        "| speed-up median (min-max) | memory ours/baseline | max rel. diff | goal | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        speed = (
            f"{s.speedup['median']:.2f}x ({s.speedup['min']:.2f}-{s.speedup['max']:.2f})"
            if s.speedup
            else ""
        )
        met = "" if s.met is None else ("yes" if s.met else "**no**")
        agreement = _fmt(s.agreement, ".1e")
        memory = _fmt(s.memory_ratio, ".3f")
        lines.append(
            f"| {s.item} | {s.case} | {s.ours} | {s.baseline} | {s.ours_s:.3g} "
            f"| {_fmt(s.baseline_s, '.3g')} | {speed} | {memory} | {agreement} | {s.goal} | {met} |"
        )
    notes = [f"- {s.item}, {s.case}: {s.note}" for s in summaries if s.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="default")
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    parser.add_argument(
        "--only", default="", help="comma-separated subset of " + ",".join(BENCHMARKS)
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    host = machine()
    print(
        f"modedrop benchmarks ({args.scale}) on {host['cpu']}, {host['cores']} cores, "
        f"GPU: {host['gpu']}",
        flush=True,
    )
    summaries: list[Summary] = []
    durations = {}
    for name in chosen:
        print(f"\n== {name} ==", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(BENCHMARKS[name])
        results = module.run(out, args.scale)
        if args.scale == "smoke":  # tiny sizes say nothing about the goals
            for summary in results:
                summary.met = None
        summaries.extend(results)
        durations[name] = round(time.perf_counter() - start, 1)
        print(f"== {name}: {durations[name]} s", flush=True)

    write_csv([s.row() for s in summaries], out / "summary.csv")
    header = (
        f"Measured {host['date']} on {host['cpu']} ({host['cores']} cores, "
        f"{host['memory_gib']} GiB, GPU: {host['gpu']}); scale `{args.scale}`; "
        f"torch {host['torch']}, numpy {host['numpy']}, Python {host['python']}."
    )
    table = markdown_table(summaries)
    (out / "summary.md").write_text(header + "\n\n" + table + "\n")
    (out / "machine.json").write_text(
        json.dumps({**host, "scale": args.scale, "seconds": durations}, indent=2) + "\n"
    )
    print("\n" + header + "\n\n" + table)
    missed = [s for s in summaries if s.met is False]
    if missed:
        print(
            f"\n{len(missed)} goal(s) not met: " + "; ".join(f"{s.item} {s.case}" for s in missed)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
