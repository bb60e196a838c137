"""The toy GAN's networks as numpy *ensembles* (Martina-Perez, *Addressing mode collapse in
GANs*): one MLP per seed, stacked on a leading seed axis, with hand-written gradients of both
losses, SGD/Adam, and the per-seed random streams that keep each seed independent of the rest."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from modedrop.gan.toy_activations import ACTIVATIONS
from modedrop.gan.toy_settings import ToyGANSettings

__all__ = [
    "STREAM_DATA",
    "STREAM_EVAL",
    "STREAM_INIT",
    "STREAM_LATENT",
    "STREAM_REAL",
    "EnsembleMLP",
    "Optimiser",
    "discriminator_gradients",
    "generator_gradients",
    "rng_stream",
]

# Per-seed random streams: SeedSequence(seed, spawn_key=(stream,)) for the initial weights, the
# real batches, the latent batches, the fixed evaluation latents and the real reference set.
STREAM_INIT, STREAM_DATA, STREAM_LATENT, STREAM_EVAL, STREAM_REAL = range(5)


def rng_stream(seed: int, stream: int) -> np.random.Generator:
    """Random stream ``stream`` of ``seed``: independent of every other seed and stream."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


@functools.lru_cache(maxsize=8)
def _ones(n: int) -> np.ndarray:
    ones = np.ones((1, 1, n), dtype=np.float32)
    ones.setflags(write=False)
    return ones


class EnsembleMLP:
    """``n_seeds`` MLPs of the same shape, parameters stacked on a leading seed axis.

    ``params`` alternates weights ``(S, in, out)`` and biases ``(S, 1, out)``, float32. Hidden
    layers use ``activation``; the output layer is linear (the discriminator's sigmoid is
    folded into its loss).
    """

    def __init__(self, params: list[np.ndarray], activation: str) -> None:
        self.params = params
        self.activation = ACTIVATIONS[activation]

    @classmethod
    def initialise(
        cls, sizes: Sequence[int], activation: str, rngs: Sequence[np.random.Generator], std: float
    ) -> EnsembleMLP:
        """Every weight and bias ~ N(0, std^2), each seed from its own generator."""
        per_seed = []
        for rng in rngs:
            layers = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
                layers.append(rng.standard_normal((fan_in, fan_out)) * std)
                layers.append(rng.standard_normal((1, fan_out)) * std)
            per_seed.append(layers)
        params = [
            np.ascontiguousarray(np.stack([seed[i] for seed in per_seed]), dtype=np.float32)
            for i in range(len(per_seed[0]))
        ]
        return cls(params, activation)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Output ``(S, B, out)`` and the (input, pre-activation) of every layer."""
        cache = []
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            a = x @ self.params[2 * i] + self.params[2 * i + 1]
            cache.append((x, a))
            x = self.activation.forward(a) if i < n_layers - 1 else a
        return x, cache

    def backward(
        self, cache: list[tuple[np.ndarray, np.ndarray]], grad_out: np.ndarray, *, params: bool
    ) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
        """Gradients of the parameters (if ``params``) and otherwise of the input, given the
        gradient of the summed loss with respect to the output."""
        grads: list[np.ndarray] = []
        delta = grad_out  # d loss / d pre-activation of the current layer
        for i in range(len(cache) - 1, -1, -1):
            x, _ = cache[i]
            if params:
                # Bias gradient = sum over the batch, as a matmul with ones (faster than .sum).
                grads.append(_ones(delta.shape[1]) @ delta)
                grads.append(x.transpose(0, 2, 1) @ delta)
            if i == 0:
                break
            below = cache[i - 1][1]
            h = x  # the input of layer i is the activation of layer i - 1
            delta = (delta @ self.params[2 * i].transpose(0, 2, 1)) * self.activation.grad(below, h)
        if params:
            return grads[::-1], None
        return None, delta @ self.params[0].transpose(0, 2, 1)


def discriminator_gradients(
    generator: EnsembleMLP, discriminator: EnsembleMLP, real: np.ndarray, z: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, list]:
    """Gradients of every seed's discriminator loss ``mean softplus(-D(x)) + mean
    softplus(D(G(z)))`` (BCE, real 1, fake 0), and the fake batch with its generator cache."""
    batch = real.shape[1]
    fake, g_cache = generator.forward(z)
    logits, d_cache = discriminator.forward(np.concatenate([real, fake], axis=1))
    grad = expit(logits)  # d softplus(l) / dl; minus 1 for the real half (softplus(-l))
    grad[:, :batch] -= 1
    grad *= np.float32(1.0 / batch)
    grads, _ = discriminator.backward(d_cache, grad, params=True)
    return grads, fake, g_cache


def generator_gradients(
    generator: EnsembleMLP, discriminator: EnsembleMLP, fake: np.ndarray, g_cache: list
) -> list[np.ndarray]:
    """Gradients of every seed's non-saturating generator loss ``mean softplus(-D(G(z)))``."""
    logits, d_cache = discriminator.forward(fake)
    grad = (expit(logits) - 1) * np.float32(1.0 / fake.shape[1])
    _, grad_fake = discriminator.backward(d_cache, grad, params=False)
    grads, _ = generator.backward(g_cache, grad_fake, params=True)
    return grads


class Optimiser:
    """Plain SGD or Adam (Kingma & Ba 2015, torch.optim.Adam's update, no weight decay);
    elementwise, so every seed's update uses only its own gradients."""

    def __init__(self, params: list[np.ndarray], settings: ToyGANSettings) -> None:
        self.params = params
        self.lr = np.float32(settings.lr)
        self.adam = settings.optimizer == "adam"
        self.beta1, self.beta2 = (np.float32(b) for b in settings.adam_betas)
        self.t = 0
        if self.adam:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        if not self.adam:
            for p, g in zip(self.params, grads, strict=True):
                p -= self.lr * g
            return
        self.t += 1
        c1 = 1 - float(self.beta1) ** self.t
        c2 = 1 - float(self.beta2) ** self.t
        step = np.float32(float(self.lr) / c1)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= step * m / (np.sqrt(v / np.float32(c2)) + np.float32(1e-8))
