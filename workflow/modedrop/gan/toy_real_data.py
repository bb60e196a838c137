"""The real reference points of a toy data set for one seed and their NDB bins (Martina-Perez,
*Addressing mode collapse in GANs*): what a toy GAN's tracking and figures compare against."""

from __future__ import annotations

import functools

import numpy as np

from modedrop.gan.toy_data import get_dataset
from modedrop.gan.toy_ensemble import STREAM_REAL, rng_stream
from modedrop.metrics.ndb import NDBBins

__all__ = ["real_bins", "real_sample"]


def real_sample(dataset: str, seed: int, n: int) -> np.ndarray:
    """The ``n`` real points of (data set, seed) that its NDB bins are built on, float32."""
    return get_dataset(dataset).sample(n, rng_stream(seed, STREAM_REAL))


@functools.lru_cache(maxsize=64)
def real_bins(dataset: str, seed: int, n_real: int, n_bins: int) -> NDBBins:
    """NDB bins (K-means, ``n_bins``, seeded with ``seed``) on :func:`real_sample`; cached, so
    the latent sizes of one process share them."""
    return NDBBins(real_sample(dataset, seed, n_real), n_bins=n_bins, seed=seed)
