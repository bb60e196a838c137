"""The generator interface: entry points, TorchScript files, priors and sample sets."""

import json
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

from modedrop.data.images import ImageList, image_names_in
from modedrop.generators import (
    Generator,
    load_generator,
    read_latents,
    sample_set_names,
    write_sample_set,
)
from modedrop.priors import GeneratorSpecError, NormalPrior, UniformPrior, load_prior

LATENT_DIM = 3


def _hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).numpy()


class TinyNet(torch.nn.Module):
    """Latent (B, 3) -> an 8x6 RGB image whose channel c is the constant tanh(z_c)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z)[:, :, None, None].expand(-1, -1, 8, 6)


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A user's module on the path, with an entry point taking keyword arguments."""
    (tmp_path / "my_gan.py").write_text(
        textwrap.dedent(
            """
            import torch

            def make(scale=1.0):
                def network(z):
                    return (scale * torch.tanh(z))[:, :, None, None].expand(-1, -1, 8, 6)
                return network
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_gan:make"
    sys.modules.pop("my_gan", None)


def test_an_entry_point_and_a_torchscript_file_give_the_same_images(tmp_path, plugin):
    script = tmp_path / "generator.pt"
    torch.jit.save(torch.jit.script(TinyNet()), str(script))
    by_script = load_generator({"torchscript": str(script), "latent_dim": LATENT_DIM}, "script")
    by_entry = load_generator({"entry_point": plugin, "latent_dim": LATENT_DIM}, "entry")
    z = by_script.sample_latents(5, seed=1)
    images = by_script.images(z)
    assert images.shape == (5, 8, 6, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, by_entry.images(z))
    # tanh(z) in [-1, 1] maps to [0, 255]: the pixel is the rescaled channel value.
    expected = np.round((np.tanh(z) + 1) / 2 * 255).astype(np.uint8)
    np.testing.assert_array_equal(images[:, 0, 0, :], expected)


def test_entry_point_kwargs_reach_the_factory(plugin):
    half = load_generator(
        {"entry_point": plugin, "latent_dim": 3, "kwargs": {"scale": 0.0}}, "flat"
    )
    assert (half.images(np.ones((2, 3), np.float32)) == 128).all()  # 0 -> mid-grey


def test_grey_outputs_become_rgb_and_output_range_is_respected():
    def grey(z):
        return z[:, :1, None, None].expand(-1, -1, 4, 4)

    generator = Generator(grey, NormalPrior(2), output_range=(0.0, 1.0))
    images = generator.images(np.array([[0.0, 9.0], [1.0, 9.0], [2.0, 9.0]], np.float32))
    assert images.shape == (3, 4, 4, 3)
    assert images[:, 0, 0, 0].tolist() == [0, 255, 255]  # values above the range are clipped
    assert (images[..., 0] == images[..., 2]).all()


def test_priors_sample_reproducibly_with_their_distribution():
    normal = Generator(TinyNet(), NormalPrior(3))
    z1, z2 = normal.sample_latents(4000, seed=7), normal.sample_latents(4000, seed=7)
    np.testing.assert_array_equal(z1, z2)
    assert abs(z1.std() - 1) < 0.05 and z1.dtype == np.float32
    uniform = UniformPrior(3).sample(4000, np.random.default_rng(0))
    assert uniform.min() >= -1 and uniform.max() <= 1 and abs(uniform.std() - 3**-0.5) < 0.03
    assert not np.array_equal(z1, normal.sample_latents(4000, seed=8))


def test_with_prior_keeps_the_network_and_changes_the_sampling():
    class Shifted(NormalPrior):
        def sample(self, n, rng):
            return super().sample(n, rng) + 5

    base = Generator(TinyNet(), NormalPrior(3), name="base")
    calibrated = base.with_prior(Shifted(3), name="calibrated")
    assert calibrated.network is base.network and calibrated.name == "calibrated"
    assert calibrated.sample_latents(100, 0).mean() > 4
    with pytest.raises(GeneratorSpecError, match="takes 3"):
        base.with_prior(NormalPrior(4))


def test_a_sample_set_is_an_image_zip_the_feature_extraction_can_read(tmp_path):
    generator = Generator(TinyNet(), NormalPrior(3), name="tiny", batch_size=4)
    description = write_sample_set(generator, 10, 3, tmp_path / "set", progress=False)
    assert description["n_images"] == 10 and description["image_shape"] == [8, 6, 3]
    names = sample_set_names(10)
    assert image_names_in(tmp_path / "set" / "images.zip") == set(names)
    assert names == sorted(names)
    z = read_latents(tmp_path / "set")
    np.testing.assert_array_equal(z, generator.sample_latents(10, 3))
    decoded = ImageList(tmp_path / "set" / "images.zip", names, transform=_hwc)
    np.testing.assert_array_equal(np.stack([decoded[i] for i in range(10)]), generator.images(z))
    # Re-writing gives byte-identical files (fixed zip dates): reruns change no downstream hash.
    first = (tmp_path / "set" / "images.zip").read_bytes()
    write_sample_set(generator, 10, 3, tmp_path / "set", progress=False)
    assert (tmp_path / "set" / "images.zip").read_bytes() == first
    assert json.loads((tmp_path / "set" / "sample_set.json").read_text())["seed"] == 3
    with zipfile.ZipFile(tmp_path / "set" / "images.zip") as archive:
        assert not any(name.startswith(".") for name in archive.namelist())
    assert not list((tmp_path / "set").glob(".*tmp*"))


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"latent_dim": 3}, "exactly one of `entry_point`"),
        ({"latent_dim": 3, "entry_point": "a:b", "torchscript": "x.pt"}, "exactly one"),
        ({"latent_dim": 3, "entry_point": "no_colon"}, "package.module:function"),
        ({"latent_dim": 3, "entry_point": "surely_not_a_module_xyz:f"}, "cannot import"),
        ({"latent_dim": 3, "entry_point": "math:no_such"}, "no attribute"),
        ({"latent_dim": 3, "entry_point": "math:pi"}, "not callable"),
        ({"latent_dim": 3, "torchscript": "missing.pt"}, "does not exist"),
        ({"latent_dim": 0, "entry_point": "math:sqrt"}, "positive integer"),
        ({"entry_point": "math:sqrt"}, "latent_dim` is required"),
        ({"latent_dim": 3, "entry_point": "math:sqrt", "prior": "cauchy"}, "unknown prior"),
        ({"latent_dim": 3, "entry_point": "math:sqrt", "prior": "gone.npz"}, "does not exist"),
    ],
)
def test_bad_specs_say_what_to_fix(spec, message):
    with pytest.raises(GeneratorSpecError, match=message):
        load_generator(spec, "g")


def test_bad_network_outputs_are_refused():
    flat = Generator(lambda z: z, NormalPrior(3), name="flat")
    with pytest.raises(GeneratorSpecError, match=r"\(B, C, H, W\)"):
        flat.images(np.zeros((2, 3), np.float32))
    nan = Generator(lambda z: z[:, :, None, None] * float("nan"), NormalPrior(3))
    with pytest.raises(GeneratorSpecError, match="NaN"):
        nan.images(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        Generator(TinyNet(), NormalPrior(3)).images(np.zeros((2, 4), np.float32))


def test_builtin_priors_by_name():
    assert isinstance(load_prior("normal", 2), NormalPrior)
    assert isinstance(load_prior("uniform", 2), UniformPrior)
    assert load_prior("uniform", 2).to_dict() == {"kind": "uniform", "latent_dim": 2}
