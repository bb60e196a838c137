"""dlib_face on every core (issue 19, item 1): extraction images/s with 1 and with 2 processes.

dlib holds the GIL, so the ``dlib_face`` encoder describes a batch's images in worker processes
(``use_processes``, given the job's ``threads`` by
:func:`modedrop.extraction.extract_features`). Both sides are ``extract_features(...,
"dlib_face", threads=n)`` on the same images, batch size and chunk size - decoding, the model
build, the worker start-up, the chunk files and the HDF5 cache included - with ``threads=2``
(ours) against ``threads=1`` (the baseline, one process as before), run interleaved after an
untimed warm-up batch per side. The two caches must be identical (features and ``face_found``
compared exactly); the benchmark stops otherwise.

Images: the first N JPEGs (sorted names) of the folder named by the environment variable
``MODEDROP_BENCH_FACES`` (e.g. CelebA's aligned crops, ``.../img_align_celeba``); without it,
CelebA-sized crops of scikit-image's astronaut photograph (Eileen Collins), shifted and
mirrored, with one noise image in five so that the no-face path is timed too.

The projection for all 202,599 CelebA images on a 16-core node is
``202599 / (16 * r / 2)`` seconds, ``r`` the measured images/s of the 2-process run: the
per-process rate measured here, assuming the rate scales linearly with the cores (it is a
projection, not a measurement).

Writes ``dlib.csv``: one row per timed run, one per process count (median images/s), and the
comparison (speed-up, projection, which images were used).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

import h5py
import numpy as np
import torch

import modedrop.extraction
from benchmarks.harness import Summary, compare, ratio_stats, spread, write_csv
from modedrop.data.images import list_images

ITEM = "dlib_face on every core"
ENCODER = "dlib_face"
FACES_VARIABLE = "MODEDROP_BENCH_FACES"
CELEBA_IMAGES = 202_599
NODE_CORES = 16
GOAL_SPEEDUP = 1.7
GOAL = f">= {GOAL_SPEEDUP}x with 2 processes"
#: The study's feature settings (config/config.yaml): batch 16, chunks of 4096.
BATCH, CHUNK_IMAGES = 16, 4096

#: images: N; batch: batch size; repeats: interleaved timed pairs; warm: an untimed warm-up
#: batch per side first (smoke skips it: its timings only show that it runs).
SCALES = {
    "smoke": {"images": 6, "batch": 3, "repeats": 1, "warm": False},
    "default": {"images": 400, "batch": BATCH, "repeats": 2, "warm": True},
    "full": {"images": 2000, "batch": BATCH, "repeats": 3, "warm": True},
}


def astronaut_crops(folder: Path, count: int) -> tuple[Path, list[str]]:
    """``count`` 178 x 218 JPEGs around the astronaut's face; every fifth is noise (no face)."""
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        if i % 5 == 4:
            pixels = rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
        else:
            top, left = 12 + 4 * (i % 4), 131 - 3 * (i % 7)
            pixels = photo[top : top + 218, left : left + 178]
            pixels = pixels[:, ::-1] if i % 2 else pixels
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(np.ascontiguousarray(pixels)).save(folder / name, quality=95)
        names.append(name)
    return folder, names


def bench_images(work: Path, count: int) -> tuple[Path, list[str], str]:
    """The images to embed: their folder, names and a description for the CSV."""
    configured = os.environ.get(FACES_VARIABLE)
    if configured:
        names = list_images(configured)[:count]
        return Path(configured), names, f"the first {len(names)} images of {configured}"
    root, names = astronaut_crops(work / "astronaut", count)
    return root, names, (
        f"{len(names)} crops of skimage's astronaut face (shifted, mirrored; every fifth is "
        f"noise); set {FACES_VARIABLE} to a folder of face JPEGs for real faces"
    )  # fmt: skip


class Extraction:
    """``extract_features`` with a given process count; keeps the last cache of each count."""

    def __init__(self, root: Path, work: Path, batch: int):
        self.root, self.work, self.batch = root, work, batch
        self.caches: dict[int, Path] = {}
        self._runs = 0

    def run(self, names: list[str], processes: int) -> None:
        self._runs += 1
        path = self.work / f"dlib-{processes}-{self._runs}.h5"
        stats = modedrop.extraction.extract_features(
            self.root,
            names,
            ENCODER,
            path,
            allow_download=False,
            batch_size=self.batch,
            threads=processes,
            device="cpu",
            progress=False,
            chunk_images=CHUNK_IMAGES,
        )
        if stats["images"] != len(names):
            raise RuntimeError(f"the cache holds {stats['images']} rows, not {len(names)}")
        previous = self.caches.get(processes)
        if previous is not None:
            previous.unlink()
        self.caches[processes] = path

    def check_identical(self) -> int:
        """Raise unless the caches of 1 and 2 processes are equal; the number of no-face rows."""
        (features_1, found_1), (features_2, found_2) = (_read_cache(self.caches[n]) for n in (1, 2))
        if not (np.array_equal(features_1, features_2) and np.array_equal(found_1, found_2)):
            raise RuntimeError("the caches written with 1 and 2 processes differ")
        return int((~found_1).sum())


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as handle:
        return handle["features"][:], handle["face_found"][:]


def projection_hours(two_process_rate: float) -> float:
    """Hours for all of CelebA on a 16-core node at the per-process rate measured with 2."""
    return CELEBA_IMAGES / (NODE_CORES * two_process_rate / 2) / 3600


def run(out: Path, scale: str) -> list[Summary]:
    """Write ``out/dlib.csv`` and return the summary row."""
    setting = SCALES[scale]
    threads_before = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="bench_dlib_") as tmp:
        work = Path(tmp)
        root, names, described = bench_images(work, setting["images"])
        print(f"  images: {described}", flush=True)
        sides = Extraction(root, work, setting["batch"])
        try:
            if setting["warm"]:
                for processes in (2, 1):
                    sides.run(names[: setting["batch"]], processes)
            two_s, one_s = compare(
                lambda: sides.run(names, 2), lambda: sides.run(names, 1), setting["repeats"], 0
            )
            no_face = sides.check_identical()
        finally:
            torch.set_num_threads(threads_before)
    rows, summary = _results(len(names), setting, one_s, two_s, no_face, described)
    write_csv(rows, out / "dlib.csv")
    return [summary]


def _results(
    n: int, setting: dict, one_s: list[float], two_s: list[float], no_face: int, described: str
) -> tuple[list[dict], Summary]:
    """The CSV rows and the summary row; a run without warm-up (smoke) is not judged."""
    judged = setting["warm"]
    rows = [
        {"kind": "run", "processes": processes, "repeat": i, "images": n, "seconds": s,
         "images_per_s": n / s}
        for processes, seconds in ((1, one_s), (2, two_s))
        for i, s in enumerate(seconds)
    ]  # fmt: skip
    rate = {p: spread(n / s for s in seconds) for p, seconds in ((1, one_s), (2, two_s))}
    for processes in (1, 2):
        rows.append(
            {"kind": "processes", "processes": processes, "images": n,
             "images_per_s": rate[processes]["median"]}
        )  # fmt: skip
    speedup = ratio_stats(two_s, one_s)
    hours = projection_hours(rate[2]["median"])
    rows.append(
        {
            "kind": "comparison",
            "images": n,
            "speedup_median": speedup["median"],
            "identical_caches": True,
            "no_face_images": no_face,
            "projected_celeba_16_cores_hours": hours,
            "note": (
                f"images: {described}; projection = {CELEBA_IMAGES} / ({NODE_CORES} x "
                "per-process rate of the 2-process run), assuming linear scaling"
            ),
        }
    )
    print(
        f"  1 process {rate[1]['median']:.1f} images/s, 2 processes {rate[2]['median']:.1f} "
        f"images/s: speed-up {speedup['median']:.2f}x; caches identical",
        flush=True,
    )
    note = (
        f"{described}; {no_face} without a detected face; 1 process "
        f"{rate[1]['median']:.1f} images/s, 2 processes {rate[2]['median']:.1f} images/s; "
        f"caches identical (features, face_found); projection (from the per-core rate measured "
        f"here, assuming linear scaling): all {CELEBA_IMAGES:,} CelebA images on a "
        f"{NODE_CORES}-core node in {hours:.2f} h"
    )
    summary = Summary(
        item=ITEM,
        case=f"{n} images, batch {setting['batch']} (CPU, 1 vs 2 processes)",
        ours="extract_features, 2 processes",
        baseline="extract_features, 1 process",
        ours_s=statistics.median(two_s),
        baseline_s=statistics.median(one_s),
        speedup=speedup,
        agreement=0.0,
        goal=GOAL,
        met=speedup["median"] >= GOAL_SPEEDUP if judged else None,
        note=note if judged else f"{note}; no warm-up (smoke scale): goal not judged",
        extra={"ours_images_per_s": rate[2], "baseline_images_per_s": rate[1]},
    )
    return rows, summary
