"""The feature cache does not depend on the extraction's thread count (features.threads).

The default study embeds with one thread on 2 cores (config/config.yaml) and a larger machine
with more; both must give the same rows. Decoding workers change only where images are decoded,
but torch's CPU kernels may pick another algorithm for another thread count, so the rows agree
to float rounding, not bit for bit (here: up to ~4e-6 on these noise images at batch 4; the
default study's 8,000-image cache came out byte-identical with 1 and 2 threads).
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from conftest import noise_jpeg
from modedrop.extraction import extract_features

NAMES = [f"{i:06d}.jpg" for i in range(1, 12)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("threads")
    for i, name in enumerate(NAMES):
        (root / name).write_bytes(noise_jpeg(i))
    return root


def test_one_and_two_threads_give_the_same_cache(folder, tmp_path):
    caches = {}
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}.h5"
        extract_features(
            folder, NAMES, "efficientnet_lite0", out, batch_size=4, threads=threads, progress=False
        )
        with h5py.File(out) as handle:
            caches[threads] = {key: handle[key][:] for key in ("features", "logits", "image")}
    np.testing.assert_array_equal(caches[1]["image"], caches[2]["image"])
    for key in ("features", "logits"):
        np.testing.assert_allclose(caches[1][key], caches[2][key], rtol=1e-4, atol=1e-5)
