"""Toy 2-D GAN study library: data geometry, mode metrics, the vectorised ensemble, save/load,
figures (modedrop.gan.toy_data / toy_settings / toy_ensemble / toy_training / toy_run_io /
toy_plots)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.datasets import make_moons
from threadpoolctl import threadpool_limits

from conftest import REPO
from modedrop.gan.toy_data import DATASETS, TRACK_METRICS, get_dataset
from modedrop.gan.toy_ensemble import (
    EnsembleMLP,
    Optimiser,
    discriminator_gradients,
    generator_gradients,
    rng_stream,
)
from modedrop.gan.toy_plots import plot_toy_curves, plot_toy_snapshots
from modedrop.gan.toy_real_data import real_bins, real_sample
from modedrop.gan.toy_run_io import load_run, save_run
from modedrop.gan.toy_settings import ToyGANSettings
from modedrop.gan.toy_training import HISTORY_METRICS, summarize_history, train_toy_gan
from modedrop.metrics.ndb import NDBBins

# A short run: enough steps to move the weights, small evaluation sets to stay fast.
SHORT = dict(steps=300, snapshot_every=100, n_eval=200, n_snapshot=50, n_real=500, ndb_bins=10)


@pytest.fixture(scope="module")
def short_run():
    return train_toy_gan("moons", 2, [1, 2, 3], progress=False, **SHORT)


# --------------------------------------------------------------------------- data and metrics


def test_ring_samples_at_every_mode_cover_all_eight():
    ring = get_dataset("ring")
    points = np.repeat(ring.centers, 125, axis=0)  # 1000 points, 125 exactly on each mode
    bins = NDBBins(ring.sample(4000, np.random.default_rng(0)), n_bins=16, seed=0)
    result = ring.track(points, bins, alpha=0.05)
    assert set(result) == set(TRACK_METRICS)
    assert result["modes_covered"] == 8 and result["n_modes"] == 8
    assert result["high_quality_share"] == 1.0
    assert 1.9 < result["rankme"] <= 2.0  # the 8 points of a circle spread in both directions


def test_ring_collapse_to_one_mode_is_one_covered_and_high_ndb():
    ring = get_dataset("ring")
    rng = np.random.default_rng(1)
    collapsed = ring.centers[3] + ring.std * rng.standard_normal((1000, 2))
    bins = NDBBins(ring.sample(4000, np.random.default_rng(0)), n_bins=16, seed=0)
    result = ring.track(collapsed, bins, alpha=0.05)
    assert result["modes_covered"] == 1
    assert result["high_quality_share"] > 0.95  # good points, all on one mode
    assert result["ndb_fraction"] > 10 * 0.05
    # The same number of real draws is not flagged: the collapse, not the sample size, is seen.
    fair = ring.track(ring.sample(1000, rng), bins, alpha=0.05)
    assert fair["modes_covered"] == 8 and fair["ndb_fraction"] <= 0.25


def test_coverage_needs_a_quarter_of_the_expected_count():
    ring = get_dataset("ring")
    # 965 points on mode 0; 5 stray ones exactly on each other mode (expected 125 each).
    points = np.concatenate(
        [np.repeat(ring.centers[:1], 965, 0), np.repeat(ring.centers[1:], 5, 0)]
    )
    assert ring.high_quality(points).all()
    assert ring.modes_covered(points) == 1
    assert ring.modes_covered(points, coverage_fraction=0.04) == 8


def test_moons_arc_distance_on_known_points():
    moons = get_dataset("moons")
    # Outer arc: centre (0, 0), angles [0, pi]; inner arc: centre (1, 0.5), angles [pi, 2 pi].
    cases = {  # point: (distance to the outer arc, distance to the inner arc)
        (0.0, 0.0): (1.0, math.hypot(1, 0.5) - 1),  # outer centre; inner: radial
        (0.0, 2.0): (1.0, 1.5),  # inner: above its span, nearer endpoint (0, 0.5)
        (2.0, -1.0): (math.sqrt(2), math.hypot(1, 1.5) - 1),  # outer: endpoint (1, 0)
        (1.0, -1.0): (1.0, 0.5),  # outer: endpoint (1, 0); inner: below its centre
        (3.0, 0.5): (math.hypot(3, 0.5) - 1, 1.0),  # inner: on its end ray (angle 2 pi)
        (-1.0, 0.0): (0.0, math.hypot(2, 0.5) - 1),  # the outer arc's end point itself
        (0.5, 0.5): (1 - math.hypot(0.5, 0.5), 0.5),  # inside both circles
    }
    points, expected = list(cases), list(cases.values())
    np.testing.assert_allclose(moons.distance_to_modes(points), expected, atol=1e-12)


def test_moons_follow_make_moons_curves_with_random_positions():
    moons = get_dataset("moons")
    curve, label = make_moons(n_samples=400, noise=0.0, shuffle=False)
    d = moons.distance_to_modes(curve)
    assert d.min(axis=1).max() < 1e-12
    assert np.array_equal(np.argmin(d, axis=1), label)  # outer moon = mode 0, inner = 1
    drawn = moons.sample(4000, np.random.default_rng(0))
    index, dist = moons.nearest_mode(drawn)
    assert dist.max() < 1e-6  # float32 points on the curves
    assert 0.45 < index.mean() < 0.55  # equal weights
    # Uniform along each arc, not make_moons' even grid: the arc angle passes a KS test and
    # the gaps between sorted angles are not all equal.
    from scipy.stats import kstest

    angle = np.arctan2(drawn[index == 0, 1], drawn[index == 0, 0])
    assert kstest(angle / math.pi, "uniform").pvalue > 0.01
    assert np.diff(np.sort(angle)).std() > 1e-4


def test_grid_geometry_and_real_data_quality():
    grid = get_dataset("grid")
    values = [-4, -2, 0, 2, 4]
    assert {tuple(c) for c in grid.centers.tolist()} == {(x, y) for x in values for y in values}
    assert grid.sigma == 0.05 and grid.n_modes == 25
    np.testing.assert_allclose(grid.distance_to_modes([[1.0, 1.0]]).min(), math.sqrt(2))
    real = grid.sample(20000, np.random.default_rng(0))
    index, _ = grid.nearest_mode(real)
    assert np.bincount(index, minlength=25).min() > 600  # every mode drawn, ~800 each
    np.testing.assert_allclose((real - grid.centers[index]).std(axis=0), 0.05, rtol=0.05)
    # Inside 3 sigma for a 2-D Gaussian: 1 - exp(-4.5) = 0.9889.
    np.testing.assert_allclose(grid.high_quality(real).mean(), 1 - math.exp(-4.5), atol=0.005)
    assert grid.modes_covered(real) == 25


def test_registry_and_bad_inputs_say_how_to_fix():
    assert set(DATASETS) == {"moons", "ring", "grid"}
    with pytest.raises(ValueError, match=r"known data sets: \['grid', 'moons', 'ring'\]"):
        get_dataset("moon")
    with pytest.raises(ValueError, match="2 columns"):
        get_dataset("ring").distance_to_modes(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="coverage_fraction"):
        get_dataset("ring").modes_covered(np.zeros((3, 2)), coverage_fraction=2)
    assert get_dataset("moons", moons_sigma=0.1).sigma == 0.1
    with pytest.raises(ValueError, match="distinct"):
        ToyGANSettings(dataset="ring", latent_dim=2, seeds=[1, 1])
    with pytest.raises(ValueError, match="'sgd' or 'adam'"):
        ToyGANSettings(dataset="ring", latent_dim=2, seeds=[1], optimizer="rmsprop")
    with pytest.raises(ValueError, match="Unknown toy-GAN setting"):
        train_toy_gan("ring", 2, [1], step=10)


def _toy_settings_of(config_name: str) -> ToyGANSettings:
    """The settings workflow/scripts/train_toy_gan.py builds from a config's gan_toy block,
    with the schema's defaults for keys the block leaves out."""
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    keys = schema["properties"]["gan_toy"]["properties"]
    block = yaml.safe_load((REPO / "config" / config_name).read_text())["gan_toy"]
    toy = {key: block.get(key, spec["default"]) for key, spec in keys.items()}
    renamed = {"generator_hidden": "g_hidden", "discriminator_hidden": "d_hidden"}
    settings = {renamed.get(k, k): v for k, v in toy.items()}
    for study_key in ("datasets", "latent_dims", "seeds"):
        settings.pop(study_key)
    return ToyGANSettings(dataset="moons", latent_dim=2, seeds=toy["seeds"], **settings)


def test_config_gan_toy_blocks_build_settings_and_the_paper_config_keeps_sgd():
    """Every schema key of gan_toy is a settings field; config/celeba.yaml states Martina-Perez's
    own schedule (so it holds whether or not it is merged over config/config.yaml, whose Adam is
    a documented deviation)."""
    default = _toy_settings_of("config.yaml")
    assert default.optimizer == "adam" and default.adam_betas == (0.5, 0.999)
    paper = _toy_settings_of("celeba.yaml")
    block = yaml.safe_load((REPO / "config" / "celeba.yaml").read_text())["gan_toy"]
    assert block["optimizer"] == "sgd" and block["lr"] == pytest.approx(5e-4)
    assert (paper.optimizer, paper.lr, paper.steps, paper.batch_size) == ("sgd", 5e-4, 150_000, 32)
    assert (paper.g_hidden, paper.d_hidden, paper.init_std) == ((8, 4), (64, 8), 1.0)


# --------------------------------------------------------------------------- training


def _torch_mlp(params, x, activation):
    h = x
    n = len(params) // 2
    for i in range(n):
        h = torch.baddbmm(params[2 * i + 1], h, params[2 * i])
        if i < n - 1:
            h = {"relu": torch.relu, "tanh": torch.tanh, "leaky_relu": lambda a: torch.where(
                a > 0, a, 0.2 * a), "sigmoid": torch.sigmoid}[activation](h)  # fmt: skip
    return h


@pytest.mark.parametrize(("g_act", "d_act"), [("relu", "tanh"), ("leaky_relu", "sigmoid")])
def test_hand_written_gradients_match_torch_autograd(g_act, d_act):
    rngs = [rng_stream(s, 0) for s in (4, 5)]
    gen = EnsembleMLP.initialise((3, 8, 4, 2), g_act, rngs, 0.5)
    disc = EnsembleMLP.initialise((2, 16, 8, 1), d_act, rngs, 0.5)
    rng = np.random.default_rng(0)
    real = rng.standard_normal((2, 32, 2)).astype(np.float32)
    z = rng.standard_normal((2, 32, 3)).astype(np.float32)
    d_grads, fake, g_cache = discriminator_gradients(gen, disc, real, z)
    g_grads = generator_gradients(gen, disc, fake, g_cache)

    tg = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in gen.params]
    td = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in disc.params]
    fake_t = _torch_mlp(tg, torch.tensor(z, dtype=torch.float64), g_act)
    sp = torch.nn.functional.softplus
    real_logit = _torch_mlp(td, torch.tensor(real, dtype=torch.float64), d_act)
    d_loss = sp(-real_logit).mean((1, 2)) + sp(_torch_mlp(td, fake_t.detach(), d_act)).mean((1, 2))
    ref_d = torch.autograd.grad(d_loss.sum(), td)
    g_loss = sp(-_torch_mlp(td, fake_t, d_act)).mean((1, 2))
    ref_g = torch.autograd.grad(g_loss.sum(), tg)
    for mine, ref in [*zip(d_grads, ref_d, strict=True), *zip(g_grads, ref_g, strict=True)]:
        np.testing.assert_allclose(mine, ref.numpy(), rtol=2e-4, atol=1e-6)


def test_adam_follows_the_torch_optim_adam_algorithm():
    # The algorithm box of torch.optim.Adam (no weight decay, amsgrad off), in float64; calling
    # torch.optim itself would import torch._dynamo (~3 s).
    settings = ToyGANSettings(dataset="ring", latent_dim=2, seeds=[1], optimizer="adam", lr=0.01)
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((2, 3, 4)).astype(np.float32)]
    theta, m, v = params[0].astype(np.float64), 0.0, 0.0
    optimiser = Optimiser(params, settings)
    for t in range(1, 5):
        grad = rng.standard_normal((2, 3, 4)).astype(np.float32)
        optimiser.step([grad])
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad.astype(np.float64) ** 2
        theta = theta - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(params[0], theta, rtol=1e-5, atol=1e-6)


def test_seed_results_do_not_depend_on_the_ensemble(short_run):
    alone = train_toy_gan("moons", 2, [2], progress=False, **SHORT)
    together = short_run.history[short_run.history["seed"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.history, together, check_exact=False, rtol=1e-5)
    for step, points in alone.snapshots.items():
        np.testing.assert_allclose(points[0], short_run.snapshots[step][1], rtol=1e-5, atol=1e-6)
    for name, value in alone.generator.items():
        np.testing.assert_allclose(value[0], short_run.generator[name][1], rtol=1e-5, atol=1e-6)


def test_training_is_deterministic_and_tracks_every_snapshot(short_run):
    again = train_toy_gan("moons", 2, [1, 2, 3], progress=False, **SHORT)
    pd.testing.assert_frame_equal(again.history, short_run.history, check_exact=True)
    h = short_run.history
    assert sorted(h["step"].unique()) == [0, 100, 200, 300]
    assert set(h["metric"]) == set(HISTORY_METRICS)
    assert len(h) == 4 * 3 * len(HISTORY_METRICS)
    rankme = h.loc[h["metric"] == "rankme", "value"]
    assert ((rankme > 0) & (rankme <= 2 + 1e-9)).all()
    # Training moved the generators: the step-300 points differ from the step-0 ones.
    assert not np.allclose(short_run.snapshots[0], short_run.snapshots[300])


def test_snapshots_use_one_fixed_latent_batch_per_seed(short_run):
    s = short_run.settings
    z = np.stack(
        [rng_stream(seed, 3).standard_normal((s.n_eval, 2), np.float32) for seed in s.seeds]
    )
    # The tracker's forward pass again, on the same batch and, as in training, with one BLAS
    # thread (another thread count may pick another kernel): the same computation, same bits.
    with threadpool_limits(limits=1):
        final = short_run.generate(z)[:, : s.n_snapshot]
    np.testing.assert_array_equal(final, short_run.snapshots[300])
    assert short_run.snapshots[300].dtype == np.float32
    assert short_run.snapshots[300].shape == (3, 50, 2)


def test_real_bins_are_per_seed_and_shared(short_run):
    a, b = real_sample("moons", 1, 500), real_sample("moons", 2, 500)
    assert not np.array_equal(a, b)
    assert real_bins("moons", 1, 500, 10) is real_bins("moons", 1, 500, 10)


def test_save_load_round_trip(short_run, tmp_path):
    save_run(short_run, tmp_path / "a")
    loaded = load_run(tmp_path / "a")
    assert loaded.settings == short_run.settings
    pd.testing.assert_frame_equal(loaded.history, short_run.history, check_exact=True)
    assert loaded.snapshots.keys() == short_run.snapshots.keys()
    for step in short_run.snapshots:
        np.testing.assert_array_equal(loaded.snapshots[step], short_run.snapshots[step])
    for name in short_run.generator:
        np.testing.assert_array_equal(loaded.generator[name], short_run.generator[name])
    # Same run, same bytes; no temporary file left behind.
    save_run(loaded, tmp_path / "b")
    for name in ("history.csv", "snapshots.npz", "generator.pt", "settings.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        ["history.csv", "snapshots.npz", "generator.pt", "settings.json"]
    )
    (tmp_path / "a" / "generator.pt").unlink()
    with pytest.raises(FileNotFoundError, match="generator.pt"):
        load_run(tmp_path / "a")


# --------------------------------------------------------------------------- figures


def test_plots_write_png_and_pdf(short_run, tmp_path):
    summary = summarize_history(short_run.history)
    assert set(summary.columns) >= {"dataset", "latent_dim", "step", "metric", "mean", "std", "n"}
    assert (summary["n"] == 3).all()
    plot_toy_curves(summary, "moons", tmp_path / "c.png", tmp_path / "c.pdf", alpha=0.05)
    snaps = {2: {k: v[0] for k, v in short_run.snapshots.items()}}
    real = real_sample("moons", 1, 300)
    plot_toy_snapshots(snaps, real, "moons", 1, tmp_path / "s.png", tmp_path / "s.pdf")
    for name in ("c", "s"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
        assert (tmp_path / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="datasets present"):
        plot_toy_curves(summary, "ring", tmp_path / "x.png", tmp_path / "x.pdf")
