"""Resumable, atomic feature extraction: kill it, re-run it, get the uninterrupted cache.

The kill test runs the packaged EfficientNet-Lite0 (offline) in a child process; the other
tests use a tiny deterministic encoder so that each extraction takes a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torchvision.transforms.v2.functional import pil_to_tensor

import modedrop.extraction as extraction
from modedrop.chunks import MANIFEST_NAME, ChunkStore, chunk_folder, chunk_rows_for
from modedrop.data.images import ImageDecodeError, list_images
from modedrop.embedding_run import NonFiniteFeaturesError
from modedrop.encoders.base import EncoderSpec, Preprocessing, Weights
from modedrop.extraction import extract_features

KILL_IMAGES = 120
KILL_SETTINGS = {"batch_size": 8, "chunk_images": 16, "threads": 1, "device": "cpu"}
TINY_SETTINGS = {"batch_size": 4, "chunk_images": 8, "threads": 1, "device": "cpu"}
TIMEOUT_S = 120


def draw_images(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` small PNG/JPEG images of random shapes and colours (names sorted)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = Image.new("RGB", (48, 59), tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x0, y0 = rng.integers(0, 40, 2)
            box = [int(x0), int(y0), int(x0 + rng.integers(4, 30)), int(y0 + rng.integers(4, 30))]
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
        image.save(folder / f"{i:06d}.{'png' if i % 3 == 0 else 'jpg'}")
    return list_images(folder)


def read_cache(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    with h5py.File(path, "r") as handle:
        datasets = {key: handle[key][:] for key in handle}
        attrs = dict(handle.attrs)
    return datasets, attrs


def assert_same_cache(a: Path, b: Path) -> None:
    """Same datasets (bitwise, same dtype) and the same attributes.

    Bitwise on one machine: both extractions embed the same batches with the same threads and
    kernels. Runs on other hardware may differ from these in the last bits.
    """
    (data_a, attrs_a), (data_b, attrs_b) = read_cache(a), read_cache(b)
    assert sorted(data_a) == sorted(data_b)
    for key in data_a:
        assert data_a[key].dtype == data_b[key].dtype, key
        np.testing.assert_array_equal(data_a[key], data_b[key], err_msg=key)
    assert sorted(attrs_a) == sorted(attrs_b)
    for key, value in attrs_a.items():
        assert np.array_equal(value, attrs_b[key]), key


def chunk_files(out: Path) -> list[Path]:
    folder = chunk_folder(out)
    return sorted(folder.glob("chunk_??????.npz")) if folder.exists() else []


# --- the real encoder, killed with SIGKILL --------------------------------------------------

CHILD = textwrap.dedent(
    """
    import json, sys
    from modedrop.data.images import list_images
    from modedrop.extraction import extract_features

    folder, out, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    extract_features(
        folder, list_images(folder), "efficientnet_lite0", out, progress=False, **settings
    )
    """
)


def kill_after_two_chunks(folder: Path, out: Path) -> None:
    """Start the extraction in a child process and SIGKILL it once two chunks exist."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(out), json.dumps(KILL_SETTINGS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(chunk_files(out)) < 2:
            if child.poll() is not None:
                _, stderr = child.communicate(timeout=10)
                pytest.fail(
                    f"the extraction ended (exit {child.returncode}) before it could be killed "
                    f"after 2 of {KILL_IMAGES // 16 + 1} chunks; stderr:\n{stderr.decode()[-3000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no 2 complete chunks in {chunk_folder(out)} after {TIMEOUT_S} s")
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def test_killed_extraction_resumes_to_the_uninterrupted_cache(tmp_path, caplog):
    folder = tmp_path / "images"
    names = draw_images(folder, KILL_IMAGES)
    out = tmp_path / "killed" / "efficientnet_lite0.h5"
    kill_after_two_chunks(folder, out)

    assert not out.exists(), "a killed extraction left a file under the cache's final name"
    assert not out.with_name(out.name + ".partial").exists()
    done = len(chunk_files(out))
    assert 2 <= done < -(-KILL_IMAGES // 16)

    with caplog.at_level(logging.INFO, logger="modedrop"):
        stats = extract_features(
            folder, names, "efficientnet_lite0", out, progress=False, **KILL_SETTINGS
        )
    assert "resuming the extraction" in caplog.text
    assert stats["resumed"] >= 2 * 16 and stats["embedded"] < KILL_IMAGES
    assert stats["resumed"] + stats["embedded"] == stats["images"] == KILL_IMAGES
    assert not chunk_folder(out).exists()

    # The reference: one uninterrupted run (same batches; the default chunk size).
    reference = tmp_path / "reference" / "efficientnet_lite0.h5"
    settings = {**KILL_SETTINGS, "chunk_images": 4096}
    full = extract_features(
        folder, names, "efficientnet_lite0", reference, progress=False, **settings
    )
    assert full["embedded"] == KILL_IMAGES and full["resumed"] == 0
    assert_same_cache(out, reference)


# --- a tiny deterministic encoder for the unit tests ----------------------------------------


class TinyEncoder(torch.nn.Module):
    """Per-channel log-means and a few pixels; an all-black image gives -inf."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.cat([images.mean(dim=(2, 3)).log(), images.flatten(1)[:, :5]], dim=1)
        return features, 2 * features[:, :2]


class TinyFaceEncoder(TinyEncoder):
    """Records one ``face_found`` flag per image in call order, like dlib_face."""

    def __init__(self):
        super().__init__()
        self.face_found: list[bool] = []

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.face_found += (images.mean(dim=(1, 2, 3)) > 0.5).tolist()
        return super().forward(images)


@pytest.fixture
def tiny_encoder(tmp_path, monkeypatch) -> EncoderSpec:
    """Replace the registry lookup of the extraction module by a tiny encoder."""
    weights = tmp_path / "tiny.bin"
    weights.write_bytes(b"tiny encoder, no parameters")
    spec = EncoderSpec(
        name="tiny",
        description="test encoder",
        feature_dim=8,
        num_classes=2,
        preprocessing=Preprocessing(resize=8, crop=8, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)),
        weights=Weights(file_name="tiny.bin", packaged=lambda: weights),
        build=lambda path: TinyEncoder().eval(),
    )
    monkeypatch.setattr(extraction, "get_encoder", lambda name: spec)
    return spec


class Interrupted(Exception):
    """Stands for a kill: the run stops after some chunks were written."""


def run_interrupted(monkeypatch, after_chunks: int, *args, **kwargs) -> None:
    """Run an extraction that stops right after writing ``after_chunks`` chunks."""
    original = ChunkStore.write
    written = []

    def write(self, index, chunk):
        original(self, index, chunk)
        written.append(index)
        if len(written) == after_chunks:
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(ChunkStore, "write", write)
        with pytest.raises(Interrupted):
            extract_features(*args, **kwargs)


@pytest.fixture
def tiny_images(tmp_path) -> tuple[Path, list[str]]:
    folder = tmp_path / "tiny_images"
    return folder, draw_images(folder, 30, seed=1)


def test_chunk_size_is_rounded_up_to_whole_batches():
    assert chunk_rows_for(8, 4) == 8
    assert chunk_rows_for(9, 4) == 12
    assert chunk_rows_for(1, 16) == 16


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"batch_size": 2}, "batch_size"),
        ({"names": slice(1, None)}, "names_sha256"),
    ],
)
def test_chunks_of_other_settings_are_discarded(
    tiny_encoder, tiny_images, tmp_path, monkeypatch, caplog, change, why
):
    folder, names = tiny_images
    out = tmp_path / "tiny.h5"
    run_interrupted(monkeypatch, 2, folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert len(chunk_files(out)) == 2

    settings = {**TINY_SETTINGS, **{k: v for k, v in change.items() if k != "names"}}
    names = names[change["names"]] if "names" in change else names
    with caplog.at_level(logging.WARNING, logger="modedrop"):
        stats = extract_features(folder, names, "tiny", out, progress=False, **settings)
    assert "discarding the chunks" in caplog.text and why in caplog.text
    assert stats["resumed"] == 0 and stats["embedded"] == len(names)
    assert not chunk_folder(out).exists()


def test_unreadable_and_leftover_chunk_files_are_ignored(
    tiny_encoder, tiny_images, tmp_path, monkeypatch
):
    folder, names = tiny_images
    reference = tmp_path / "reference.h5"
    extract_features(folder, names, "tiny", reference, progress=False, **TINY_SETTINGS)

    out = tmp_path / "tiny.h5"
    run_interrupted(monkeypatch, 3, folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    chunks = chunk_files(out)
    assert len(chunks) == 3
    # A truncated chunk under a final name (a damaged disk) and killed writes' temporary files
    # (chunk 3's is replaced when chunk 3 is written again; chunk 0's stays until cleaned up).
    chunks[1].write_bytes(chunks[1].read_bytes()[:100])
    for name in ("chunk_000003.npz.tmp", "chunk_000000.npz.tmp"):
        (chunks[0].parent / name).write_bytes(b"half a chunk")
    stats = extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    # Chunk 0 is reused; chunk 1 and everything after it are embedded again.
    assert stats["resumed"] == 8 and stats["embedded"] == len(names) - 8
    assert_same_cache(out, reference)
    assert not chunk_folder(out).exists()


def test_complete_chunks_are_assembled_without_embedding(
    tiny_encoder, tiny_images, tmp_path, monkeypatch
):
    """A kill between the last chunk and the rename: the re-run only assembles the cache."""
    folder, names = tiny_images
    out = tmp_path / "tiny.h5"

    def killed(*args, **kwargs):
        raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(extraction, "assemble_cache", killed)
        with pytest.raises(Interrupted):
            extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert len(chunk_files(out)) == 4 and not out.exists()
    assert json.loads((chunk_folder(out) / MANIFEST_NAME).read_text())["n_images"] == 30
    stats = extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert stats["embedded"] == 0 and stats["resumed"] == stats["images"] == 30


def test_face_flags_of_a_resumed_run_match_an_uninterrupted_run(
    tiny_encoder, tiny_images, tmp_path, monkeypatch
):
    """Each chunk stores the flags its own batches added (the model's list restarts empty)."""
    face_spec = dataclasses.replace(tiny_encoder, build=lambda path: TinyFaceEncoder().eval())
    monkeypatch.setattr(extraction, "get_encoder", lambda name: face_spec)
    folder, names = tiny_images
    reference = tmp_path / "reference.h5"
    extract_features(folder, names, "tiny", reference, progress=False, **TINY_SETTINGS)
    out = tmp_path / "tiny.h5"
    run_interrupted(monkeypatch, 2, folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    stats = extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert stats["resumed"] == 16
    assert_same_cache(out, reference)
    with h5py.File(out, "r") as handle:
        flags = handle["face_found"][:]
    expected = [
        bool(
            face_spec.preprocessing(pil_to_tensor(Image.open(folder / n).convert("RGB"))).mean()
            > 0.5
        )
        for n in names
    ]
    np.testing.assert_array_equal(flags, expected)
    assert 0 < flags.sum() < len(names)  # both kinds of flag occur, so their order matters


def test_failed_assembly_leaves_nothing_under_the_final_name(
    tiny_encoder, tiny_images, tmp_path, monkeypatch
):
    folder, names = tiny_images
    out = tmp_path / "tiny.h5"
    original = ChunkStore.load

    def fails_on_chunk_two(self, index):
        if index == 2:
            raise Interrupted
        return original(self, index)

    with monkeypatch.context() as patch:
        patch.setattr(ChunkStore, "load", fails_on_chunk_two)
        with pytest.raises(Interrupted):
            extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
    assert len(chunk_files(out)) == 4  # kept: the re-run only assembles
    assert (
        extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)["embedded"]
        == 0
    )


def test_non_finite_features_stop_the_extraction_naming_the_image(
    tiny_encoder, tiny_images, tmp_path
):
    folder, names = tiny_images
    Image.new("RGB", (48, 59)).save(folder / names[17])  # all black: log(0) = -inf
    out = tmp_path / "tiny.h5"
    with pytest.raises(NonFiniteFeaturesError, match=names[17]):
        extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
    # The chunks before the bad image are complete and finite; none holds the bad row.
    assert len(chunk_files(out)) == 17 // 8


def test_skip_option_resumes_a_run_stopped_by_a_corrupt_file(
    tiny_encoder, tiny_images, tmp_path, caplog
):
    folder, names = tiny_images
    (folder / names[12]).write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "tiny.h5"
    with pytest.raises(ImageDecodeError, match=names[12]):
        extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
    assert len(chunk_files(out)) == 1

    stats = extract_features(
        folder, names, "tiny", out, progress=False, skip_unreadable=True, **TINY_SETTINGS
    )
    assert stats["resumed"] == 8 and stats["skipped"] == 1 and stats["images"] == 29


def test_chunks_with_skipped_images_are_not_reused_without_the_option(
    tiny_encoder, tiny_images, tmp_path, monkeypatch
):
    folder, names = tiny_images
    (folder / names[3]).write_bytes(b"garbage")
    out = tmp_path / "tiny.h5"
    settings = {**TINY_SETTINGS, "skip_unreadable": True}
    run_interrupted(monkeypatch, 2, folder, names, "tiny", out, progress=False, **settings)
    with pytest.raises(ImageDecodeError, match=names[3]):
        extract_features(folder, names, "tiny", out, progress=False, **TINY_SETTINGS)
