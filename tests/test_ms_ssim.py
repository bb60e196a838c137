"""MS-SSIM diversity: planted sets, agreement with torchmetrics, pairs, scales, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from modedrop.data.images import ImageList
from modedrop.encoders.base import Preprocessing
from modedrop.metrics.ms_ssim import (
    DEFAULT_BETAS,
    ms_ssim_betas,
    ms_ssim_diversity,
    ms_ssim_scales,
    pair_scores,
    sample_pairs,
)

HEIGHT, WIDTH = 118, 96  # the default data set's image size


def smooth_images(n: int, seed: int) -> np.ndarray:
    """n different smooth random RGB images (uint8, N x H x W x 3): image-like, not noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 3, HEIGHT // 8 + 1, WIDTH // 8 + 1), dtype=np.float32)
    upsampled = torch.nn.functional.interpolate(
        torch.from_numpy(coarse), scale_factor=8, mode="bicubic", align_corners=False
    )[:, :, :HEIGHT, :WIDTH]
    pixels = (upsampled.clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).numpy().copy()


class CountingSequence:
    """A lazily decoded set: records which images were read."""

    def __init__(self, images: np.ndarray):
        self.images = images
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        self.read.append(index)
        return torch.from_numpy(self.images[index]).permute(2, 0, 1)


def test_identical_images_score_one():
    images = np.repeat(smooth_images(1, seed=0), 5, axis=0)
    result = ms_ssim_diversity(images, n_pairs=10, seed=0)
    assert result.mean == pytest.approx(1.0, abs=1e-6) and result.std < 1e-6


def test_independent_noise_scores_low():
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, size=(20, HEIGHT, WIDTH, 3), dtype=np.uint8)
    assert ms_ssim_diversity(noise, n_pairs=60, seed=0).mean < 0.1


def test_repeated_images_raise_the_score():
    distinct = smooth_images(40, seed=2)
    collapsed = distinct.copy()
    collapsed[10:] = distinct[0]  # 30 copies of one image: a dropped-diversity set
    base = ms_ssim_diversity(distinct, n_pairs=150, seed=0)
    repeated = ms_ssim_diversity(collapsed, n_pairs=150, seed=0)
    assert repeated.mean > base.mean + 0.2
    assert base.mean < 0.5


def test_pair_scores_match_torchmetrics_on_the_same_tensors():
    # pair_scores writes out torchmetrics 1.9.0's operations; on the same tensors (either memory
    # layout, 3 and 5 scales) the two agree to float32 rounding (in practice bitwise).
    generator = torch.Generator().manual_seed(0)
    for shape, scales in (((7, 3, HEIGHT, WIDTH), 3), ((3, 3, 218, 178), 5)):
        first = torch.rand(shape, generator=generator)
        second = 0.6 * first + 0.4 * torch.rand(shape, generator=generator)
        for layout in (torch.contiguous_format, torch.channels_last):
            x, y = first.to(memory_format=layout), second.to(memory_format=layout)
            expected = multiscale_structural_similarity_index_measure(
                x,
                y,
                data_range=1.0,
                kernel_size=11,
                sigma=1.5,
                betas=ms_ssim_betas(scales),
                reduction="none",
            )
            torch.testing.assert_close(
                pair_scores(x, y, scales=scales), expected, rtol=0, atol=1e-6
            )


def test_pair_scores_refuse_mismatched_batches_and_too_many_scales():
    batch = torch.rand(2, 3, HEIGHT, WIDTH)
    with pytest.raises(ValueError, match="one shape"):
        pair_scores(batch, batch[:1], scales=3)
    with pytest.raises(ValueError, match="ms_ssim_scales"):
        pair_scores(batch, batch, scales=4)


def test_matches_torchmetrics_on_the_same_pairs():
    images = smooth_images(12, seed=3)
    images[5] = images[2] // 2 + 60  # a related pair, so that scores spread
    pairs = sample_pairs(12, 25, seed=4)
    result = ms_ssim_diversity(images, n_pairs=25, seed=4, batch_size=10)
    assert result.scales == 3

    expected = []
    for start in range(0, 25, 10):
        chunk = pairs[start : start + 10]
        first, second = (
            torch.from_numpy(images[chunk[:, k]]).permute(0, 3, 1, 2).float() / 255.0
            for k in (0, 1)
        )
        expected.append(
            multiscale_structural_similarity_index_measure(
                first,
                second,
                data_range=1.0,
                kernel_size=11,
                sigma=1.5,
                betas=ms_ssim_betas(3),
                reduction="none",
            )
        )
    expected = torch.cat(expected).double().numpy()
    # Not bitwise: the library convolves channels_last batches, this reference NCHW ones, and
    # the float32 kernel torch picks for each layout may differ with the CPU (its CPU
    # capability alone moves this mean by ~1e-6 relative). A wrong pair, window or beta
    # moves it by far more (a sigma of 1.45 instead of 1.5: 1.6e-2).
    assert result.mean == pytest.approx(expected.mean(), rel=1e-5)
    assert result.std == pytest.approx(expected.std(ddof=1), rel=1e-5)
    assert result.n_pairs == 25


def test_only_the_sampled_images_are_decoded():
    source = CountingSequence(smooth_images(30, seed=5))
    ms_ssim_diversity(source, n_pairs=4, seed=0, batch_size=2)
    used = set(sample_pairs(30, 4, seed=0).ravel().tolist())
    assert set(source.read) == used and len(source.read) <= 2 * len(used)


def test_image_list_input(tmp_path):
    images = smooth_images(6, seed=6)
    names = [f"{i:06d}.png" for i in range(6)]
    for name, pixels in zip(names, images, strict=True):
        Image.fromarray(pixels).save(tmp_path / name)
    from_files = ms_ssim_diversity(ImageList(tmp_path, names, Preprocessing()), n_pairs=8)
    from_array = ms_ssim_diversity(images, n_pairs=8)
    assert from_files.mean == from_array.mean  # PNG is lossless
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    assert ms_ssim_diversity(tensor, n_pairs=8).mean == pytest.approx(from_array.mean, abs=1e-6)


def test_pairs_are_distinct_never_self_and_seeded():
    pairs = sample_pairs(50, 300, seed=7)
    assert pairs.shape == (300, 2) and pairs.dtype == np.int64
    assert (pairs[:, 0] < pairs[:, 1]).all() and pairs.min() >= 0 and pairs.max() < 50
    assert len({tuple(p) for p in pairs.tolist()}) == 300
    np.testing.assert_array_equal(pairs, sample_pairs(50, 300, seed=7))
    assert not np.array_equal(pairs, sample_pairs(50, 300, seed=8))
    every = sample_pairs(5, 10, seed=0)  # all 10 pairs of 5 images, once each
    assert {tuple(p) for p in every.tolist()} == {(i, j) for i in range(5) for j in range(i + 1, 5)}


def test_more_pairs_than_exist_repeat_each_pair_evenly():
    pairs = sample_pairs(4, 15, seed=0)  # 6 distinct pairs: each twice, three of them thrice
    _, counts = np.unique(pairs[:, 0] * 4 + pairs[:, 1], return_counts=True)
    assert len(counts) == 6 and sorted(counts) == [2, 2, 2, 3, 3, 3]
    assert (pairs[:, 0] != pairs[:, 1]).all()


def test_automatic_scales():
    assert ms_ssim_scales(HEIGHT, WIDTH) == 3  # a 4th fits (96 / 8 > 10); torchmetrics refuses
    assert ms_ssim_scales(218, 178) == 5  # CelebA: all of them
    assert ms_ssim_scales(11, 11) == 1
    betas = ms_ssim_betas(3)
    assert sum(betas) == pytest.approx(1.0)
    np.testing.assert_allclose(np.array(betas) * sum(DEFAULT_BETAS[:3]), DEFAULT_BETAS[:3])
    assert ms_ssim_betas(5) == pytest.approx(DEFAULT_BETAS, rel=1e-3)


def test_scales_are_what_torchmetrics_accepts():
    x = torch.rand(1, 3, HEIGHT, WIDTH)
    multiscale_structural_similarity_index_measure(x, x, data_range=1.0, betas=ms_ssim_betas(3))
    with pytest.raises(ValueError, match="must be larger"):
        multiscale_structural_similarity_index_measure(x, x, data_range=1.0, betas=ms_ssim_betas(4))


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((5, 10, 10, 3), np.uint8), "too small"),
        (np.zeros((1, 64, 64, 3), np.uint8), "at least 2 images"),
        (np.zeros((4, 64, 64, 3), np.float32), "uint8"),
        (np.zeros((4, 3, 64, 64), np.uint8), "channels last"),
        (torch.zeros(4, 64, 64, 3, dtype=torch.uint8), "N x 3 x H x W"),
        (
            [torch.zeros(3, 64, 64, dtype=torch.uint8), torch.zeros(3, 64, 70, dtype=torch.uint8)],
            "different sizes",
        ),
        ("not images", "sequence"),
    ],
)
def test_invalid_inputs_are_explained(images, message):
    with pytest.raises(ValueError, match=message):
        ms_ssim_diversity(images, n_pairs=3)


def test_invalid_arguments_are_explained():
    images = smooth_images(3, seed=0)
    with pytest.raises(ValueError, match="n_pairs"):
        ms_ssim_diversity(images, n_pairs=0)
    with pytest.raises(ValueError, match="batch_size"):
        ms_ssim_diversity(images, batch_size=0)
    with pytest.raises(ValueError, match="odd"):
        ms_ssim_diversity(images, kernel_size=10)
