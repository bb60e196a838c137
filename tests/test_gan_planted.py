"""A planted collapsed generator is flagged by modes covered, NDB and MCCS (issue 6).

Both generators go through the generator interface: a network ``z -> (B, 2, 1, 1)`` "image" whose
two channels are a 2-D point (output_range spans the plane), so the same code path that serves
image generators draws their samples. The fair generator maps each latent to a random mode of
the ring of 8 Gaussians; the collapsed one maps every latent near one mode.
"""

import numpy as np
import pytest
import torch

from modedrop.gan.toy_data import get_dataset
from modedrop.gan.toy_real_data import real_bins
from modedrop.generators import Generator
from modedrop.metrics.mccs import mccs_population_from_split, split_anchors
from modedrop.priors import NormalPrior

RING = get_dataset("ring")
N = 2000


class RingNetwork(torch.nn.Module):
    """z (B, 3) -> a point near mode floor(8 * Phi(z_0)) of the ring, or near mode 0 when
    ``collapsed``; z_1, z_2 give the within-mode noise (std 0.02, the ring's own)."""

    def __init__(self, collapsed: bool) -> None:
        super().__init__()
        self.collapsed = collapsed

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.collapsed:
            mode = torch.zeros_like(z[:, 0])
        else:
            uniform = 0.5 * (1 + torch.erf(z[:, 0] / 2**0.5))
            mode = torch.clamp(torch.floor(8 * uniform), max=7)
        angle = 2 * torch.pi * mode / 8
        points = torch.stack([2 * torch.cos(angle), 2 * torch.sin(angle)], 1) + 0.02 * z[:, 1:]
        # A third, constant channel makes it an RGB "image" of 1 x 1 pixel.
        rgb = torch.cat([points, torch.zeros_like(points[:, :1])], 1)
        return rgb[:, :, None, None]


def points_of(generator: Generator, seed: int = 0) -> np.ndarray:
    """The generated 2-D points, read back from the interface's uint8 'images'."""
    images = generator.images(generator.sample_latents(N, seed)).astype(np.float64)
    low, high = generator.output_range
    return images[:, 0, 0, :2] / 255 * (high - low) + low


def generator(collapsed: bool) -> Generator:
    # [-2.6, 2.6] holds the ring (radius 2) with room for noise; 1 grey level = 0.02.
    return Generator(RingNetwork(collapsed), NormalPrior(3), output_range=(-2.6, 2.6))


def mccs_mean(points: np.ndarray) -> float:
    """Population MCCS with the point's direction as its 'identity' (rows are L2-normalised
    inside): theta = 1/32 of a half turn, well under the 1/8 turn between modes."""
    anchors, samples = split_anchors(len(points), 0.25, seed=0)
    result = mccs_population_from_split(points, anchors, samples, theta=1 / 32, radius=1 / 64)
    return result.mean


@pytest.fixture(scope="module")
def scores():
    # One bin per mode: the uint8 round trip moves points by < 0.01, which can shift them
    # between bins that split a mode (std 0.02) but never between modes.
    bins = real_bins("ring", seed=1, n_real=10_000, n_bins=8)
    out = {}
    for name, collapsed in (("fair", False), ("collapsed", True)):
        points = points_of(generator(collapsed))
        out[name] = {**RING.track(points, bins), "mccs": mccs_mean(points)}
    return out


def test_modes_covered_flags_the_collapse(scores):
    assert scores["fair"]["modes_covered"] == 8
    assert scores["collapsed"]["modes_covered"] == 1
    assert scores["fair"]["high_quality_share"] > 0.95  # the uint8 round trip keeps points on mode


def test_ndb_flags_the_collapse(scores):
    # Fair: about alpha * K bins differ by chance; collapsed: nearly every bin.
    assert scores["fair"]["ndb_fraction"] <= 0.25
    assert scores["collapsed"]["ndb_fraction"] >= 0.8
    assert scores["collapsed"]["jsd"] > 10 * scores["fair"]["jsd"]


def test_mccs_flags_the_collapse(scores):
    # Every anchor of the collapsed set has all samples as same-identity neighbours.
    assert scores["collapsed"]["mccs"] > 0.5
    assert scores["fair"]["mccs"] < 0.5 * scores["collapsed"]["mccs"]
