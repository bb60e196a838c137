"""DCGAN generator and discriminator (Radford, Metz & Chintala 2016), as trained in the study
of Mehta, *Measuring Mode Collapse in GANs*: architecture, N(0, 0.02) initialisation, and the
run's independent random streams; :mod:`modedrop.gan.dcgan` trains them."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from modedrop.gan.training_set import RESOLUTIONS

__all__ = [
    "DATA_STREAM",
    "INIT_STREAM",
    "LATENT_STREAM",
    "NOISE_STREAM",
    "Discriminator",
    "Generator",
    "build_networks",
    "torch_seed",
]

# Independent random streams derived from the run's seed (SeedSequence keys [seed, stream]).
#: Stream of the initial weights.
INIT_STREAM = 0
#: Stream of the training data order (epoch permutations).
DATA_STREAM = 1
#: Stream of the fixed latent batch every evaluation generates from.
LATENT_STREAM = 2
#: Stream of the latent noise of the training batches.
NOISE_STREAM = 3


def _check_architecture(resolution: int, width: int) -> tuple[int, int]:
    if int(resolution) not in RESOLUTIONS:
        raise ValueError(
            f"resolution must be one of {RESOLUTIONS} (4x4 doubled 3 or 4 times), got "
            f"{resolution}; build the training set at one of these resolutions."
        )
    if isinstance(width, bool) or int(width) < 1:
        raise ValueError(f"width (ngf = ndf) must be a positive int, got {width!r}.")
    return int(resolution), int(width)


def _channels(resolution: int, width: int) -> list[int]:
    """Channels of the 4x4, 8x8, ... feature maps: ``width * 2^k`` down to ``width``."""
    n_maps = int(math.log2(resolution)) - 2
    return [width * 2 ** (n_maps - 1 - i) for i in range(n_maps)]


def _init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Radford et al.: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), all biases 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02, generator=generator)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02, generator=generator)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """DCGAN generator: ``(B, latent_dim)`` codes to ``(B, 3, resolution, resolution)`` images
    in [-1, 1] (the network of :class:`modedrop.generators.Generator`)."""

    def __init__(self, latent_dim: int, resolution: int = 32, width: int = 64) -> None:
        super().__init__()
        if isinstance(latent_dim, bool) or int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}.")
        resolution, width = _check_architecture(resolution, width)
        self.latent_dim = int(latent_dim)
        channels = _channels(resolution, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.latent_dim, channels[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(True),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError("latent codes must have shape (B, latent_dim)")
        # The transposed convolutions read the code as a 1x1 map with latent_dim channels.
        return self.net(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """DCGAN discriminator: ``(B, 3, resolution, resolution)`` images in [-1, 1] to ``(B,)``
    logits (real > 0)."""

    def __init__(self, resolution: int = 32, width: int = 64) -> None:
        super().__init__()
        resolution, width = _check_architecture(resolution, width)
        channels = _channels(resolution, width)[::-1]  # width, 2 width, ... (4x4 map last)
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(channels[-1], 1, 4, 1, 0))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def torch_seed(seed: int, stream: int) -> int:
    """A torch seed for one stream of the run, independent of the other streams."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0])


def build_networks(
    latent_dim: int, resolution: int, width: int, seed: int
) -> tuple[Generator, Discriminator]:
    """Both networks, initialised from ``seed`` only (the caller's global RNG is untouched)."""
    with torch.random.fork_rng(devices=[]):  # nn layers draw a default init from the global RNG
        generator, discriminator = (
            Generator(latent_dim, resolution, width),
            Discriminator(resolution, width),
        )
    init = torch.Generator().manual_seed(torch_seed(int(seed), INIT_STREAM))
    _init_weights(generator, init)
    _init_weights(discriminator, init)
    return generator, discriminator
