"""The comparisons of item 3 (benchmarks/bench_peers.py): for each metric, modedrop's function
and its peer package's on the same synthetic mode-dropping features, with the tolerance their
values must agree to; and :func:`ndb_baseline`, the plain NDB of Richardson & Weiss (2018).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

#: torch-fidelity's default ``rng_seed`` (IS shuffling, KID subsets), used on both sides.
SEED = 2020
#: Modes of the synthetic features and how many of them the evaluated set lacks.
MODES, DROPPED = 20, 4
#: The feature dict key the torch-fidelity functions read (any name works; this is Inception's).
LAYER = "2048"
LOGITS = "logits_unbiased"

Values = dict[str, float]


@dataclass(frozen=True)
class Case:
    """One problem size: rows of the evaluated and reference sets, feature width, classes."""

    n_evaluated: int
    n_reference: int
    dim: int
    classes: int = 1000

    @property
    def label(self) -> str:
        return f"{self.n_evaluated} vs {self.n_reference}, D={self.dim}"


@dataclass(frozen=True)
class Settings:
    """Metric parameters of one scale (the study's config where it has them)."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    prdc_k: int = 5
    prdc_block_size: int = 1024
    ndb_bins: int = 100
    ndb_n_init: int = 3
    is_splits: int = 10


@dataclass(frozen=True)
class Comparison:
    """Both sides of one metric on one case, and how closely their values must agree."""

    metric: str
    ours: str
    peer: str
    run_ours: Callable[[], Values]
    run_peer: Callable[[], Values]
    rtol: float
    atol: float
    tolerance: str
    note: str = ""
    #: What bounds the speed-up, added to the note when the goal is missed.
    limit: str = ""
    headline: bool = True


# --- inputs -----------------------------------------------------------------------------------


def mode_features(n: int, dim: int, seed: int, *, dropped: int = 0) -> np.ndarray:
    """n x dim float32 features of a 20-mode mixture, on a 1/32 grid in [0, 31/32].

    The mode centres depend only on ``dim`` (shared by every set); the samples avoid the first
    ``dropped`` modes. Non-negative like post-activation pooled CNN features.
    """
    centres = np.random.default_rng(7919 + dim).uniform(0.0, 0.6, size=(MODES, dim))
    rng = np.random.default_rng(seed)
    labels = rng.integers(dropped, MODES, size=n)
    x = centres[labels] + 0.15 * rng.standard_normal((n, dim))
    return (np.clip(np.round(x * 32.0), 0.0, 31.0) / 32.0).astype(np.float32)


def mode_logits(n: int, classes: int, seed: int, *, dropped_fraction: float = 0.2) -> np.ndarray:
    """n x classes float32 logits: a confident class per row, the first classes never chosen."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(int(classes * dropped_fraction), classes, size=n)
    logits = 2.0 * rng.standard_normal((n, classes))
    logits[np.arange(n), labels] += 6.0
    return logits.astype(np.float32)


# --- the NDB peer -----------------------------------------------------------------------------


def ndb_baseline(
    reference: np.ndarray,
    evaluated: np.ndarray,
    *,
    n_bins: int,
    seed: int = 0,
    n_init: int = 3,
    alpha: float = 0.05,
) -> Values:
    """NDB and JSD (Richardson & Weiss 2018) the straightforward NumPy/scikit-learn way.

    K-means (``n_bins`` clusters, ``random_state=seed``, ``n_init`` restarts) on the reference;
    both sets binned by the fitted model; per bin a pooled two-proportion z-test, two-sided
    p-value ``2 sf(|z|)``, significant below ``alpha``; JSD of the bin proportions (natural log).
    Returns ``{"ndb": count, "jsd": value, "mean_p": mean per-bin p-value}`` (the last checks
    every bin's test, not only those that cross ``alpha``).
    """
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import norm
    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=n_bins, n_init=n_init, random_state=seed).fit(reference)
    n_r, n_e = len(reference), len(evaluated)
    p_r = np.bincount(kmeans.labels_, minlength=n_bins) / n_r
    p_e = np.bincount(kmeans.predict(evaluated), minlength=n_bins) / n_e
    pooled = (n_r * p_r + n_e * p_e) / (n_r + n_e)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_r + 1.0 / n_e))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p_e - p_r) / se  # an empty bin in both sets: 0/0, NaN, never significant
    p_values = 2.0 * norm.sf(np.abs(z))
    return {
        "ndb": float(np.sum(p_values < alpha)),
        "jsd": float(jensenshannon(p_r, p_e) ** 2),  # scipy returns sqrt(JSD)
        "mean_p": float(np.mean(p_values)),
    }


# --- the comparisons --------------------------------------------------------------------------


def _inception_score(case: Case, settings: Settings) -> Comparison:
    import torch
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric

    from modedrop.metrics.inception_score import inception_score

    logits = mode_logits(case.n_evaluated, case.classes, seed=1)
    features = {LOGITS: torch.from_numpy(logits)}

    def ours() -> Values:
        got = inception_score(logits, splits=settings.is_splits, rng_seed=SEED)
        return {"mean": got.mean, "std": got.std}

    def peer() -> Values:
        got = isc_featuresdict_to_metric(
            features, LOGITS, isc_splits=settings.is_splits, rng_seed=SEED, verbose=False
        )
        return {"mean": got["inception_score_mean"], "std": got["inception_score_std"]}

    return Comparison(
        "IS",
        "modedrop inception_score",
        "torch-fidelity 0.4.0 isc_featuresdict_to_metric",
        ours,
        peer,
        rtol=1e-6,
        atol=1e-12,
        tolerance="rtol 1e-6: both float64, sums in another order",
        note=f"{case.n_evaluated} x {case.classes} logits, {settings.is_splits} splits",
        limit=(
            "both sides are a few elementwise passes over N x C float64; the cost is exp, "
            "scalar and single-threaded in numpy on AVX2, vectorised and threaded in torch"
        ),
    )


def _frechet(case: Case, settings: Settings, e: np.ndarray, r: np.ndarray) -> Comparison:
    import torch
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics, fid_statistics_to_metric

    from modedrop.metrics.frechet import frechet_distance

    dict_e, dict_r = {LAYER: torch.from_numpy(e)}, {LAYER: torch.from_numpy(r)}

    def ours() -> Values:
        return {"fd": frechet_distance(e, r)}

    def peer() -> Values:
        stats_e = fid_featuresdict_to_statistics(dict_e, LAYER)
        stats_r = fid_featuresdict_to_statistics(dict_r, LAYER)
        return {
            "fd": fid_statistics_to_metric(stats_e, stats_r, False)["frechet_inception_distance"]
        }

    return Comparison(
        "FD",
        "modedrop frechet_distance",
        "torch-fidelity 0.4.0 fid_featuresdict_to_statistics + fid_statistics_to_metric",
        ours,
        peer,
        rtol=1e-6,
        atol=0.0,
        tolerance="rtol 1e-6: float64 covariances on both sides; the peer's means are float32",
        note="both sets' statistics computed in every call",
        limit=(
            "both sides compute the same two covariances (N D^2 each); ours then a Cholesky "
            "factor and a symmetric eigenvalue problem, the peer a non-symmetric one"
        ),
    )


def _kernel_scale(e: np.ndarray, r: np.ndarray) -> float:
    """The polynomial kernel at the two sets' means: the size of the kernel values summed."""
    mean_e, mean_r = e.mean(axis=0, dtype=np.float64), r.mean(axis=0, dtype=np.float64)
    return float((mean_e @ mean_r / e.shape[1] + 1.0) ** 3)


def _kid(case: Case, settings: Settings, e: np.ndarray, r: np.ndarray) -> Comparison:
    import torch
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric

    from modedrop.metrics.kid import kernel_distance

    dict_e, dict_r = {LAYER: torch.from_numpy(e)}, {LAYER: torch.from_numpy(r)}
    subsets, size = settings.kid_subsets, settings.kid_subset_size

    def ours() -> Values:
        mean, std = kernel_distance(e, r, subsets=subsets, subset_size=size, seed=SEED)
        return {"mean": mean, "std": std}

    def peer() -> Values:
        got = kid_featuresdict_to_metric(
            dict_e,
            dict_r,
            LAYER,
            kid_subsets=subsets,
            kid_subset_size=size,
            rng_seed=SEED,
            verbose=False,
        )
        return {
            "mean": got["kernel_inception_distance_mean"],
            "std": got["kernel_inception_distance_std"],
        }

    scale = _kernel_scale(e, r)
    return Comparison(
        "KID",
        "modedrop kernel_distance",
        "torch-fidelity 0.4.0 kid_featuresdict_to_metric",
        ours,
        peer,
        rtol=1e-5,
        atol=1e-6 * scale,
        tolerance=(
            f"1e-6 x kernel scale ({scale:.3g}) + rtol 1e-5: the peer sums float32 kernel "
            "values (~1e-7 relative rounding of sums whose difference is the KID)"
        ),
        note=f"{subsets} subsets of {size}, same draws (rng_seed {SEED})",
        limit=(
            "the peer's cost is fixed by subsets x subset_size^2; ours forms whole kernel "
            "matrices, (N_e + N_r)^2 / 2 entries, in float64"
        ),
    )


def _prdc(case: Case, settings: Settings, e: np.ndarray, r: np.ndarray) -> Comparison:
    from prdc import compute_prdc

    from modedrop.metrics.prdc import prdc

    k, block_size = settings.prdc_k, settings.prdc_block_size

    def ours() -> Values:
        return prdc(r, e, k=k, block_size=block_size)

    def peer() -> Values:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
            got = compute_prdc(real_features=r, fake_features=e, nearest_k=k)
        return {key: float(value) for key, value in got.items()}

    return Comparison(
        "PRDC",
        "modedrop prdc",
        "prdc 0.2 compute_prdc",
        ours,
        peer,
        rtol=0.0,
        atol=1e-12,
        tolerance="exact: on the 1/32 grid every distance comparison is exact on both sides",
        note=(
            f"k={k}, ours in {block_size}-row tiles (the study's setting); the peer's "
            "pairwise_distances runs 8 joblib threads (its n_jobs=8)"
        ),
        limit=(
            "both are float64 distance products: the peer forms 3 full N x N matrices, ours "
            "the minimum, (N + M)^2 / 2 distances, i.e. at most 1.5x fewer operations"
        ),
    )


def _vendi_peer(x: np.ndarray) -> tuple[str, Callable[[], float]]:
    """The function vendi_score documents for embeddings (as its embedding_vendi_score)."""
    from vendi_score import vendi

    if x.shape[0] >= x.shape[1]:
        return "vendi_score 0.0.3 score_dual (N >= D)", lambda: float(vendi.score_dual(x))
    return "vendi_score 0.0.3 score_X (N < D)", lambda: float(vendi.score_X(x))


def _vendi(case: Case, settings: Settings, e: np.ndarray, *, peer_x: bool = False) -> Comparison:
    from vendi_score import vendi

    from modedrop.metrics.vendi import vendi_score

    if peer_x:
        name, score = "vendi_score 0.0.3 score_X (N x N kernel)", lambda: float(vendi.score_X(e))
    else:
        name, score = _vendi_peer(e)

    return Comparison(
        "Vendi",
        "modedrop vendi_score",
        name,
        lambda: {"vendi": vendi_score(e)},
        lambda: {"vendi": score()},
        rtol=1e-4,
        atol=0.0,
        tolerance="rtol 1e-4: the peer normalises, multiplies and diagonalises in float32",
        note="evaluated set, q = 1; ours float64 (D x D when N > D)",
        limit=(
            "for N >= D the documented peer (score_dual) is the same D x D eigenvalue problem, "
            "in float32; ours is float64, and the eigensolver is most of the time"
        ),
        headline=not peer_x,
    )


def _ndb(case: Case, settings: Settings, e: np.ndarray, r: np.ndarray) -> Comparison:
    from modedrop.metrics.ndb import ndb

    # Ours clusters in float64 whatever it is given; sklearn would cluster float32 input in
    # float32 (other centroids), so both sides get the same float64 arrays.
    e64, r64 = e.astype(np.float64), r.astype(np.float64)
    bins, n_init = settings.ndb_bins, settings.ndb_n_init

    def ours() -> Values:
        got = ndb(r64, e64, n_bins=bins, seed=0, n_init=n_init)
        return {"ndb": float(got.ndb), "jsd": got.jsd, "mean_p": float(got.p_values.mean())}

    def peer() -> Values:
        return ndb_baseline(r64, e64, n_bins=bins, seed=0, n_init=n_init)

    return Comparison(
        "NDB",
        "modedrop ndb",
        "NumPy/scikit-learn NDB (ndb_baseline)",
        ours,
        peer,
        rtol=1e-9,
        atol=0.0,
        tolerance=(
            "rtol 1e-9 (NDB exact; JSD, mean p-value): same K-means fit (seed 0) on float64 "
            "features"
        ),
        note=(
            f"{bins} bins, n_init {n_init}; ours runs K-means on 1 OpenMP thread (bitwise "
            "reproducible), the baseline on the machine's cores"
        ),
        limit="both sides' time is the same scikit-learn K-means fit; the rest is negligible",
    )


def comparisons(metrics: tuple[str, ...], case: Case, settings: Settings) -> Iterator[Comparison]:
    """The comparisons of ``metrics`` on ``case``, inputs generated once per case."""
    e = mode_features(case.n_evaluated, case.dim, seed=1, dropped=DROPPED)
    r = mode_features(case.n_reference, case.dim, seed=2)
    for metric in metrics:
        if metric == "IS":
            yield _inception_score(case, settings)
        elif metric == "FD":
            yield _frechet(case, settings, e, r)
        elif metric == "KID":
            yield _kid(case, settings, e, r)
        elif metric == "PRDC":
            yield _prdc(case, settings, e, r)
        elif metric == "Vendi":
            yield _vendi(case, settings, e)
            if e.shape[0] >= e.shape[1] and case.n_evaluated <= 4096:
                yield _vendi(case, settings, e, peer_x=True)  # the N x N route, for reference
        elif metric == "NDB":
            yield _ndb(case, settings, e, r)
        else:
            raise ValueError(f"unknown metric {metric!r}")
