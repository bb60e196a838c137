"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

# Figures are written to files: no test needs a display, and the library leaves the backend to
# its caller (as the workflow does for its jobs in common.smk).
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
# The contributors' reference material sits beside the checkout; users' machines lack it.
SHARED = REPO.parent / "shared"
CELEBA_META = SHARED / "celeba"


def noise_jpeg(seed: int) -> bytes:
    """A small JPEG of uniform noise (48 x 59), different for every seed: an image any encoder
    decodes and embeds, for tests that only need files in the real format."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (59, 48, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def official_celeba_meta() -> Path:
    """The official CelebA metadata folder, or a clean skip where it is not available."""
    if not (CELEBA_META / "list_attr_celeba.txt").exists():
        pytest.skip(f"official CelebA metadata not found at {CELEBA_META} (contributors only)")
    return CELEBA_META


@pytest.fixture
def celeba_meta() -> Path:
    """The official CelebA metadata files, or a clean skip where they are not available."""
    return official_celeba_meta()


@pytest.fixture(scope="session")
def celeba_meta_session() -> Path:
    """``celeba_meta`` for module- and session-scoped fixtures (the same clean skip)."""
    return official_celeba_meta()


@pytest.fixture
def config() -> dict:
    """The default study's configuration (config/config.yaml), freshly read: tests may edit it."""
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A fresh copy of the workflow in ``tmp_path / "run"``."""
    from workflow_helpers import copy_workflow

    return copy_workflow(tmp_path / "run")


@pytest.fixture
def one_blas_thread():
    """One BLAS thread: threaded small LAPACK/GEMM calls are erratic on a busy 2-core machine.

    Modules that need it use ``pytestmark = pytest.mark.usefixtures("one_blas_thread")``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> Path:
    """The tiny study (``workflow_helpers.TINY``) run once, locally, in a copy of the workflow.

    Shared by the workflow, determinism and SLURM tests; tests may dry-run other configs in it
    but must leave its results as they are.
    """
    from workflow_helpers import TINY, copy_workflow, snakemake, write_config

    workdir = copy_workflow(tmp_path_factory.mktemp("tiny_study"))
    write_config(workdir, TINY)
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def gan_study(tmp_path_factory) -> Path:
    """The three generator studies (``workflow_helpers.GAN_TINY``) run once in a copy of the
    workflow, with a user's generator given as an entry point in the working directory.

    Tests may dry-run and edit modules there but must leave it as they found it.
    """
    import textwrap

    from workflow_helpers import (
        GAN_TARGETS,
        GAN_TINY,
        USER_GENERATOR,
        copy_workflow,
        snakemake,
        write_config,
    )

    workdir = copy_workflow(tmp_path_factory.mktemp("gan_study"))
    write_config(workdir, GAN_TINY)
    (workdir / "user_generator.py").write_text(textwrap.dedent(USER_GENERATOR))
    snakemake(workdir, *GAN_TARGETS)
    return workdir
