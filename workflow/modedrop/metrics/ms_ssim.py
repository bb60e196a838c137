"""MS-SSIM diversity: the mean multi-scale SSIM of random pairs of images of one set.

Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"
(ICML, Sec. 4.2) measure the diversity of a set of samples by the mean MS-SSIM of random pairs
of its images, in pixel space: **higher means less diverse** (identical images give 1).
MS-SSIM is Wang, Simoncelli & Bovik 2003, "Multi-scale structural similarity for image
quality assessment" (Asilomar)::

    MS-SSIM(x, y) = l_M(x, y)^beta_M * prod_{j=1..M} cs_j(x, y)^beta_j

with ``cs_j`` the contrast-structure term at scale ``j`` (the images halved ``j - 1`` times by
2 x 2 average pooling) and ``l_M`` the full SSIM at the coarsest scale. :func:`pair_scores`
computes it as torchmetrics 1.9.0 does (``torchmetrics.functional.image.multiscale_structural_
similarity_index_measure``, file ``torchmetrics/functional/image/ssim.py``), the same torch
operations in the same order: images scaled to [0, 1] with ``data_range=1.0``, reflection padding,
a Gaussian window of sigma 1.5 (11 taps), k1 = 0.01, k2 = 0.03 and torchmetrics' default
``normalize="relu"`` (negative ``cs``/``l`` terms are clamped to 0 before the fractional powers,
which would otherwise give NaN; not in Wang et al.). The test suite checks it against
torchmetrics on the same pairs. It is written out here rather than called because importing
torchmetrics imports all of its domains (audio, detection, torchvision's models, torch._dynamo):
4 s of CPU per job, more than the 700 pairs of a default-study job take.

**Number of scales.** The 5 default scales (betas 0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
need images larger than 160 px (the 11 px window must fit in the coarsest scale, ``min(H, W) >
(kernel - 1) * 2^(M - 1)``). torchmetrics' own check is different: it requires
``H // max(1, M - 1)^2 > kernel - 1`` (and the same for W), i.e. it divides by ``(M - 1)^2``,
which equals ``2^(M - 1)`` only for M = 3 and 5 and is stricter for M = 4 (9 instead of 8). We
take the largest ``M <= 5`` that satisfies both, and the first ``M`` default betas renormalised
to sum to 1. CelebA's 178 x 218 crops get all 5 scales; the 96 x 118 default set gets 3 (a
4th would fit geometrically, 96 / 8 = 12 > 10, but torchmetrics refuses it: 96 // 9 = 10).
The scales used are part of the result. torchmetrics' Gaussian window has
``int(3.5 * sigma + 0.5) * 2 + 1`` taps whatever ``kernel_size`` says (11 for sigma 1.5);
``kernel_size`` only enters its size check, so it is kept at 11.

Images come from a numpy array (N x H x W x 3, uint8, the layout of PIL/scikit-image), a torch
tensor (N x 3 x H x W, uint8) or a sequence whose item ``i`` is a uint8 3 x H x W tensor, such as
:class:`modedrop.data.images.ImageList` with ``Preprocessing()``: only the images of the sampled
pairs are decoded, ``batch_size`` pairs at a time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_BETAS",
    "MSSSIMResult",
    "ms_ssim_betas",
    "ms_ssim_diversity",
    "ms_ssim_scales",
    "pair_scores",
    "sample_pairs",
]

#: Wang et al. 2003's scale weights (torchmetrics' default ``betas``), finest scale first.
DEFAULT_BETAS: tuple[float, ...] = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SIGMA = 1.5
DATA_RANGE = 1.0
K1, K2 = 0.01, 0.03
# Distinct-pair sampling draws at random while this share of all pairs is still free;
# above it, enumerating every pair is cheaper and exact.
_ENUMERATE_ABOVE = 0.25


@dataclass(frozen=True)
class MSSSIMResult:
    """Mean and standard deviation (ddof = 1) of MS-SSIM over ``n_pairs`` pairs.

    ``scales`` is the number of scales used and ``betas`` their (renormalised) weights.
    """

    mean: float
    std: float
    n_pairs: int
    scales: int
    betas: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["betas"] = list(self.betas)
        return out


def _torchmetrics_accepts(height: int, width: int, scales: int, kernel_size: int) -> bool:
    """torchmetrics 1.9.0's size checks in ``_multiscale_ssim_update``."""
    divisor = max(1, scales - 1) ** 2
    return (
        min(height, width) >= 2**scales
        and height // divisor > kernel_size - 1
        and width // divisor > kernel_size - 1
    )


def ms_ssim_scales(height: int, width: int, kernel_size: int = 11) -> int:
    """The largest number of scales ``M <= 5`` usable on ``height`` x ``width`` images.

    ``min(H, W) > (kernel_size - 1) * 2^(M - 1)`` (the window fits at the coarsest scale) and
    torchmetrics' own check (see the module docstring). Raises for images too small for one.
    """
    for scales in range(len(DEFAULT_BETAS), 0, -1):
        fits = min(height, width) > (kernel_size - 1) * 2 ** (scales - 1)
        if fits and _torchmetrics_accepts(height, width, scales, kernel_size):
            return scales
    raise ValueError(
        f"images of {height} x {width} px are too small for MS-SSIM with an {kernel_size} px "
        f"window: both sides must exceed {kernel_size - 1} px. Use larger images."
    )


def ms_ssim_betas(scales: int) -> tuple[float, ...]:
    """The first ``scales`` default betas, renormalised to sum to 1."""
    if not 1 <= scales <= len(DEFAULT_BETAS):
        raise ValueError(f"scales must lie in [1, {len(DEFAULT_BETAS)}], got {scales}.")
    head = DEFAULT_BETAS[:scales]
    total = sum(head)
    return tuple(float(beta / total) for beta in head)


def sample_pairs(n: int, n_pairs: int, seed: int = 0) -> np.ndarray:
    """``n_pairs`` x 2 int64 array of image pairs ``(i, j)``, ``i < j``, drawn at random.

    No pair is repeated while ``n_pairs <= n (n - 1) / 2``; beyond that every pair appears
    ``n_pairs // total`` times and a random distinct subset once more. Deterministic per
    ``seed``; the order of the rows is random.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"MS-SSIM pairs need at least 2 images, got n={n!r}.")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int | np.integer) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}.")
    n, n_pairs = int(n), int(n_pairs)
    rng = np.random.default_rng(seed)
    total = n * (n - 1) // 2
    repeats, rest = divmod(n_pairs, total)
    if repeats or rest > _ENUMERATE_ABOVE * total:  # total <= 4 n_pairs: enumerate them all
        codes = np.concatenate([np.tile(np.arange(total), repeats), rng.permutation(total)[:rest]])
        rng.shuffle(codes)
        low, high = np.triu_indices(n, k=1)
        return np.stack([low[codes], high[codes]], axis=1).astype(np.int64)
    codes = np.empty(0, dtype=np.int64)
    while len(codes) < n_pairs:  # rejection sampling of distinct pairs; few rounds
        first = rng.integers(0, n, size=2 * (n_pairs - len(codes)))
        second = (first + rng.integers(1, n, size=len(first))) % n  # never equal to first
        low, high = np.minimum(first, second), np.maximum(first, second)
        candidates = np.concatenate([codes, low * n + high])
        _, keep = np.unique(candidates, return_index=True)
        codes = candidates[np.sort(keep)][:n_pairs]  # first occurrences, in draw order
    low, high = np.divmod(codes, n)
    return np.stack([low, high], axis=1).astype(np.int64)


class _Images:
    """Uniform access to image ``i`` as a uint8 3 x H x W tensor, whatever the container."""

    def __init__(self, images: Any):
        import torch

        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.shape[-1] != 3:
                raise ValueError(
                    f"a numpy array of images must be N x H x W x 3 (channels last), got shape "
                    f"{images.shape}; pass a torch tensor for N x 3 x H x W."
                )
            images = torch.from_numpy(images).permute(0, 3, 1, 2)
        elif isinstance(images, torch.Tensor):
            if images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(
                    f"a tensor of images must be N x 3 x H x W, got shape {tuple(images.shape)}."
                )
        elif isinstance(images, str | bytes) or not (
            hasattr(images, "__len__") and hasattr(images, "__getitem__")
        ):
            raise ValueError(
                "images must be a uint8 array (N x H x W x 3), a uint8 tensor (N x 3 x H x W) or "
                f"a sequence of 3 x H x W uint8 tensors (e.g. ImageList), got {type(images)}."
            )
        if isinstance(images, torch.Tensor) and images.dtype != torch.uint8:
            raise ValueError(
                f"images must be uint8 (0-255), got {images.dtype}; convert them with "
                "(x * 255).round().astype(numpy.uint8) if they are floats in [0, 1]."
            )
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def get(self, index: int) -> torch.Tensor:
        import torch

        image = self.images[int(index)]
        if not (
            isinstance(image, torch.Tensor)
            and image.dim() == 3
            and image.shape[0] == 3
            and image.dtype == torch.uint8
        ):
            kind = getattr(image, "dtype", type(image).__name__)
            raise ValueError(
                f"image {index} is {kind} {tuple(getattr(image, 'shape', ()))}; expected a uint8 "
                "3 x H x W torch tensor (RGB, as "
                "ImageList with Preprocessing() decodes)."
            )
        return image


def _pair_batch(images: _Images, pairs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 [0, 1] tensors of the first and second images of ``pairs`` (each decoded once)."""
    import torch

    decoded = {int(i): images.get(i) for i in np.unique(pairs)}
    sizes = {tuple(image.shape[1:]) for image in decoded.values()}
    if len(sizes) > 1:
        raise ValueError(_size_message(sizes))

    def stack(column: np.ndarray) -> torch.Tensor:
        batch = torch.stack([decoded[int(i)] for i in column])
        # channels_last: oneDNN's depthwise convolution is faster in it; same numbers.
        return batch.to(torch.float32, memory_format=torch.channels_last) / 255.0

    return stack(pairs[:, 0]), stack(pairs[:, 1])


def _size_message(sizes: set[tuple[int, ...]]) -> str:
    return (
        f"images of different sizes {sorted(sizes)}: MS-SSIM compares images of one size "
        "(resize them first)."
    )


def pair_scores(
    first: torch.Tensor, second: torch.Tensor, *, scales: int, kernel_size: int = 11
) -> torch.Tensor:
    """Per-pair MS-SSIM of two float [0, 1] N x C x H x W batches (see the module docstring).

    ``kernel_size`` enters only the size check, as in torchmetrics: the window has
    ``int(3.5 * sigma + 0.5) * 2 + 1`` taps.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own convention

    if first.shape != second.shape or first.dim() != 4:
        raise ValueError(
            f"pair_scores needs two N x C x H x W batches of one shape, got {tuple(first.shape)} "
            f"and {tuple(second.shape)}."
        )
    if not _torchmetrics_accepts(*first.shape[-2:], scales, kernel_size):
        raise ValueError(
            f"{scales} scales do not fit {tuple(first.shape[-2:])} px images; use "
            "ms_ssim_scales(height, width) scales."
        )
    window = _gaussian_window(first.shape[1], first.dtype, first.device)
    terms = []
    for _ in range(scales):
        similarity, contrast_structure = _ssim_terms(first, second, window)
        terms.append(torch.relu(contrast_structure))
        first, second = F.avg_pool2d(first, (2, 2)), F.avg_pool2d(second, (2, 2))
    terms[-1] = torch.relu(similarity)  # the coarsest scale contributes the full SSIM
    exponents = torch.tensor(ms_ssim_betas(scales), device=first.device).view(-1, 1)
    return torch.prod(torch.stack(terms) ** exponents, axis=0)


def _gaussian_window(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The channels x 1 x 11 x 11 Gaussian window (sigma 1.5) of one grouped convolution."""
    import torch

    taps = int(3.5 * SIGMA + 0.5) * 2 + 1
    offsets = torch.arange(
        start=(1 - taps) / 2, end=(1 + taps) / 2, step=1, dtype=dtype, device=device
    )
    bell = torch.exp(-torch.pow(offsets / SIGMA, 2) / 2)
    row = (bell / bell.sum()).unsqueeze(dim=0)
    return torch.matmul(row.t(), row).expand(channels, 1, taps, taps)


def _ssim_terms(
    first: torch.Tensor, second: torch.Tensor, window: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair mean SSIM and mean contrast-structure term at one scale (Wang et al. 2003)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    c1, c2 = pow(K1 * DATA_RANGE, 2), pow(K2 * DATA_RANGE, 2)
    pad = (window.shape[-1] - 1) // 2
    first = F.pad(first, (pad, pad, pad, pad), mode="reflect")
    second = F.pad(second, (pad, pad, pad, pad), mode="reflect")
    stacked = torch.cat((first, second, first * first, second * second, first * second))
    means = F.conv2d(stacked, window, groups=first.shape[1]).split(first.shape[0])
    mean_first_sq, mean_second_sq = means[0].pow(2), means[1].pow(2)
    mean_product = means[0] * means[1]
    variance_first = torch.clamp(means[2] - mean_first_sq, min=0.0)
    variance_second = torch.clamp(means[3] - mean_second_sq, min=0.0)
    covariance = means[4] - mean_product
    upper = 2 * covariance + c2
    lower = (variance_first + variance_second) + c2
    ssim_map = ((2 * mean_product + c1) * upper) / ((mean_first_sq + mean_second_sq + c1) * lower)
    cs_map = (upper / lower)[..., pad:-pad, pad:-pad]
    n = ssim_map.shape[0]
    return ssim_map.reshape(n, -1).mean(-1), cs_map.reshape(n, -1).mean(-1)


def ms_ssim_diversity(
    images: Any,
    *,
    n_pairs: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    kernel_size: int = 11,
) -> MSSSIMResult:
    """Mean MS-SSIM over ``n_pairs`` random pairs of distinct images of one set.

    ``images``: uint8 N x H x W x 3 numpy array, uint8 N x 3 x H x W tensor, or a sequence of
    uint8 3 x H x W tensors decoded on access (see the module docstring). Pairs come from
    :func:`sample_pairs` (``seed``); scales from :func:`ms_ssim_scales`. Higher = less diverse.
    """
    import torch

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd integer >= 3, got {kernel_size}.")
    source = _Images(images)
    pairs = sample_pairs(len(source), n_pairs, seed)
    size, scales, scores = None, 0, []
    with torch.inference_mode():
        for start in range(0, len(pairs), batch_size):
            first, second = _pair_batch(source, pairs[start : start + batch_size])
            if size is None:  # the first decoded batch fixes the size and the scales
                size = tuple(first.shape[-2:])
                scales = ms_ssim_scales(*size, kernel_size=kernel_size)
            elif tuple(first.shape[-2:]) != size:
                raise ValueError(_size_message({size, tuple(first.shape[-2:])}))
            scores.append(pair_scores(first, second, scales=scales, kernel_size=kernel_size))
    values = torch.cat(scores).double().numpy()
    if not np.isfinite(values).all():
        raise ValueError("MS-SSIM gave NaN or infinity for some pairs; check the images.")
    return MSSSIMResult(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        n_pairs=len(values),
        scales=scales,
        betas=ms_ssim_betas(scales),
    )
