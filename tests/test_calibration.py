"""Black-box calibration (Wu et al., *Black-Box Diagnosis and Calibration on GAN Intra-Mode
Collapse*, Algorithms 1 and 2): a planted dense mode is calibrated away.

The planted generator is a plain function from latent codes z (N(0, I), d = 4 or 8) to unit
"identity features" (D = 16): latents with z_0 > 1 (about 16 % of the mass) map near ONE fixed
vector - a dense mode, intra-mode collapse - and the others spread over the sphere through
random cosine features. The same map without the planted region is a generator without a dense
mode.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from modedrop.calibration import diagnose, neighbour_counts, within_radius
from modedrop.calibration_evaluation import evaluate_generator_set
from modedrop.calibration_mixture import gaussian_mixture_prior
from modedrop.calibration_plots import plot_calibration, plot_dense_modes
from modedrop.calibration_rejection import hull_region, rejection_prior
from modedrop.metrics.frechet import frechet_distance
from modedrop.metrics.mccs import mccs_population_from_split, split_anchors
from modedrop.priors import (
    GaussianMixturePrior,
    NormalPrior,
    RejectionPrior,
    UniformPrior,
    load_prior,
    load_prior_file,
)

FEATURES = 16
THETA, RADIUS = 0.2, 0.12
N_IMAGES = 4000
N_CLUSTERS = 30


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class PlantedGenerator:
    """z -> unit features; ``planted``: the slab z_0 > 1 collapses onto one vector."""

    def __init__(self, latent_dim: int, scale: float, *, planted: bool) -> None:
        rng = np.random.default_rng(123)
        self.weights = rng.normal(size=(FEATURES, latent_dim)) * scale
        self.phases = rng.uniform(0, 2 * math.pi, FEATURES)
        self.dense = unit(rng.normal(size=FEATURES))
        self.planted = planted
        self.latent_dim = latent_dim

    def __call__(self, z: np.ndarray) -> np.ndarray:
        spread = unit(np.cos(np.asarray(z, float) @ self.weights.T + self.phases))
        if not self.planted:
            return spread
        collapsed = unit(self.dense + 0.05 * spread)  # all within ~0.02 of the dense vector
        return np.where((z[:, 0] > 1)[:, None], collapsed, spread)


def draw(prior, seed: int, n: int = N_IMAGES) -> np.ndarray:
    return prior.sample(n, np.random.default_rng(seed))


def calibrate(kind: str, diagnosis, base_prior, **options):
    if kind == "gmm":
        return gaussian_mixture_prior(
            diagnosis.sample_latents,
            diagnosis.sample_features,
            diagnosis.dense_mode_feature,
            RADIUS,
            n_clusters=N_CLUSTERS,
            seed=0,
            **options,
        )
    return rejection_prior(
        diagnosis.sample_latents,
        diagnosis.sample_features,
        diagnosis.dense_mode_feature,
        RADIUS,
        reference_count=diagnosis.reference_count,
        base_prior=base_prior,
        **options,
    )


def row(features: np.ndarray, diagnosis) -> dict:
    return evaluate_generator_set(
        features,
        theta=THETA,
        radius=RADIUS,
        dense_mode_feature=diagnosis.dense_mode_feature,
    )


@pytest.fixture(scope="module")
def planted():
    generator = PlantedGenerator(4, 1.5, planted=True)
    z = draw(NormalPrior(4), 1)
    return generator, z, diagnose(generator(z), z, theta=THETA, radius=RADIUS)


@pytest.fixture(scope="module")
def healthy():
    generator = PlantedGenerator(4, 1.5, planted=False)
    z = draw(NormalPrior(4), 1)
    return generator, z, diagnose(generator(z), z, theta=THETA, radius=RADIUS)


# ----- neighbours and diagnosis ----------------------------------------------------------------


def test_within_radius_uses_the_mccs_distance_in_blocks():
    """d = arccos(cos) / pi on normalised rows; blocking does not change the answer."""
    angles = np.array([0.05, 0.1, 0.2, 0.9]) * math.pi
    features = np.stack([np.cos(angles), np.sin(angles)], axis=1) * [[3.0], [0.5], [1], [2]]
    mode = np.array([2.0, 0.0])  # not unit: rows are normalised first
    assert within_radius(mode, features, 0.15).tolist() == [[True, True, False, False]]
    assert within_radius(mode, features, 0.95).tolist() == [[True, True, True, True]]

    rng = np.random.default_rng(0)
    a, c = rng.normal(size=(37, 5)), rng.normal(size=(53, 5))
    d = np.arccos(np.clip(unit(a) @ unit(c).T, -1, 1)) / math.pi
    expected = d <= 0.4
    assert np.array_equal(within_radius(a, c, 0.4, block_size=4), expected)
    assert np.array_equal(neighbour_counts(a, c, 0.4, block_size=4), expected.sum(axis=1))
    assert np.array_equal(neighbour_counts(a, c, 0.4), expected.sum(axis=1))
    # A radius equal to a pair's distance: that pair is within it (d <= r), as in MCCS (Eq. 9).
    # Checked where the distance is exact whatever the BLAS kernel: identical directions have
    # a cosine of exactly 1, so d = 0, within r = 0 (and orthogonal ones are not).
    basis = np.array([[2.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert within_radius(basis[0], basis, 0.0).tolist() == [[True, False, True, False]]
    # Random pair distances as radii: every other pair falls on the right side. The pair
    # itself is left out: its distance recomputed by the library may be an ulp above or below
    # this one, depending on the BLAS kernel.
    for r in d.ravel()[::97]:
        clear = np.abs(d - r) > 1e-9
        assert (~clear).sum() == 1  # only the pair itself; the next is >= 1e-5 away
        assert np.array_equal(within_radius(a, c, r)[clear], (d <= r)[clear])


def test_diagnose_finds_the_planted_dense_mode(planted):
    generator, z, diagnosis = planted
    features = generator(z)
    assert z[diagnosis.worst_index, 0] > 1, "I_w must come from the collapsed slab z_0 > 1"
    assert 0.12 < diagnosis.worst_share < 0.2  # the slab holds ~16 % of the samples
    assert np.all(z[diagnosis.nearest, 0] > 1)
    assert np.all(np.diff(diagnosis.nearest_distances) >= 0)
    assert not np.isin(diagnosis.nearest, diagnosis.anchor_idx).any()  # nearest come from C
    # Same numbers as the MCCS module on the same split. The neighbour counts come from two
    # code paths (calibration's float64 blocks; MCCS's float32 filter, then float64) and are
    # compared exactly: no anchor-sample pair lies within 1e-6 of the radius, far above the
    # rounding of either.
    anchors, samples = split_anchors(len(z), 0.5, 0)
    reference = mccs_population_from_split(features, anchors, samples, theta=THETA, radius=RADIUS)
    assert diagnosis.worst_index == reference.worst_index
    assert diagnosis.worst_mccs == pytest.approx(reference.worst_mccs, rel=1e-12)
    assert diagnosis.anchor_mccs.mean() == pytest.approx(reference.mean, rel=1e-12)
    assert diagnosis.anchor_counts.max() == reference.worst_neighbours
    assert np.array_equal(diagnosis.sample_latents, z[samples])
    assert diagnosis.reference_count == max(1.0, float(np.median(diagnosis.anchor_counts)))
    json.dumps(diagnosis.to_dict())


# ----- the requirement -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gmm", "rejection"])
def test_calibration_lowers_worst_case_mccs_of_a_planted_dense_mode(planted, kind):
    """Both algorithms lower MCCS(I_w) and the share of images on the planted mode."""
    generator, _, diagnosis = planted
    prior = calibrate(kind, diagnosis, NormalPrior(4))
    before = row(generator(draw(NormalPrior(4), 2)), diagnosis)
    after = row(generator(draw(prior, 2)), diagnosis)
    assert before["worst_mccs"] > 0.3 and before["dense_share"] > 0.12  # the planted collapse
    assert after["worst_mccs"] < before["worst_mccs"] - 0.07
    assert after["dense_share"] < 0.3 * before["dense_share"]
    assert after["mccs_mean"] < before["mccs_mean"]


@pytest.mark.parametrize("kind", ["gmm", "rejection"])
def test_calibration_leaves_a_generator_without_dense_mode_almost_unchanged(healthy, kind):
    generator, _, diagnosis = healthy
    prior = calibrate(kind, diagnosis, NormalPrior(4))
    before = row(generator(draw(NormalPrior(4), 2)), diagnosis)
    after = row(generator(draw(prior, 2)), diagnosis)
    assert abs(after["worst_mccs"] - before["worst_mccs"]) < 0.02
    assert abs(after["mccs_mean"] - before["mccs_mean"]) < 0.005
    assert abs(after["mccs_std"] - before["mccs_std"]) < 0.008


def test_rejection_hull_is_centred_on_the_latents_so_it_keeps_the_dense_direction():
    """8-d latents, 4 hull directions: H (z_0 > 1) varies least along z_0, so ordinary PCA about
    H's mean drops z_0, the cylinder covers most of latent space and the slab stays; principal
    directions about the latents' mean rank z_0 first and the slab is thinned."""
    generator = PlantedGenerator(8, 1.0, planted=True)
    z = draw(NormalPrior(8), 1)
    diagnosis = diagnose(generator(z), z, theta=THETA, radius=RADIUS)
    shares = {}
    for centre in ("latents", "hull"):
        prior = calibrate("rejection", diagnosis, NormalPrior(8), pca_centre=centre)
        latents = draw(prior, 2)
        shares[centre] = (row(generator(latents), diagnosis)["dense_share"], prior)
    before = row(generator(draw(NormalPrior(8), 2)), diagnosis)["dense_share"]
    assert shares["latents"][0] < 0.3 * before
    assert shares["hull"][0] > 0.8 * before  # the documented failure of ordinary PCA
    assert shares["latents"][1].last_acceptance_rate > 0.75  # ~ 1 - 16 % of draws rejected
    assert shares["hull"][1].last_acceptance_rate < 0.4


# ----- Algorithm 1 -----------------------------------------------------------------------------


def three_blobs():
    """Latents in 3 far-apart 2-d blobs (50, 60, 70); blob 0 all on the mode, 5 of blob 1."""
    rng = np.random.default_rng(0)
    sizes, centres = (50, 60, 70), np.array([[-20.0, 0.0], [0.0, 20.0], [20.0, 0.0]])
    z = np.concatenate([c + rng.normal(size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    mode = unit(np.ones(FEATURES))
    far = unit(rng.normal(size=(len(z), FEATURES)) - 3 * mode)  # all far from the mode
    features = far.copy()
    features[:50] = unit(mode + 0.01 * rng.normal(size=(50, FEATURES)))
    features[50:55] = features[:5]
    return z, features, mode, centres, np.array(sizes)


def components_by_centre(prior: GaussianMixturePrior, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((prior.means[:, None] - centres[None]) ** 2).sum(-1), axis=0)


def test_mixture_weights_follow_one_over_count_plus_one():
    z, features, mode, centres, sizes = three_blobs()
    prior = gaussian_mixture_prior(z, features, mode, RADIUS, n_clusters=3, seed=0)
    order = components_by_centre(prior, centres)
    assert prior.neighbour_counts[order].tolist() == [50, 5, 0]
    expected = 1 / np.array([51.0, 6.0, 1.0])
    np.testing.assert_allclose(prior.weights[order], expected / expected.sum(), rtol=1e-12)
    # Several dense modes: every (mode, sample) pair within r counts.
    two = gaussian_mixture_prior(z, features, [mode, mode], RADIUS, n_clusters=3, seed=0)
    assert two.neighbour_counts[components_by_centre(two, centres)].tolist() == [100, 10, 0]
    # base_weights="size": times the cluster's share of the latents.
    sized = gaussian_mixture_prior(
        z, features, mode, RADIUS, n_clusters=3, seed=0, base_weights="size"
    )
    expected = sizes / sizes.sum() / np.array([51.0, 6.0, 1.0])
    order = components_by_centre(sized, centres)
    np.testing.assert_allclose(sized.weights[order], expected / expected.sum(), rtol=1e-12)


def test_mixture_components_use_cluster_means_and_the_pooled_covariance():
    z, features, mode, centres, sizes = three_blobs()
    prior = gaussian_mixture_prior(z, features, mode, RADIUS, n_clusters=3, seed=0)
    order = components_by_centre(prior, centres)
    blobs = np.split(z, np.cumsum(sizes)[:-1])
    np.testing.assert_allclose(prior.means[order], [b.mean(axis=0) for b in blobs], rtol=1e-12)
    within = sum(((b - b.mean(axis=0)) ** 2).sum(axis=0) for b in blobs) / (len(z) - 3)
    np.testing.assert_allclose(prior.variances, within, rtol=1e-12)
    identity = gaussian_mixture_prior(
        z, features, mode, RADIUS, n_clusters=3, seed=0, covariance="identity"
    )
    assert identity.variances.tolist() == [1.0, 1.0]


def test_size_weighted_mixture_without_neighbours_matches_the_latents_spread():
    z = draw(NormalPrior(4), 3, 2000).astype(float)
    features = unit(np.random.default_rng(4).normal(size=(len(z), FEATURES)))
    far = -unit(features.sum(axis=0))
    prior = gaussian_mixture_prior(
        z, features, far, 0.0, n_clusters=N_CLUSTERS, seed=0, base_weights="size"
    )
    assert prior.neighbour_counts.sum() == 0
    mean = prior.weights @ prior.means
    variance = prior.weights @ (prior.means - mean) ** 2 + prior.variances
    np.testing.assert_allclose(mean, z.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(variance, z.var(axis=0), rtol=0.02)


def test_gaussian_mixture_prior_is_reproducible(planted):
    _, _, diagnosis = planted
    first, second = (calibrate("gmm", diagnosis, None) for _ in range(2))
    assert np.array_equal(first.means, second.means)
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(draw(first, 5, 100), draw(second, 5, 100))
    assert draw(first, 5, 100).dtype == np.float32


# ----- Algorithm 2 -----------------------------------------------------------------------------


SQUARE = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5], [0.2, 0.7], [0.9, 0.3]], float)


def test_hull_membership_on_a_known_square():
    region = hull_region(SQUARE, hull_dims=2)
    inside = [[0.5, 0.5], [0.99, 0.01], [0.0, 0.0], [1.0, 0.6], [0.01, 0.99]]
    outside = [[1.01, 0.5], [-0.01, 0.5], [0.5, 1.2], [0.5, -0.001], [2, 2]]
    assert region.contains(inside).all()
    assert not region.contains(outside).any()
    assert len(region.vertices) == 4  # the interior points are no vertices


def test_hull_is_a_cylinder_beyond_hull_dims():
    """In 3-d with 2 hull directions, membership ignores the third (least spread) direction."""
    rng = np.random.default_rng(0)
    points = np.column_stack([SQUARE * 10, 0.01 * rng.normal(size=len(SQUARE))])
    region = hull_region(points, hull_dims=2)
    assert region.contains([[5, 5, 100.0], [5, 5, -50.0], [1, 9, 0]]).all()
    assert not region.contains([[11, 5, 0.0], [5, -1, 3.0]]).any()
    line = hull_region(points, hull_dims=1)  # k = 1: an interval along the longest direction
    assert line.hull_dims == 1
    assert line.contains([[5, 5, 7.0]]).all()
    assert not line.contains([[30, 30, 0.0]]).any()


def square_prior(acceptance: float) -> RejectionPrior:
    region = hull_region(SQUARE[:4] - 0.5, hull_dims=2)  # [-0.5, 0.5]^2
    return RejectionPrior(NormalPrior(2), region, acceptance)


def test_rejection_acceptance_rate_matches_p_inside_the_region():
    """N(0, I) puts P = (Phi(.5) - Phi(-.5))^2 = 0.1466 in [-.5, .5]^2; keeping a quarter of
    those keeps 1 - 0.75 P of all draws, and a share 0.25 P / that of the kept ones lie inside."""
    from scipy.stats import norm

    p_inside = (norm.cdf(0.5) - norm.cdf(-0.5)) ** 2
    prior = square_prior(0.25)
    z = prior.sample(40_000, np.random.default_rng(0))
    assert z.shape == (40_000, 2) and z.dtype == np.float32
    expected_rate = 1 - 0.75 * p_inside
    assert prior.last_acceptance_rate == pytest.approx(expected_rate, abs=0.01)
    share_inside = prior.region.contains(z).mean()
    assert share_inside == pytest.approx(0.25 * p_inside / expected_rate, abs=0.004)
    # Outside the region nothing changes: p = 1 keeps every draw, in order.
    keep_all = square_prior(1.0)
    assert np.array_equal(
        keep_all.sample(500, np.random.default_rng(1)), draw(NormalPrior(2), 1, 500)
    )
    assert keep_all.last_acceptance_rate == 1.0


def test_rejection_prior_acceptance_is_reference_over_dense_count(planted):
    _, _, diagnosis = planted
    prior = calibrate("rejection", diagnosis, NormalPrior(4))
    dense = int(
        within_radius(diagnosis.dense_mode_feature, diagnosis.sample_features, RADIUS).sum()
    )
    assert prior.dense_count == dense == diagnosis.worst_neighbours
    assert prior.acceptance == diagnosis.reference_count / dense
    capped = rejection_prior(
        diagnosis.sample_latents,
        diagnosis.sample_features,
        diagnosis.dense_mode_feature,
        RADIUS,
        reference_count=10 * dense,
        base_prior=NormalPrior(4),
    )
    assert capped.acceptance == 1.0


def test_rejection_prior_default_reference_is_the_samples_median(planted):
    _, _, diagnosis = planted
    x = diagnosis.sample_features[:400]
    z = diagnosis.sample_latents[:400]
    radius = 0.3  # wide enough that a typical sample has several neighbours
    prior = rejection_prior(z, x, diagnosis.dense_mode_feature, radius, base_prior=NormalPrior(4))
    d = np.arccos(np.clip(x @ x.T, -1, 1)) / math.pi
    others = (d <= radius).sum(axis=1) - 1  # a sample is not its own neighbour
    assert np.median(others) > 2
    assert prior.reference_count == float(np.median(others))


# ----- files -----------------------------------------------------------------------------------


def saved_priors(diagnosis):
    gmm = calibrate("gmm", diagnosis, None)
    return {
        "gmm": gmm,
        "rejection-normal": calibrate("rejection", diagnosis, NormalPrior(4)),
        "rejection-uniform": calibrate("rejection", diagnosis, UniformPrior(4)),
        "rejection-gmm": calibrate("rejection", diagnosis, gmm),
    }


@pytest.mark.parametrize("name", ["gmm", "rejection-normal", "rejection-uniform", "rejection-gmm"])
def test_prior_files_round_trip_without_pickles(planted, tmp_path, name):
    prior = saved_priors(planted[2])[name]
    path = prior.save(tmp_path / f"{name}.npz")
    with np.load(path, allow_pickle=False) as data:  # no object arrays anywhere
        assert str(data["kind"]) == prior.kind
        assert all(data[key].dtype != object for key in data.files)
    for loaded in (load_prior_file(path), load_prior(path, 4)):
        assert type(loaded) is type(prior)
        assert loaded.to_dict() == prior.to_dict()
        assert np.array_equal(draw(loaded, 7, 300), draw(prior, 7, 300))
    json.dumps(prior.to_dict())


def test_rejection_prior_reports_its_base_and_acceptance(planted):
    prior = saved_priors(planted[2])["rejection-uniform"]
    description = prior.to_dict()
    assert description["base_prior"] == {"kind": "uniform", "latent_dim": 4}
    assert description["acceptance"] == prior.acceptance
    assert prior.last_acceptance_rate is None
    prior.sample(100, np.random.default_rng(0))
    assert 0 < prior.last_acceptance_rate <= 1


# ----- evaluation and figures ------------------------------------------------------------------


def test_evaluate_generator_set_is_one_table_row(planted):
    generator, z, diagnosis = planted
    features = generator(z)
    reference = PlantedGenerator(4, 1.5, planted=False)(z)
    result = evaluate_generator_set(
        features,
        theta=THETA,
        radius=RADIUS,
        reference_features=reference,
        dense_mode_feature=diagnosis.dense_mode_feature,
    )
    assert result["worst_mccs"] == diagnosis.worst_mccs
    assert result["mccs_mean"] == diagnosis.mean and result["mccs_std"] == diagnosis.std
    assert result["fd"] == frechet_distance(features, reference)
    share = within_radius(diagnosis.dense_mode_feature, features, RADIUS).mean()
    assert result["dense_share"] == share
    bare = evaluate_generator_set(features, theta=THETA, radius=RADIUS)
    assert math.isnan(bare["fd"]) and math.isnan(bare["dense_share"])


def test_calibration_figures_are_written(tmp_path):
    rows = pd.DataFrame(
        {
            "generator": ["rejection", "original", "gmm"],
            "worst_mccs": [0.23, 0.33, 0.19],
            "mccs_mean": [0.10, 0.13, 0.11],
            "mccs_std": [0.04, 0.09, 0.03],
            "fd": [0.03, 0.0, math.nan],
        }
    )
    rng = np.random.default_rng(0)
    scores = {g: rng.uniform(0, 0.4, 50) for g in ("original", "gmm", "rejection")}
    plot_calibration(rows, scores, tmp_path / "c.png", tmp_path / "c.pdf")
    image = np.zeros((8, 8, 3), np.uint8)
    panels = {"original": (image, [image] * 5), "gmm": (image, [image] * 3)}
    plot_dense_modes(panels, tmp_path / "d.png", tmp_path / "d.pdf")
    for name in ("c.png", "c.pdf", "d.png", "d.pdf"):
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(ValueError, match="lacks the column"):
        plot_calibration(rows.drop(columns="fd"), scores, tmp_path / "x.png", tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="no per-anchor MCCS"):
        plot_calibration(rows, {"original": [0.1]}, tmp_path / "x.png", tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="uint8 H x W x 3"):
        plot_dense_modes({"g": (image[..., 0], [])}, tmp_path / "x.png", tmp_path / "x.pdf")


# ----- errors ----------------------------------------------------------------------------------


def test_errors_say_what_is_wrong_and_how_to_fix_it(planted, tmp_path):
    _, _, diagnosis = planted
    z, x, mode = diagnosis.sample_latents, diagnosis.sample_features, diagnosis.dense_mode_feature
    normal = NormalPrior(4)
    cases = [
        (lambda: within_radius(mode[:3], x, RADIUS), "same identity descriptor"),
        (lambda: neighbour_counts(x, x, 1.5), r"radius must lie in \[0, 1\]"),
        (lambda: diagnose(x, z[:-1], theta=THETA, radius=RADIUS), "same generated image"),
        (lambda: gaussian_mixture_prior(z, x, mode, RADIUS, n_clusters=len(z) + 1), "exceeds"),
        (lambda: gaussian_mixture_prior(z[:-1], x, mode, RADIUS, n_clusters=3), "row i of both"),
        (
            lambda: gaussian_mixture_prior(z, x, mode, RADIUS, n_clusters=3, covariance="full"),
            "covariance must be",
        ),
        (lambda: rejection_prior(z, x, mode, 0.0, base_prior=normal), "at least 5 latents"),
        (lambda: rejection_prior(z, x, mode, RADIUS, base_prior=NormalPrior(3)), "must draw 4-d"),
        (lambda: rejection_prior(z, x, [mode, mode], RADIUS, base_prior=normal), "one feature"),
        (
            lambda: rejection_prior(z, x, mode, RADIUS, reference_count=0, base_prior=normal),
            "reference_count must be a positive",
        ),
        (lambda: hull_region(np.outer(np.arange(6.0), [1, 2])), "span only 1 direction"),
        (lambda: square_prior(0.5).sample(10, 0), "numpy.random.default_rng"),
        (lambda: normal_gmm().save(tmp_path / "prior.txt"), "must end in .npz"),
        (lambda: load_prior_file(tmp_path / "missing.npz"), "does not exist"),
    ]
    for call, message in cases:
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            call()


def normal_gmm() -> GaussianMixturePrior:
    return GaussianMixturePrior([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [1.0, 1.0])


def test_rejection_sampling_gives_up_with_a_clear_error():
    prior = RejectionPrior(NormalPrior(2), hull_region(SQUARE * 1e3 - 500, 2), 0.0)
    with pytest.raises(RuntimeError, match="kept only 0 of the 10"):
        prior.sample(10, np.random.default_rng(0), max_draws=5000)


def test_prior_files_that_cannot_be_read_fail_clearly(tmp_path):
    bad_kind = tmp_path / "kind.npz"
    np.savez(bad_kind, kind=np.array("flow"), format_version=np.int64(1))
    with pytest.raises(ValueError, match="unknown prior kind 'flow'"):
        load_prior_file(bad_kind)
    missing_key = tmp_path / "key.npz"
    np.savez(missing_key, kind=np.array("gmm"), format_version=np.int64(1))
    with pytest.raises(ValueError, match="lacks the key"):
        load_prior_file(missing_key)
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_prior_file(not_npz)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, kind=np.array([{"a": 1}], dtype=object), format_version=np.int64(1))
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_prior_file(pickled)

    class OwnPrior(NormalPrior):
        kind = "own"

    region = hull_region(SQUARE, 2)
    with pytest.raises(ValueError, match="cannot save a rejection prior"):
        RejectionPrior(OwnPrior(2), region, 0.5).save(tmp_path / "own.npz")
