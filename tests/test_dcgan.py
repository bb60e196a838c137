"""DCGAN study library: training set preparation, networks, TorchScript export, checkpoint
resumption, NDB in pixel space and the figures (tiny sets, resolution 32, width 4)."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from modedrop.gan.dcgan import train_dcgan
from modedrop.gan.dcgan_checkpoints import CheckpointMismatchError, load_checkpoint_generator
from modedrop.gan.dcgan_networks import Discriminator, Generator, build_networks
from modedrop.gan.dcgan_plots import (
    largest_bin,
    plot_largest_bin,
    plot_ndb_curves,
    plot_sample_grids,
)
from modedrop.gan.dcgan_samples import (
    export_torchscript,
    generate_images,
    pixel_ndb,
    pixel_ndb_bins,
    read_final_samples,
)
from modedrop.gan.training_set import (
    build_training_set,
    draw_training_sample,
    read_training_set,
)
from modedrop.generators import load_generator

# Four flat colours of the centre square's quadrants, and the colour of the cropped margins.
QUADRANTS = ((10, 200, 30), (240, 240, 0), (0, 60, 250), (120, 20, 160))
MARGIN = (255, 0, 0)


def blob_images(n: int, seed: int) -> np.ndarray:
    """uint8 (n, 32, 32, 3) images of one bright square on a dark background, at 16 positions
    and in 3 colours: a small data set with modes a GAN and pixel-space K-means can see."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 30, size=(n, 32, 32, 3), dtype=np.uint8)
    colours = np.array([(250, 60, 60), (60, 250, 60), (60, 60, 250)], dtype=np.uint8)
    for image, cell, colour in zip(
        images, rng.integers(0, 16, n), rng.integers(0, 3, n), strict=True
    ):
        top, left = 8 * (cell // 4), 8 * (cell % 4)
        image[top : top + 8, left : left + 8] = colours[colour]
    return images


TINY = dict(
    latent_dim=3,
    steps=12,
    batch_size=16,
    width=4,
    eval_every=4,
    ndb_bins=4,
    ndb_alpha=0.05,
    ndb_reference=64,
    ndb_generated=40,
    seed=7,
    checkpoint_every=5,
    progress=False,
)


@pytest.fixture(scope="module")
def tiny_images() -> np.ndarray:
    return blob_images(128, seed=0)  # 8 batches of 16: the 12 steps cross an epoch


# ----- training set --------------------------------------------------------------------------------


def known_face(width: int, height: int) -> Image.Image:
    """Red margins above and below a centre square of four flat quadrants."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:] = MARGIN
    side = min(width, height)
    top, left = (height - side) // 2, (width - side) // 2
    half = side // 2
    for i, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        y, x = top + r * half, left + c * half
        image[y : y + half, x : x + half] = QUADRANTS[i]
    return Image.fromarray(image)


def test_training_set_crops_the_centre_square_and_resizes(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    known_face(96, 118).save(folder / "000001.png")  # the synthfaces size: 11-row margins
    known_face(178, 218).save(folder / "000002.png")  # CelebA's aligned size: 20-row margins
    Image.fromarray(np.full((40, 40, 3), 77, np.uint8)).save(folder / "000003.png")
    names = ["000002.png", "000001.png", "000003.png"]
    out = build_training_set(folder, names, 32, tmp_path / "train.h5", progress=False)

    images, read_names = read_training_set(out)
    assert read_names == names
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    for image in images[:2]:
        # Each 16x16 quadrant holds its flat colour away from the Lanczos ringing at the seams
        # and the margins' red reaches no row: the crop is the centred square.
        for i, (r, c) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            block = image[16 * r + 3 : 16 * r + 13, 16 * c + 3 : 16 * c + 13]
            assert (block == QUADRANTS[i]).all()
        for row in (image[0], image[-1]):
            assert not ((row[:, 0] > 200) & (row[:, 1] < 40) & (row[:, 2] < 40)).any()
    assert (images[2] == 77).all()
    with h5py.File(out, "r") as handle:
        assert handle.attrs["resolution"] == 32 and "center" in handle.attrs["crop"]

    # The same images read in place from a zip give the same array.
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in names:
            z.write(folder / name, f"img_align_celeba/{name}")
    zipped = build_training_set(archive, names, 32, tmp_path / "zip.h5", progress=False)
    np.testing.assert_array_equal(read_training_set(zipped)[0], images)
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was renamed away


def test_training_set_inputs_are_checked(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    known_face(96, 118).save(folder / "a.png")
    with pytest.raises(ValueError, match="one of"):
        build_training_set(folder, ["a.png"], 48, tmp_path / "t.h5", progress=False)
    with pytest.raises(ValueError, match="duplicates"):
        build_training_set(folder, ["a.png", "a.png"], 32, tmp_path / "t.h5", progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_training_set(tmp_path / "nope", ["a.png"], 32, tmp_path / "t.h5", progress=False)
    with pytest.raises(FileNotFoundError, match="build it"):
        read_training_set(tmp_path / "missing.h5")


def test_training_sample_is_sorted_distinct_and_seeded():
    a = draw_training_sample(1000, 300, seed=3)
    assert len(np.unique(a)) == 300 and (np.diff(a) > 0).all() and a.max() < 1000
    np.testing.assert_array_equal(a, draw_training_sample(1000, 300, seed=3))
    assert not np.array_equal(a, draw_training_sample(1000, 300, seed=4))
    with pytest.raises(ValueError, match="cannot draw 11"):
        draw_training_sample(10, 11, seed=0)


# ----- networks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [32, 64])
def test_network_shapes(resolution):
    generator = Generator(latent_dim=5, resolution=resolution, width=4)
    discriminator = Discriminator(resolution=resolution, width=4)
    images = generator(torch.randn(6, 5))
    assert images.shape == (6, 3, resolution, resolution)
    assert discriminator(images).shape == (6,)
    with pytest.raises(ValueError, match="latent_dim"):
        generator(torch.randn(6, 4))


def test_generator_output_lies_in_minus_one_one():
    generator, _ = build_networks(latent_dim=5, resolution=32, width=4, seed=0)
    last = [m for m in generator.modules() if isinstance(m, torch.nn.ConvTranspose2d)][-1]
    with torch.no_grad():  # blow up the last layer so the output saturates without Tanh's bound
        last.weight.mul_(500.0)
    images = generator(torch.randn(16, 5) * 10).detach()
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.min() < -0.99 and images.max() > 0.99


def test_weights_are_initialised_as_in_radford_et_al():
    generator, discriminator = build_networks(latent_dim=100, resolution=64, width=16, seed=0)
    for network in (generator, discriminator):
        for layer in network.modules():
            if isinstance(layer, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
                assert abs(layer.weight.std().item() - 0.02) < 0.004
                assert abs(layer.weight.mean().item()) < 0.004
            if isinstance(layer, torch.nn.BatchNorm2d):
                assert abs(layer.weight.mean().item() - 1.0) < 0.01
                assert layer.weight.std().item() < 0.04
            if getattr(layer, "bias", None) is not None:
                assert (layer.bias == 0).all()
    # No bias in a layer followed by BatchNorm; the first D layer has no BatchNorm.
    assert generator.net[0].bias is None and discriminator.net[2].bias is None
    assert not isinstance(discriminator.net[1], torch.nn.BatchNorm2d)
    again, _ = build_networks(latent_dim=100, resolution=64, width=16, seed=0)
    for a, b in zip(generator.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_torchscript_export_round_trip(tmp_path):
    generator, _ = build_networks(latent_dim=6, resolution=32, width=4, seed=1)
    generator.train()
    with torch.no_grad():  # running statistics far from a fresh batch's: train/eval mode differ
        for layer in generator.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.running_mean.fill_(0.3)
                layer.running_var.fill_(4.0)
    path = export_torchscript(generator, tmp_path / "g.pt")
    assert generator.training  # the caller's network is left as it was

    z = torch.randn(10, 6)
    with warnings.catch_warnings():  # torch >= 2.9 flags TorchScript as deprecated
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        assert torch.equal(loaded(z), generator.eval()(z))
    # As the generator interface's network: the same uint8 images as during training.
    wrapped = load_generator({"torchscript": str(path), "latent_dim": 6})
    np.testing.assert_array_equal(wrapped.images(z.numpy()), generate_images(generator, z.numpy()))


# ----- training and checkpoints --------------------------------------------------------------------


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_images):
    full = train_dcgan(
        tiny_images,
        checkpoint=tmp_path / "full.pt",
        torchscript=tmp_path / "full_g.pt",
        final_samples=tmp_path / "full.npz",
        **TINY,
    )
    partial = train_dcgan(tiny_images, checkpoint=tmp_path / "cut.pt", stop_after=8, **TINY)
    assert partial["step"].tolist() == [0, 4, 8]
    saved = torch.load(tmp_path / "cut.pt", weights_only=True)
    assert saved["step"] == 5  # the kill came 3 steps after the last checkpoint
    resumed = train_dcgan(
        tiny_images,
        checkpoint=tmp_path / "cut.pt",
        torchscript=tmp_path / "cut_g.pt",
        final_samples=tmp_path / "cut.npz",
        **TINY,
    )

    assert full["step"].tolist() == [0, 4, 8, 12]
    assert full["ndb_fraction"].between(0, 1).all() and np.isnan(full["loss_d"].iloc[0])
    columns = [c for c in full.columns if c != "seconds"]  # wall time differs, nothing else
    pd.testing.assert_frame_equal(full[columns], resumed[columns])
    pd.testing.assert_frame_equal(full[columns].iloc[:3], partial[columns])
    # Bitwise: the resumed run repeats the uninterrupted run's computations, in this process
    # on this machine (a same-machine claim; other kernels would change the last bits of both).
    a = torch.load(tmp_path / "full.pt", weights_only=True)
    b = torch.load(tmp_path / "cut.pt", weights_only=True)
    _assert_same_state(a["generator"], b["generator"])
    _assert_same_state(a["discriminator"], b["discriminator"])
    for key in ("opt_g", "opt_d"):
        for slot_a, slot_b in zip(a[key]["state"].values(), b[key]["state"].values(), strict=True):
            _assert_same_state(slot_a, slot_b)
    final_a, final_b = (
        read_final_samples(tmp_path / "full.npz"),
        read_final_samples(tmp_path / "cut.npz"),
    )
    for x, y in zip(final_a, final_b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_final_outputs_match_the_last_evaluation(tmp_path, tiny_images):
    history = train_dcgan(
        tiny_images,
        checkpoint=tmp_path / "c.pt",
        torchscript=tmp_path / "g.pt",
        final_samples=tmp_path / "final.npz",
        **TINY,
    )
    final = read_final_samples(tmp_path / "final.npz")
    assert final.images.shape == (TINY["ndb_generated"], 32, 32, 3)
    counts = np.bincount(final.labels, minlength=TINY["ndb_bins"])
    np.testing.assert_allclose(final.generated_proportions, counts / counts.sum())
    assert final.reference_proportions.sum() == pytest.approx(1.0)
    with np.load(tmp_path / "final.npz") as data:
        assert data["significant"].mean() == history["ndb_fraction"].iloc[-1]
    # The exported generator and the checkpoint's generator make the final images.
    latents = load_generator({"torchscript": str(tmp_path / "g.pt"), "latent_dim": 3})
    checkpointed = load_checkpoint_generator(tmp_path / "c.pt")
    z = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(latents.images(z), generate_images(checkpointed, z))

    # A finished checkpoint is not trained again: the same history, wall times included.
    (tmp_path / "final.npz").unlink()
    again = train_dcgan(
        tiny_images, checkpoint=tmp_path / "c.pt", final_samples=tmp_path / "final.npz", **TINY
    )
    pd.testing.assert_frame_equal(again, history)
    np.testing.assert_array_equal(read_final_samples(tmp_path / "final.npz").images, final.images)


def test_mismatching_checkpoint_is_refused(tmp_path, tiny_images):
    checkpoint = tmp_path / "c.pt"
    settings = {**TINY, "steps": 5}
    train_dcgan(tiny_images, checkpoint=checkpoint, **settings)
    with pytest.raises(CheckpointMismatchError, match=r"latent_dim: 3 .* 4 now.*Delete it"):
        train_dcgan(tiny_images, checkpoint=checkpoint, **{**settings, "latent_dim": 4})
    with pytest.raises(CheckpointMismatchError, match=r"lr: .*Delete it"):
        train_dcgan(tiny_images, checkpoint=checkpoint, lr=1e-3, **settings)
    other = tiny_images.copy()
    other[0, 0, 0, 0] ^= 1  # one bit of one pixel
    with pytest.raises(CheckpointMismatchError, match=r"data_sha256.*Delete it"):
        train_dcgan(other, checkpoint=checkpoint, **settings)
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="cannot be read.*Delete it"):
        train_dcgan(tiny_images, checkpoint=checkpoint, **settings)


def test_training_inputs_are_checked(tmp_path, tiny_images):
    with pytest.raises(ValueError, match="uint8"):
        train_dcgan(tiny_images.astype(np.float32), checkpoint=tmp_path / "c.pt", **TINY)
    with pytest.raises(ValueError, match="ndb_bins=100 exceeds ndb_reference=64"):
        train_dcgan(tiny_images, checkpoint=tmp_path / "c.pt", **{**TINY, "ndb_bins": 100})
    assert not (tmp_path / "c.pt").exists()


# ----- NDB in pixel space --------------------------------------------------------------------------


def test_pixel_ndb_flags_a_collapsed_set_but_not_a_fair_sample():
    bins = pixel_ndb_bins(blob_images(800, seed=1), n_bins=8, seed=0)
    fair = blob_images(400, seed=2)
    collapsed = np.repeat(fair[:1], 400, axis=0)
    labels, fair_result = pixel_ndb(bins, fair, alpha=0.05)
    _, collapsed_result = pixel_ndb(bins, collapsed, alpha=0.05)
    assert labels.shape == (400,)
    assert fair_result.ndb <= 2 and fair_result.jsd < 0.05
    assert collapsed_result.ndb == 8 and collapsed_result.jsd > 0.3


# ----- figures -------------------------------------------------------------------------------------


def test_largest_bin_is_the_most_filled_one():
    labels = np.array([2, 0, 2, 1, 2, 0])
    bin_, positions = largest_bin(labels, np.bincount(labels) / len(labels))
    assert bin_ == 2 and positions.tolist() == [0, 2, 4]


def test_plots_write_files(tmp_path, tiny_images):
    history = pd.DataFrame(
        {"step": [0, 50, 100], "ndb_fraction": [1.0, 0.5, 0.3], "jsd": [0.6, 0.2, 0.1]}
    )
    plot_ndb_curves(
        {"z = 100": history, "z = 1": history.assign(ndb_fraction=1.0)},
        tmp_path / "curves.png",
        tmp_path / "curves.pdf",
        note="K = 50 bins",
    )
    plot_sample_grids({"z = 100": tiny_images, "z = 1": tiny_images[:10]}, *_pair(tmp_path, "g"))
    labels = np.arange(len(tiny_images)) % 4
    final = {"z = 5": (tiny_images, labels, np.full(4, 0.25), np.bincount(labels) / 128)}
    plot_largest_bin(final, *_pair(tmp_path, "bin"))
    for stem in ("curves", "g", "bin"):
        for suffix in (".png", ".pdf"):
            assert (tmp_path / f"{stem}{suffix}").stat().st_size > 1000
    with pytest.raises(ValueError, match="lacks column"):
        plot_ndb_curves({"a": history.drop(columns="jsd")}, *_pair(tmp_path, "x"))
    with pytest.raises(ValueError, match="uint8"):
        plot_sample_grids({"a": tiny_images.astype(float)}, *_pair(tmp_path, "x"))
    with pytest.raises(ValueError, match="labels in 0..K-1"):
        plot_largest_bin(
            {"a": (tiny_images, labels + 1, *final["z = 5"][2:])}, *_pair(tmp_path, "x")
        )


def _pair(folder: Path, stem: str) -> tuple[Path, Path]:
    return folder / f"{stem}.png", folder / f"{stem}.pdf"
