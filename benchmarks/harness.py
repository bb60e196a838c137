"""Shared plumbing of the benchmarks: repeats, back-to-back comparisons, peak memory, CSV rows.

Every comparison runs both sides in the same process, interleaved (ours, baseline, ours,
baseline, ...), so that a change in machine load hits both; the speed-up of repeat ``i`` is
``baseline_i / ours_i`` and a comparison reports the min, median and max of those ratios.

Peak memory is measured in the process that does the work: :class:`PeakMemory` resets the
kernel's high-water mark of the resident set (``/proc/self/clear_refs``, Linux >= 4.0) when it
is entered and reads it (``VmHWM``) when it exits, so the figure is what the block added on top
of what the process already held. :func:`isolated` runs a function in a fresh interpreter so that
memory freed by an earlier case (and kept by the allocator) cannot hide a later case's peak.
"""

from __future__ import annotations

import concurrent.futures
import csv
import datetime as _dt
import multiprocessing
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PeakMemory",
    "Summary",
    "compare",
    "isolated",
    "machine",
    "ratio_stats",
    "spread",
    "time_repeats",
    "write_csv",
]

_MiB = 2**20


def machine() -> dict[str, Any]:
    """Where a benchmark ran: date, CPU model, cores usable, memory, GPU (or none), versions."""
    import numpy
    import torch

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


def time_repeats(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def compare(
    ours: Callable[[], Any], baseline: Callable[[], Any], repeats: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """Interleaved timings (ours first in each pair) of two callables, after warm-up calls."""
    for _ in range(warmup):
        ours()
        baseline()
    ours_s, baseline_s = [], []
    for _ in range(repeats):
        for fn, out in ((ours, ours_s), (baseline, baseline_s)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return ours_s, baseline_s


def spread(seconds: Iterable[float]) -> dict[str, float]:
    """min / median / max of a list of timings (or ratios)."""
    values = list(seconds)
    if not values:
        raise ValueError("no timings: run at least one repeat")
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def ratio_stats(ours: list[float], baseline: list[float]) -> dict[str, float]:
    """Speed-up ``baseline_i / ours_i`` per repeat pair: min, median, max."""
    if len(ours) != len(baseline) or not ours:
        raise ValueError("ratio_stats needs as many baseline as own timings (interleaved pairs)")
    return spread(b / o for o, b in zip(ours, baseline, strict=True))


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class PeakMemory:
    """``with PeakMemory() as mem: ...`` then ``mem.extra_mib``: peak RSS the block added.

    Uses the kernel's resettable high-water mark; where it cannot be reset (not Linux, or no
    write access to ``/proc/self/clear_refs``) it falls back to sampling the RSS every 2 ms,
    which can miss very short peaks (``mem.method`` says which was used).
    """

    def __init__(self) -> None:
        self.start_mib = 0.0
        self.peak_mib = 0.0
        self.method = "vmhwm"
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def extra_mib(self) -> float:
        return max(0.0, self.peak_mib - self.start_mib)

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.start_mib = _status_kib("VmRSS") / 1024
        except OSError:
            self.method = "sampled"
            self.start_mib = self.peak_mib = _rss_mib()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak_mib = max(self.peak_mib, _rss_mib())

    def __exit__(self, *exc: object) -> None:
        if self._sampler is None:
            self.peak_mib = _status_kib("VmHWM") / 1024
        else:
            self._stop.set()
            self._sampler.join()
            self.peak_mib = max(self.peak_mib, _rss_mib())


def _rss_mib() -> float:
    try:
        return _status_kib("VmRSS") / 1024
    except (OSError, KeyError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def isolated(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """``fn(**kwargs)`` in a fresh interpreter (spawned); ``fn`` must be importable."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, **kwargs).result()


def write_csv(rows: list[Mapping[str, Any]], path: str | Path) -> Path:
    """Rows (dicts; the union of their keys, in first-seen order) as a CSV file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@dataclass
class Summary:
    """One line of the table ``make bench`` prints and the README quotes.

    ``speedup`` is baseline time / our time (min, median, max over repeats); ``memory_ratio`` is
    our peak memory / the baseline's; ``agreement`` is the largest relative difference of the
    values both sides computed; ``met`` says whether ``goal`` holds (None: no goal stated).
    """

    item: str
    case: str
    ours: str
    baseline: str
    ours_s: float
    baseline_s: float | None
    speedup: dict[str, float] | None = None
    memory_ratio: float | None = None
    agreement: float | None = None
    goal: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        speed = self.speedup or {}
        return {
            "item": self.item,
            "case": self.case,
            "ours": self.ours,
            "baseline": self.baseline,
            "ours_median_s": self.ours_s,
            "baseline_median_s": self.baseline_s,
            "speedup_min": speed.get("min"),
            "speedup_median": speed.get("median"),
            "speedup_max": speed.get("max"),
            "memory_ratio": self.memory_ratio,
            "agreement": self.agreement,
            "goal": self.goal,
            "met": "" if self.met is None else ("yes" if self.met else "no"),
            "note": self.note,
        }
