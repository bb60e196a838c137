"""The extraction throughput benchmark (benchmarks/bench_extraction.py, its baselines in
benchmarks/extraction_baselines.py) at its smoke scale."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import modedrop.chunks
import modedrop.extraction
from benchmarks import bench_extraction as bench
from benchmarks import extraction_baselines as baselines
from modedrop.data.images import ImageList
from modedrop.encoders import get_encoder
from modedrop.encoders.base import file_sha256
from modedrop.encoders.weights import locate_weights

#: Ours and the naive loop differ by channels_last and oneDNN's choices only (~1e-6 measured);
#: a different preprocessing (bilinear instead of bicubic) is ~0.2 (see the test below).
AGREEMENT = 1e-4
#: On CUDA the library runs the model under bf16 autocast (8-bit mantissa) and the naive loop in
#: float32: a loose bound, not measured here (no GPU on the development machine).
AGREEMENT_BF16 = 0.1


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """These tests set torch's thread count (as extraction does): leave it as it was."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return bench.run(out, "smoke"), out


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> tuple[Path, list[str]]:
    return bench.synthfaces(tmp_path_factory.mktemp("faces"), 4, workers=1)


def test_smoke_run_measures_both_sides_and_they_agree(smoke):
    summaries, out = smoke
    measured = [s for s in summaries if s.speedup is not None]
    assert measured, "no comparison was measured"
    for summary in measured:
        for side in ("ours_images_per_s", "baseline_images_per_s"):
            rate = summary.extra[side]
            assert all(math.isfinite(v) and v > 0 for v in rate.values()), (side, rate)
        assert all(math.isfinite(v) and v > 0 for v in summary.speedup.values())
        bound = AGREEMENT_BF16 if summary.case.startswith("cuda") else AGREEMENT
        assert summary.agreement is not None and 0 <= summary.agreement < bound
        assert summary.goal and summary.met is None  # smoke: no warm-up, goal not judged
    runs = pd.read_csv(out / "extraction.csv").query("kind == 'run'")
    assert set(runs["side"]) >= {"ours", "naive"}
    assert (runs["images_per_s"] > 0).all()
    # images/s is images over seconds of the whole run (one repeat at smoke scale)
    first = measured[0]
    images = runs.query("side == 'ours'")["images"].iloc[0]
    assert first.extra["ours_images_per_s"]["median"] * first.ours_s == pytest.approx(images)
    assert first.extra["baseline_images_per_s"]["median"] * first.baseline_s == pytest.approx(
        images
    )


@pytest.mark.parametrize(("naive_s", "met"), [(2.0, True), (0.5, False)])
def test_cpu_goal_is_met_only_when_ours_is_faster(naive_s, met):
    case = bench.Case("c", "efficientnet_lite0", "cpu", 8, 2, 16, Path("w"), "0" * 64)
    summary = bench.comparison_summary(case, [1.0, 1.0], [naive_s, naive_s], 1e-6, 0.01)
    assert summary.met is met and summary.speedup["median"] == pytest.approx(naive_s)
    assert summary.extra["ours_images_per_s"]["median"] == pytest.approx(16.0)
    unjudged = bench.comparison_summary(case, [1.0], [naive_s], 1e-6, 0.01, judged=False)
    assert unjudged.met is None


def test_write_phase_is_timed_and_part_of_the_run(smoke):
    summaries, _ = smoke
    (write,) = [s for s in summaries if "write phase" in s.case]
    assert 0 < write.ours_s < write.baseline_s
    assert "fsync'd file(s) per run" in write.note


def test_gpu_is_measured_or_said_not_to_be(smoke):
    summaries, _ = smoke
    cases = [s.case for s in summaries]
    if torch.cuda.is_available():
        assert any(torch.cuda.get_device_name() in case for case in cases)
    else:
        (gpu,) = [s for s in summaries if s.case.startswith("GPU")]
        assert "not available" in gpu.case and "not measured" in gpu.case and gpu.met is None


def test_a_different_preprocessing_is_caught(faces, tmp_path):
    """The agreement check can fail: bilinear instead of bicubic resizing is far above it."""
    root, names = faces
    spec = get_encoder("efficientnet_lite0")
    weights = locate_weights(spec, allow_download=False)
    torch.set_num_threads(1)
    modedrop.extraction.extract_features(
        root, names, spec.name, tmp_path / "c.h5", batch_size=4, device="cpu", progress=False
    )
    ours = baselines.cache_features(tmp_path / "c.h5", names)
    same = baselines.naive_extract(root, names, spec, weights, 4, "cpu")
    bilinear = dataclasses.replace(
        spec, preprocessing=dataclasses.replace(spec.preprocessing, interpolation="bilinear")
    )
    other = baselines.naive_extract(root, names, bilinear, weights, 4, "cpu")
    assert bench.relative_difference(ours, same) < AGREEMENT
    assert bench.relative_difference(ours, other) > 10 * AGREEMENT


def test_relative_difference_is_per_image_and_relative():
    reference = np.array([[3.0, 4.0], [0.0, 1.0]], dtype=np.float32)
    ours = reference + np.array([[0.5, 0.0], [0.0, 0.1]], dtype=np.float32)
    assert bench.relative_difference(ours, reference) == pytest.approx(0.1)
    assert bench.relative_difference(reference, reference) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        bench.relative_difference(ours[:1], reference)


def _jpeg(path: Path, size: tuple[int, int], seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def test_device_decoding_equals_pillow_decoding_on_the_cpu(tmp_path):
    """The GPU candidates' code paths with device='cpu': the same tensors as the library's
    Pillow decoding and preprocessing, for a batch of one size and one of mixed sizes."""
    for i, size in enumerate([(96, 118), (96, 118), (70, 90)]):
        _jpeg(tmp_path / f"{i}.jpg", size, seed=i)
    preprocessing = get_encoder("efficientnet_lite0").preprocessing
    for names in (["0.jpg", "1.jpg"], ["0.jpg", "1.jpg", "2.jpg"]):
        library = ImageList(tmp_path, names, preprocessing)
        expected = torch.stack([library[i] for i in range(len(names))])
        encoded = [baselines.EncodedFiles(tmp_path, names)[i] for i in range(len(names))]
        decoded = baselines.decode_batch(encoded, preprocessing, torch.device("cpu"))
        assert torch.equal(decoded, expected), names
        raw = ImageList(tmp_path, names, baselines.unchanged)
        collated = baselines.stack_if_one_size([raw[i] for i in range(len(names))])
        pillow = baselines.preprocess_batch(collated, preprocessing, torch.device("cpu"))
        assert torch.equal(pillow, expected), names


def test_candidate_branch_runs_on_the_cpu(faces, tmp_path):
    """The comparisons a GPU run adds (each candidate against ours), here on the CPU."""
    root, names = faces
    spec = get_encoder("efficientnet_lite0")
    weights = locate_weights(spec, allow_download=False)
    case = bench.Case(
        "cpu candidates", spec.name, "cpu", 2, 1, len(names), weights,
        file_sha256(weights), candidates=True,
    )  # fmt: skip
    summaries = bench.run_case(case, root, names, tmp_path, repeats=1, warm_up=False)
    candidates = [s for s in summaries if s.ours.startswith("candidate")]
    assert len(candidates) == len(baselines.DECODERS)
    for summary in candidates:
        assert summary.baseline == bench.OURS
        assert all(math.isfinite(v) and v > 0 for v in summary.speedup.values())
        assert summary.agreement < AGREEMENT
    sides = {row["side"] for row in case.rows if row["kind"] == "run"}
    assert sides == {"ours", "naive", "candidate_device", "candidate_pillow"}


def test_write_timer_restores_the_library_functions():
    write, assemble = modedrop.chunks.write_atomically, modedrop.extraction.assemble_cache
    timer = baselines.WriteTimer()
    with timer.patched():
        assert modedrop.chunks.write_atomically is not write
    assert modedrop.chunks.write_atomically is write
    assert modedrop.extraction.assemble_cache is assemble
