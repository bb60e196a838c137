"""Elementwise activations of the toy GAN's numpy networks (Martina-Perez, *Addressing mode
collapse in GANs*), each with the derivative the hand-written backward pass needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["ACTIVATIONS", "Activation"]


@dataclass(frozen=True)
class Activation:
    """``forward(a) -> h`` and its derivative ``grad(a, h) -> dh/da`` (elementwise)."""

    forward: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray]


_LEAK = np.float32(0.2)
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(lambda a: np.maximum(a, 0), lambda a, h: a > 0),
    "leaky_relu": Activation(
        lambda a: np.where(a > 0, a, _LEAK * a), lambda a, h: np.where(a > 0, 1, _LEAK)
    ),
    "tanh": Activation(np.tanh, lambda a, h: 1 - h * h),
    "sigmoid": Activation(lambda a: expit(a), lambda a, h: h * (1 - h)),
    "identity": Activation(lambda a: a, lambda a, h: np.ones_like(a)),
}
