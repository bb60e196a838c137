"""Saving and loading a trained toy-GAN ensemble (:class:`modedrop.gan.toy_training.ToyRun`)
as a directory of history.csv, snapshots.npz, generator.pt and settings.json, written
atomically and byte-reproducibly."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from modedrop.gan.toy_settings import ToyGANSettings
from modedrop.gan.toy_training import ToyRun

__all__ = ["load_run", "save_run"]

_FILES = ("history.csv", "snapshots.npz", "generator.pt", "settings.json")


def _atomic(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write through ``write(file)`` to a temporary name, then rename: a reader never sees a
    half-written file, and an interrupted run leaves no file that looks complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_npz(handle, arrays: dict[str, np.ndarray]) -> None:
    """``numpy.savez`` with a fixed timestamp, so the same arrays give the same bytes."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", (1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )


def save_run(run: ToyRun, directory: str | os.PathLike) -> Path:
    """Write history.csv, snapshots.npz (``step_<n>`` arrays), generator.pt (torch state dict
    of the seed-stacked parameters) and settings.json into ``directory``; returns it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / "history.csv", lambda f: run.history.to_csv(f, index=False), mode="w")
    snapshots = {f"step_{step:09d}": run.snapshots[step] for step in sorted(run.snapshots)}
    _atomic(out / "snapshots.npz", lambda f: _write_npz(f, snapshots))
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in run.generator.items()}
    _atomic(out / "generator.pt", lambda f: torch.save(state, f))
    text = json.dumps(run.settings.to_dict(), indent=2, sort_keys=True) + "\n"
    _atomic(out / "settings.json", lambda f: f.write(text), mode="w")
    return out


def load_run(directory: str | os.PathLike) -> ToyRun:
    """Read a run written by :func:`save_run` (generator.pt with ``weights_only=True``)."""
    src = Path(directory)
    missing = [name for name in _FILES if not (src / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{src} lacks {missing}; it is not a complete toy-GAN run (save_run writes "
            f"{list(_FILES)}). Re-run the training job."
        )
    settings = ToyGANSettings.from_dict(json.loads((src / "settings.json").read_text("utf-8")))
    history = pd.read_csv(src / "history.csv")
    with np.load(src / "snapshots.npz", allow_pickle=False) as archive:
        snapshots = {int(k.removeprefix("step_")): archive[k] for k in archive.files}
    state = torch.load(src / "generator.pt", map_location="cpu", weights_only=True)
    generator = {k: v.numpy() for k, v in state.items()}
    return ToyRun(settings, history, snapshots, generator)
