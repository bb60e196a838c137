"""Running the study's workflow for a benchmark: scaled configs, Snakemake in a work folder.

The benchmarks never touch the checkout's ``results/``: each run gets its own work folder
(``--directory``) with its own ``config/config.yaml``, and uses this checkout's ``Snakefile``
and library.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ENCODER = "efficientnet_lite0"


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def scaled_config(
    fraction: float, *, seeds: list[int] | None = None, experiments: list[str] | None = None
) -> dict:
    """The default study's mode-drop config with every image count multiplied by ``fraction``.

    Identities shrink with the data set (10 images each; the default has 20); subset and
    reference sizes shrink with it (at least 16 images; subset sizes stay multiples of
    2^(target attributes), as joint balance needs). ``seeds``/``experiments`` keep only
    those. The generator studies are left out (``studies: [mode_drop]``).
    """
    config = copy.deepcopy(default_config())
    config["studies"] = ["mode_drop"]
    if seeds is not None:
        config["seeds"] = list(seeds)
    if experiments is not None:
        config["experiments"] = {name: config["experiments"][name] for name in experiments}
    if fraction != 1:
        faces = config["synthfaces"]
        faces["n_images"] = round(faces["n_images"] * fraction)
        # 10 images per identity (the default has 20): at a few hundred images, 20 per identity
        # leaves so few identities that identity traits (Male) miss their subsets' needs.
        faces["n_identities"] = max(10, faces["n_images"] // 10)
        for block in config["experiments"].values():
            # joint balance: the unbiased condition needs a multiple of 2^(target attributes)
            step = 2 ** len(block["attributes"])
            block["size"] = max(16, step * round(block["size"] * fraction / step))
        if config["reference"]["size"] is not None:  # null: each experiment's own size
            config["reference"]["size"] = max(16, round(config["reference"]["size"] * fraction))
    return config


def only_families(config: dict, families: tuple[str, ...]) -> dict:
    """Switch off the feature-based families not in ``families`` (``encoders: []``).

    MS-SSIM works on pixels and cannot be switched off by config; callers that must not run
    it ask Snakemake for their families' result files only.
    """
    for name, block in config["metrics"].items():
        if name not in families and "encoders" in block:
            block["encoders"] = []
    return config


def new_work_folder(work: Path, config: dict) -> Path:
    """An empty work folder holding ``config/config.yaml``."""
    if work.exists():
        shutil.rmtree(work)
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return work


def snakemake(work: Path, *args: str, log: Path) -> float:
    """Run Snakemake on this checkout's workflow in ``work`` (output appended to ``log``).

    Returns the wall time in seconds; raises with the log's path when Snakemake fails.
    """
    env = dict(os.environ)
    # Scripts run with the interpreter found on PATH: make it this interpreter.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(work / "config" / "config.yaml"),
        "--cores",
        str(len(os.sched_getaffinity(0))),
        *args,
    ]
    start = time.perf_counter()
    with open(log, "a") as handle:
        handle.write(f"$ snakemake {' '.join(args)}\n")
        handle.flush()
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed; see {log}")
    return seconds


def smoke_config(n_images: int) -> dict:
    """A tiny mode-drop config (one experiment, one seed, subsets of 16) for the smoke runs."""
    config = scaled_config(n_images / 8000, seeds=[1], experiments=["drop_male"])
    # Many identities: Male is an identity trait, and a handful of identities can miss it.
    config["synthfaces"]["n_identities"] = 32
    config["experiments"]["drop_male"]["size"] = 16
    config["reference"]["size"] = 16
    config["dose_response"]["fractions"] = [0.5]
    config["intra_mode_collapse"] = {"fractions": [0.5], "identities": 2}
    config["metrics"]["inception_score"]["splits"] = 2
    config["metrics"]["fd_kd"].update(kid_subsets=10, kid_subset_size=16)
    config["metrics"]["ms_ssim"].update(pairs=10, batch_size=10)
    return config
