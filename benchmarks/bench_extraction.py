"""Item 4 - extraction throughput: images/s from JPEG files to features, decoding included.

Ours is :func:`modedrop.extraction.extract_features`, the pipeline the study runs: Pillow
decoding and preprocessing in DataLoader workers, ``channels_last``, ``inference_mode``, rows
saved in fsync'd chunk files and assembled into the HDF5 cache (its time includes all of it,
and building the model). The baseline is the loop a competent user writes first, in the same
process: open each image with Pillow, apply the encoder's own preprocessing, stack a batch, run
the model in float32 under ``torch.no_grad()`` - no workers, no pinned memory, no
``channels_last`` - and collect the features in a numpy array (model building included). Both
sides use the same images, weights, batch size and ``torch.set_num_threads``; they run back to
back, interleaved, and their features must agree (largest per-image relative L2 difference).

Images: the embedded synthetic faces (``modedrop.data.synthfaces``, JPEGs of 96x118 as the study
writes them), generated once into a temporary folder. Models: EfficientNet-Lite0 (the study's
default encoder, packaged weights) and ResNet-50 at 224: the registry's ``vicreg_resnet50``
network (torchvision's ResNet-50 without ``fc``) loaded from a file of *random* weights, since
the VICReg/DINO checkpoints cannot be downloaded here - throughput does not depend on the
values of the weights.

The write phase (issue 5's question: what do the fsync'd chunks cost?) is timed inside our
runs: the atomic, fsync'd writes of ``modedrop.chunks`` (manifest, chunk files) plus the cache
assembly (read the chunks, write the HDF5 file, rename, remove the chunks).

On CUDA (when ``torch.cuda.is_available()``), ResNet-50 at 224 runs on the GPU with a batch of
256 and one worker per core, against the issue's target of 5,000 images/s on one H100, and two
candidates are timed against our pipeline
(:func:`benchmarks.extraction_baselines.device_preprocess_extract`): the workers ship the JPEG
bytes and the GPU decodes them (``torchvision.io.decode_jpeg(device="cuda")`` on whole batches)
and preprocesses them; or the workers decode with Pillow and ship small uint8 images that the
GPU preprocesses. Either spares the workers the float32 resize to 224x224 and the 600 KB per
image they send through shared memory. The candidates live in the benchmarks, not in the
library: torchvision's decoders are deprecated since 0.29 (the pinned version), and a
candidate must first show a gain on a real GPU. Their code runs on the CPU in the tests
(``device="cpu"``). Without a GPU the benchmark records a "not measured" row.

Writes ``extraction.csv`` (one row per timed run, then one per case).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import modedrop.extraction
from benchmarks.extraction_baselines import (
    DECODERS,
    WriteTimer,
    cache_features,
    device_preprocess_extract,
    naive_extract,
)
from benchmarks.harness import Summary, compare, ratio_stats, spread, write_csv
from modedrop.data.images import list_images
from modedrop.encoders import get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.weights import locate_weights

ITEM = "4 extraction"
GPU_TARGET = 5000.0  # images/s, ResNet-50 at 224 on one H100 (issue 7)
GOAL_GPU = f">= {GPU_TARGET:,.0f} images/s, ResNet-50 at 224, one H100"
GOAL_CPU = "faster than the naive loop (the issue sets no CPU target)"
OURS = "extract_features (workers, channels_last, chunks, HDF5)"
NAIVE = "naive loop (PIL, float32, no workers)"
#: The study's feature settings (config/config.yaml): batch 16, 2 threads, chunks of 4096.
CPU_BATCH, CPU_THREADS, CHUNK_IMAGES = 16, 2, 4096
GPU_BATCH = 256

#: images: CPU EfficientNet-Lite0 images (batch: their batch size); resnet_images: CPU ResNet-50
#: images (0: skipped); gpu_images: images per GPU run; repeats: interleaved timed pairs per case;
#: warm: an untimed warm-up batch per side first (smoke skips it: its timings only show that it
#: runs).
SCALES = {
    "smoke": {"images": 8, "batch": 4, "resnet_images": 0, "gpu_images": 512, "repeats": 1,
              "warm": False},
    "default": {"images": 192, "batch": CPU_BATCH, "resnet_images": 32, "gpu_images": 10000,
                "repeats": 3, "warm": True},
    "full": {"images": 1000, "batch": CPU_BATCH, "resnet_images": 256, "gpu_images": 50000,
             "repeats": 5, "warm": True},
}  # fmt: skip


# --- measuring ----------------------------------------------------------------------------


def relative_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest per-image relative L2 difference ``max_i ||a_i - b_i|| / ||b_i||``."""
    if ours.shape != reference.shape:
        raise ValueError(f"feature shapes differ: {ours.shape} vs {reference.shape}")
    norms = np.linalg.norm(reference.astype(np.float64), axis=1)
    gaps = np.linalg.norm(ours.astype(np.float64) - reference, axis=1)
    return float(np.max(gaps / np.maximum(norms, np.finfo(np.float32).tiny)))


@dataclass
class Case:
    """One model x device comparison and everything measured in it."""

    name: str
    encoder: str
    device: str
    batch_size: int
    threads: int
    n_images: int
    weights: Path
    weights_sha256: str
    #: also time the device-preprocessing candidates against ours (CUDA cases; tests on CPU)
    candidates: bool = False
    rows: list[dict] = field(default_factory=list)


def synthfaces(folder: Path, count: int, workers: int) -> tuple[Path, list[str]]:
    """``count`` synthetic-face JPEGs generated into ``folder``: their root and sorted names."""
    from modedrop.data.synthfaces import generate

    generate(
        folder, n_images=count, n_identities=max(1, count // 20), workers=workers, progress=False
    )
    root = folder / "img_align_celeba"
    return root, list_images(root)


def _random_resnet50_weights(folder: Path) -> Path:
    """A state dict of the registry's ResNet-50 layout with torchvision's random init (seed 0)."""
    from modedrop.encoders.resnet50_features import resnet50_without_fc

    torch.manual_seed(0)
    path = folder / "resnet50-random.pth"
    torch.save(resnet50_without_fc().state_dict(), path)
    return path


def _images_per_s(n: int, seconds: list[float]) -> dict[str, float]:
    return spread(n / s for s in seconds)


def _fmt_rate(rate: dict[str, float]) -> str:
    return f"{rate['median']:.1f} images/s ({rate['min']:.1f}-{rate['max']:.1f})"


class Sides:
    """The callables timed in one case; each keeps its last output for the agreement check."""

    def __init__(self, case: Case, root: Path, work: Path):
        self.case, self.root, self.work = case, root, work
        self.spec = get_encoder(case.encoder)
        self.cache: Path | None = None
        self.outputs: dict[str, np.ndarray] = {}
        self._runs = 0

    def ours(self, names: list[str]) -> None:
        case = self.case
        self._runs += 1
        path = self.work / f"{case.encoder}-{case.device}-{self._runs}.h5"
        stats = modedrop.extraction.extract_features(
            self.root,
            names,
            case.encoder,
            path,
            weights=case.weights,
            weights_sha256=case.weights_sha256,
            allow_download=False,
            batch_size=case.batch_size,
            threads=case.threads,
            device=case.device,
            progress=False,
            chunk_images=CHUNK_IMAGES,
        )
        if stats["images"] != len(names):
            raise RuntimeError(f"the cache holds {stats['images']} rows, not {len(names)}")
        if self.cache is not None:
            self.cache.unlink()
        self.cache = path

    def naive(self, names: list[str]) -> None:
        torch.set_num_threads(self.case.threads)  # extract_features sets the same value
        self.outputs["naive"] = naive_extract(
            self.root, names, self.spec, self.case.weights, self.case.batch_size, self.case.device
        )

    def candidate(self, decode: str) -> Callable[[list[str]], None]:
        def extract(names: list[str]) -> None:
            self.outputs[decode] = device_preprocess_extract(
                self.root,
                names,
                self.spec,
                self.case.weights,
                self.case.batch_size,
                self.case.threads,
                torch.device(self.case.device),
                decode=decode,
            )

        return extract

    def ours_features(self, names: list[str]) -> np.ndarray:
        assert self.cache is not None, "ours has not run"
        return cache_features(self.cache, names)


def run_case(
    case: Case, root: Path, names: list[str], work: Path, repeats: int, warm_up: bool = True
) -> list[Summary]:
    """Ours vs the naive loop, interleaved; on CUDA, each candidate vs ours as well."""
    names = names[: case.n_images]
    torch.set_num_threads(case.threads)
    sides = Sides(case, root, work)
    # Warm-up on one batch (model build caches, oneDNN/cuDNN plans, worker start), untimed.
    warm = names[: case.batch_size]
    if warm_up:
        sides.ours(warm)
        sides.naive(warm)
    timer = WriteTimer()
    with timer.patched():
        ours_s, naive_s = compare(
            lambda: sides.ours(names), lambda: sides.naive(names), repeats, warmup=0
        )
    write_s = timer.seconds / repeats
    reference = sides.outputs["naive"]
    agreement = relative_difference(sides.ours_features(names), reference)
    case.rows += _timing_rows(case, "ours", ours_s) + _timing_rows(case, "naive", naive_s)
    summaries = [
        comparison_summary(case, ours_s, naive_s, agreement, write_s, judged=warm_up),
        _write_summary(case, write_s, ours_s, timer.files / repeats),
    ]
    if case.candidates:
        for decode in DECODERS:
            # Does moving the preprocessing (and decoding) to the GPU help? Against ours.
            candidate = sides.candidate(decode)
            if warm_up:
                candidate(warm)
            cand_s, ours2_s = compare(
                lambda c=candidate: c(names), lambda: sides.ours(names), repeats, warmup=0
            )
            case.rows += _timing_rows(case, f"candidate_{decode}", cand_s)
            case.rows += _timing_rows(case, "ours", ours2_s)
            output = sides.outputs[decode]
            differences = (
                relative_difference(output, sides.ours_features(names)),
                relative_difference(output, reference),
            )
            summaries.append(
                _candidate_summary(case, decode, cand_s, ours2_s, *differences, judged=warm_up)
            )
    return summaries


def _timing_rows(case: Case, side: str, seconds: list[float]) -> list[dict]:
    return [
        {
            "kind": "run",
            "case": case.name,
            "side": side,
            "repeat": i,
            "images": case.n_images,
            "seconds": s,
            "images_per_s": case.n_images / s,
            "device": case.device,
            "batch_size": case.batch_size,
            "threads": case.threads,
        }
        for i, s in enumerate(seconds)
    ]


def _device_label(case: Case) -> str:
    if case.device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(case.device))}, {case.threads} workers"
    return f"CPU, {case.threads} threads"


def comparison_summary(
    case: Case,
    ours_s: list[float],
    naive_s: list[float],
    agreement: float,
    write_s: float,
    judged: bool = True,
) -> Summary:
    """The headline row; ``judged=False`` (no warm-up, smoke scale) leaves ``met`` unset."""
    ours_rate = _images_per_s(case.n_images, ours_s)
    naive_rate = _images_per_s(case.n_images, naive_s)
    speedup = ratio_stats(ours_s, naive_s)
    on_gpu = case.device.startswith("cuda")
    resnet = case.encoder != "efficientnet_lite0"
    if on_gpu and resnet:
        goal, met = GOAL_GPU, ours_rate["median"] >= GPU_TARGET
    elif on_gpu:
        goal, met = "", None
    else:
        goal, met = GOAL_CPU, speedup["median"] > 1.0
    note = f"ours {_fmt_rate(ours_rate)}; naive {_fmt_rate(naive_rate)}"
    if not judged:
        met, note = None, f"{note}; no warm-up (smoke scale): goal not judged"
    case.rows.append(
        {
            "kind": "case",
            "case": case.name,
            "side": "ours/naive",
            "images": case.n_images,
            "device": _device_label(case),
            "batch_size": case.batch_size,
            "threads": case.threads,
            "ours_images_per_s_median": ours_rate["median"],
            "naive_images_per_s_median": naive_rate["median"],
            "speedup_median": speedup["median"],
            "agreement": agreement,
            "write_s": write_s,
        }
    )
    print(
        f"  {case.name}: ours {_fmt_rate(ours_rate)}, naive {_fmt_rate(naive_rate)}, "
        f"speed-up {speedup['median']:.2f}x, max rel. diff {agreement:.1e}",
        flush=True,
    )
    return Summary(
        item=ITEM,
        case=f"{case.name}: {case.n_images} images, batch {case.batch_size} ({_device_label(case)})",
        ours=OURS,
        baseline=NAIVE,
        ours_s=statistics.median(ours_s),
        baseline_s=statistics.median(naive_s),
        speedup=speedup,
        agreement=agreement,
        goal=goal,
        met=met,
        note=note,
        extra={"ours_images_per_s": ours_rate, "baseline_images_per_s": naive_rate},
    )


def _write_summary(case: Case, write_s: float, ours_s: list[float], files: float) -> Summary:
    total = statistics.median(ours_s)
    share = write_s / total
    case.rows.append(
        {
            "kind": "write_phase",
            "case": case.name,
            "side": "ours",
            "images": case.n_images,
            "seconds": write_s,
            "share_of_run": share,
            "fsynced_files_per_run": files,
        }
    )
    print(f"  {case.name}: write phase {write_s:.3f} s per run ({100 * share:.1f} %)", flush=True)
    return Summary(
        item=ITEM,
        case=f"{case.name}: write phase (issue 5)",
        ours="fsync'd chunk files + HDF5 cache assembly",
        baseline="whole extract_features run",
        ours_s=write_s,
        baseline_s=total,
        note=(
            f"mean write phase {write_s:.3f} s = {100 * share:.1f} % of the median run; "
            f"{files:.0f} fsync'd file(s) per run (manifest + chunks of up to {CHUNK_IMAGES} "
            "images) and the HDF5 assembly; the bytes written per image are fixed, so the share "
            "does not grow with more images"
        ),
    )


def _candidate_summary(
    case: Case,
    decode: str,
    cand_s: list[float],
    ours_s: list[float],
    against_ours: float,
    against_naive: float,
    judged: bool = True,
) -> Summary:
    rate = _images_per_s(case.n_images, cand_s)
    ours_rate = _images_per_s(case.n_images, ours_s)
    print(f"  {case.name}: {DECODERS[decode]}: {_fmt_rate(rate)}", flush=True)
    resnet = case.encoder != "efficientnet_lite0"
    return Summary(
        item=ITEM,
        case=f"{case.name}: {case.n_images} images, batch {case.batch_size} ({_device_label(case)})",
        ours=f"candidate: {DECODERS[decode]} (bench only)",
        baseline=OURS,
        ours_s=statistics.median(cand_s),
        baseline_s=statistics.median(ours_s),
        speedup=ratio_stats(cand_s, ours_s),
        agreement=against_ours,
        goal=GOAL_GPU if resnet else "",
        met=rate["median"] >= GPU_TARGET if resnet and judged else None,
        note=(
            f"candidate {_fmt_rate(rate)}; extract_features {_fmt_rate(ours_rate)}; max rel. "
            f"diff against the naive float32 loop {against_naive:.1e}; not in the library"
        ),
        extra={"ours_images_per_s": rate, "baseline_images_per_s": ours_rate},
    )


def _no_gpu_summary() -> Summary:
    return Summary(
        item=ITEM,
        case="GPU: not available on this machine, not measured",
        ours=OURS,
        baseline=NAIVE,
        ours_s=float("nan"),
        baseline_s=float("nan"),
        goal=GOAL_GPU,
        met=None,
        note="torch.cuda.is_available() is False; run `make bench` on a GPU machine",
    )


def _cases(setting: dict, work: Path, on_gpu: bool, cores: int) -> list[Case]:
    lite = get_encoder("efficientnet_lite0")
    path = locate_weights(lite, allow_download=False)
    lite_weights = {"weights": path, "weights_sha256": file_sha256(path)}
    cases = [
        Case("cpu efficientnet_lite0 224", lite.name, "cpu", setting["batch"], CPU_THREADS,
             setting["images"], **lite_weights)
    ]  # fmt: skip
    if not (setting["resnet_images"] or on_gpu):
        return cases
    path = _random_resnet50_weights(work)
    resnet = {"weights": path, "weights_sha256": file_sha256(path)}
    if setting["resnet_images"]:
        cases.append(
            Case("cpu resnet50 224 (random weights)", "vicreg_resnet50", "cpu", CPU_BATCH,
                 CPU_THREADS, setting["resnet_images"], **resnet)
        )  # fmt: skip
    if on_gpu:
        # One decoding worker per core, as features.threads would give on a GPU node.
        cases.append(
            Case("cuda resnet50 224 (random weights)", "vicreg_resnet50", "cuda", GPU_BATCH,
                 cores, setting["gpu_images"], candidates=True, **resnet)
        )  # fmt: skip
    return cases


def run(out: Path, scale: str) -> list[Summary]:
    """Write ``out/extraction.csv`` and return the summary rows."""
    setting = SCALES[scale]
    cores = len(os.sched_getaffinity(0))
    on_gpu = torch.cuda.is_available()
    n_images = max(setting["images"], setting["resnet_images"], setting["gpu_images"] * on_gpu)
    threads_before = torch.get_num_threads()
    summaries: list[Summary] = []
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_extraction_") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        root, names = synthfaces(work / "synthfaces", n_images, workers=cores)
        print(f"  {len(names)} synthfaces JPEGs in {time.perf_counter() - start:.1f} s", flush=True)
        try:
            for case in _cases(setting, work, on_gpu, cores):
                print(f"  {case.name}: {case.n_images} images ...", flush=True)
                summaries += run_case(case, root, names, work, setting["repeats"], setting["warm"])
                rows += case.rows
        finally:
            torch.set_num_threads(threads_before)
    if not on_gpu:
        summaries.append(_no_gpu_summary())
        rows.append(
            {"kind": "case", "case": "GPU", "side": "not available on this machine, not measured"}
        )
    write_csv(rows, out / "extraction.csv")
    return summaries
