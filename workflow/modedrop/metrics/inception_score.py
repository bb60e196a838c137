"""Inception Score from classifier logits.

Formula (Salimans et al. 2016, "Improved Techniques for Training GANs", NeurIPS)::

    IS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

computed, as in torch-fidelity 0.4.0 (``torch_fidelity.metric_isc.isc_features_to_metric``), on
``splits`` contiguous chunks of the (optionally shuffled) samples, returning the mean and the
population standard deviation of the per-chunk scores:

1. if ``shuffle``: reorder rows by ``numpy.random.RandomState(rng_seed).permutation(N)``;
2. cast to float64; ``log p(y|x) = log_softmax(logits)``, ``p(y|x) = exp(log p(y|x))``;
3. chunk ``i`` is rows ``i*N//splits : (i+1)*N//splits``; ``p(y)`` is the mean of ``p(y|x)``
   over the chunk; score_i = ``exp(mean_x sum_y p(y|x) (log p(y|x) - log p(y)))``;
4. ``mean = numpy.mean(scores)``, ``std = numpy.std(scores)`` (ddof=0, like torch-fidelity).

The only deliberate difference: a class whose probability underflows to 0 in every row of a
chunk has ``p(y) = 0`` and contributes ``0 log 0 = 0`` to the KL terms; torch-fidelity returns
NaN there.

Computation (same numbers, fewer passes over the N x C matrix): the rows are not reordered;
each row's chunk is looked up instead. One ``exp`` pass gives both ``p(y|x)`` and
``log p(y|x)``; all chunks' ``p(y)`` come from one product with the chunks' 0/1 indicator
matrix, and the KL term of row ``x`` is ``sum_y p log p - sum_y p(y|x) log p(y)`` (a row-wise
dot product and one N x C by C x splits product).

Which classifier: the Inception Score is defined with the Inception-v3 ImageNet classifier. With
any other classifier (e.g. this study's offline default, EfficientNet-Lite0) this is "the IS
formula on another classifier": it orders sets by the same principle (confident and diverse
predictions) but its values are **not comparable with published Inception-v3 IS values**.

The same function also scores an encoder's features treated as logits (softmax over the feature
dimensions), the family ``inception_score_features``
(:mod:`modedrop.evaluate.inception_score_features`): the "VicReg + IS" / "Dino + IS" of
Haratian (2024), "RankMe for Detecting Mode-Drop in Generative AI".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modedrop.validation import positive_int

__all__ = ["InceptionScore", "inception_score"]


@dataclass(frozen=True)
class InceptionScore:
    """Mean and population std (ddof=0) of the per-split Inception Scores."""

    mean: float
    std: float
    splits: int


def _check_logits(logits: Any, splits: int) -> np.ndarray:
    splits = positive_int(splits, "splits")
    x = np.asarray(logits)
    if x.dtype.kind not in "fiu":
        raise ValueError(
            f"Expected real-valued logits (float32/float64), got dtype {x.dtype}. "
            "Convert them with logits.astype(numpy.float32)."
        )
    if x.ndim != 2:
        raise ValueError(
            f"Expected a 2-D logits array of shape (n_samples, n_classes), got {x.ndim}-D array "
            f"with shape {x.shape}. Stack the per-image logits into one matrix, e.g. "
            "numpy.stack(list_of_logits)."
        )
    n, c = x.shape
    if c < 2:
        raise ValueError(
            f"Inception Score needs at least 2 classes, got logits with {c} column(s). Pass the "
            "classifier's full class logits (pre-softmax), not a single score."
        )
    if n < splits:
        raise ValueError(
            f"Got {n} sample(s) for splits={splits}; every split needs at least one sample. Use "
            f"more samples or fewer splits (splits <= {max(n, 1)})."
        )
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(x), axis=1))[0])
        raise ValueError(
            f"Logits contain NaN or infinity (first at row {bad}). Pass raw finite logits "
            "(not log-probabilities with -inf) or drop the affected samples."
        )
    return x


def inception_score(
    logits: Any, *, splits: int = 10, shuffle: bool = True, rng_seed: int = 2020
) -> InceptionScore:
    """Inception Score of an N x C logits matrix, torch-fidelity conventions, float64.

    Parameters
    ----------
    logits
        N x C pre-softmax class logits, one row per image.
    splits
        Number of contiguous chunks (boundaries ``i*N//splits``); needs ``N >= splits``.
    shuffle, rng_seed
        Shuffle rows with ``numpy.random.RandomState(rng_seed).permutation(N)`` first
        (torch-fidelity defaults ``True`` / ``2020``).

    Returns
    -------
    InceptionScore
        ``mean`` and ``std`` (``numpy.std``, ddof=0) of the per-split scores, and ``splits``.
        Uniform predictions give 1; confident predictions spread evenly over K classes give K.
    """
    x = _check_logits(logits, splits)
    n, splits = x.shape[0], int(splits)
    chunk = _chunk_of_rows(n, splits, shuffle, rng_seed)
    p, log_p = _softmax_and_log(x)

    sizes = np.bincount(chunk, minlength=splits)
    indicator = np.zeros((splits, n))
    indicator[chunk, np.arange(n)] = 1.0
    marginal = (indicator @ p) / sizes[:, None]  # p(y) of every chunk, splits x C
    with np.errstate(divide="ignore"):
        log_marginal = np.log(marginal)
    # p(y) = 0: p(y|x) = 0 in every row of the chunk, so the class's terms vanish (0 log 0).
    log_marginal[marginal == 0.0] = 0.0

    cross = (p @ log_marginal.T)[np.arange(n), chunk]  # sum_y p(y|x) log p(y), own chunk
    kl = np.einsum("ij,ij->i", p, log_p) - cross
    scores = np.exp(np.bincount(chunk, weights=kl, minlength=splits) / sizes)
    return InceptionScore(mean=float(np.mean(scores)), std=float(np.std(scores)), splits=splits)


def _chunk_of_rows(n: int, splits: int, shuffle: bool, rng_seed: int) -> np.ndarray:
    """Chunk index of every row: torch-fidelity's contiguous chunks of the shuffled order."""
    order = np.random.RandomState(rng_seed).permutation(n) if shuffle else np.arange(n)
    chunk = np.empty(n, dtype=np.intp)
    for i in range(splits):
        chunk[order[i * n // splits : (i + 1) * n // splits]] = i
    return chunk


def _softmax_and_log(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softmax, log_softmax)`` of the rows, in float64, with a single ``exp`` pass."""
    shifted = x.astype(np.float64)  # a copy, modified in place below
    shifted -= shifted.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    total = p.sum(axis=1, keepdims=True)
    p /= total
    shifted -= np.log(total)
    return p, shifted
