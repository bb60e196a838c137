"""Fit the CelebA attribute statistics that the synthetic ``synthfaces`` generator embeds.

Users' machines do not have CelebA, so the package ships *statistics* of its attribute file,
not data: per-attribute prevalence, a latent Gaussian-copula (tetrachoric) correlation matrix,
and per-attribute identity persistence (how strongly two images of one person agree). This
module recomputes them from the official metadata files::

    python -m modedrop.data.fit_celeba_stats /path/to/celeba -o workflow/modedrop/data/celeba_stats.json

It runs in a few seconds: the bivariate-normal orthant probabilities are evaluated for all
pairs at once by Gauss-Legendre quadrature and the tetrachoric correlations found by a
vectorised bisection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from modedrop.data.celeba_format import (
    ATTRIBUTE_FILE,
    ATTRIBUTE_NAMES,
    CELEBA_MD5,
    IDENTITY_FILE,
    md5sum,
    read_attributes,
    read_identities,
)

__all__ = [
    "bivariate_normal_cdf",
    "fit_stats",
    "identity_persistence",
    "main",
    "nearest_correlation",
    "tetrachoric",
    "to_json",
]

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)
_RHO_MAX = 0.9999
_DECIMALS = 4


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X <= h, Y <= k) for standard bivariate normals with correlation ``rho`` (broadcast).

    Uses Sheppard's formula Φ2 = Φ(h)Φ(k) + 1/(2π) ∫_0^{asin ρ} exp(-(h²-2hk sinθ+k²)/(2cos²θ)) dθ;
    the substitution r = sin θ removes the 1/sqrt(1-r²) singularity, so 48 Gauss-Legendre nodes
    give ~1e-10 accuracy for |ρ| <= 0.9999 (checked against scipy in the tests).
    """
    h, k, rho = np.broadcast_arrays(*(np.asarray(x, float) for x in (h, k, rho)))
    upper = np.arcsin(np.clip(rho, -1.0, 1.0))
    theta = 0.5 * upper[..., None] * (_NODES + 1.0)
    sin, cos2 = np.sin(theta), np.cos(theta) ** 2
    hh, kk = h[..., None], k[..., None]
    integrand = np.exp(-(hh**2 - 2 * hh * kk * sin + kk**2) / (2 * cos2))
    integral = 0.5 * upper * (integrand @ _WEIGHTS)
    return ndtr(h) * ndtr(k) + integral / (2 * np.pi)


def tetrachoric(
    p_i: np.ndarray, p_j: np.ndarray, p_11: np.ndarray, iterations: int = 60
) -> np.ndarray:
    """Latent correlation ρ with P(Z_i > t_i, Z_j > t_j) = p_11, where t = Φ⁻¹(1 - p).

    The orthant probability increases monotonically in ρ, so a vectorised bisection on
    [-0.9999, 0.9999] solves all pairs at once; unattainable p_11 (outside the Fréchet
    bounds, e.g. from sampling noise) end at the nearest bound.
    """
    h, k, target = np.broadcast_arrays(ndtri(p_i), ndtri(p_j), np.asarray(p_11, float))
    lo = np.full(h.shape, -_RHO_MAX)
    hi = np.full(h.shape, _RHO_MAX)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = bivariate_normal_cdf(h, k, mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def nearest_correlation(r: np.ndarray, min_eigenvalue: float = 1e-3) -> np.ndarray:
    """Project a symmetric matrix to a positive-definite correlation matrix.

    Pairwise tetrachoric estimates need not form a valid correlation matrix jointly; clipping
    the eigenvalues at ``min_eigenvalue`` and rescaling to a unit diagonal keeps it positive
    definite (congruence by a positive diagonal preserves definiteness) with a Cholesky factor
    that stays stable after rounding.
    """
    sym = 0.5 * (r + r.T)
    values, vectors = np.linalg.eigh(sym)
    clipped = (vectors * np.maximum(values, min_eigenvalue)) @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(clipped))
    out = clipped * scale[:, None] * scale[None, :]
    np.fill_diagonal(out, 1.0)
    return 0.5 * (out + out.T)


def _latent_correlation(positive: np.ndarray) -> np.ndarray:
    """Tetrachoric correlation matrix of boolean columns (n_images × n_attributes)."""
    x = positive.astype(np.float64)
    p = x.mean(axis=0)
    p_11 = (x.T @ x) / len(x)
    iu = np.triu_indices(len(p), k=1)
    r = np.eye(len(p))
    r[iu] = tetrachoric(p[iu[0]], p[iu[1]], p_11[iu])
    r[iu[::-1]] = r[iu]
    return nearest_correlation(r)


def identity_persistence(positive: pd.DataFrame, identities: pd.Series) -> pd.Series:
    """Tetrachoric correlation of each attribute between two images of the same identity.

    Uses *all* ordered pairs of distinct images within each identity (exact, no sampling): with
    n images of which c are positive, an identity contributes n(n-1) pairs, c(c-1) both
    positive and c(n-1) with a positive first image. Clipped to [0, 1]: identity-level
    attributes (Male) come out near 1, per-image ones (Smiling) near their weak persistence.
    """
    ident = identities.reindex(positive.index)
    if ident.isna().any():
        raise ValueError("every image of the attribute file needs an identity; files disagree.")
    counts = positive.astype(np.int64).groupby(ident.to_numpy()).sum()
    n = ident.value_counts().reindex(counts.index).to_numpy(np.float64)[:, None]
    c = counts.to_numpy(np.float64)
    pairs = (n * (n - 1)).sum()
    p_pair = (c * (n - 1)).sum(axis=0) / pairs
    p_11 = (c * (c - 1)).sum(axis=0) / pairs
    rho = np.clip(tetrachoric(p_pair, p_pair, p_11), 0.0, 1.0)
    return pd.Series(rho, index=positive.columns, name="identity_persistence")


def fit_stats(celeba_dir: str | Path) -> dict:
    """Compute the JSON-ready statistics from ``celeba_dir``'s attribute and identity files."""
    celeba_dir = Path(celeba_dir)
    attrs = read_attributes(celeba_dir / ATTRIBUTE_FILE)[list(ATTRIBUTE_NAMES)]
    identities = read_identities(celeba_dir / IDENTITY_FILE)
    positive = attrs > 0
    prevalence = positive.mean(axis=0)
    corr = _latent_correlation(positive.to_numpy())
    persistence = identity_persistence(positive, identities)
    files = {
        name: {"md5": md5sum(celeba_dir / name), "official_md5": CELEBA_MD5[name]}
        for name in (ATTRIBUTE_FILE, IDENTITY_FILE)
    }
    return {
        "attributes": list(ATTRIBUTE_NAMES),
        "prevalence": {a: round(float(v), _DECIMALS) for a, v in prevalence.items()},
        "identity_persistence": {a: round(float(v), _DECIMALS) for a, v in persistence.items()},
        "correlation": np.round(corr, _DECIMALS).tolist(),
        "source": {
            "note": (
                "Statistics of the official CelebA metadata (Liu et al., ICCV 2015), no data: "
                "prevalence = P(attribute = +1); correlation = tetrachoric (latent Gaussian "
                "copula) correlations projected to the nearest positive-definite correlation "
                "matrix; identity_persistence = tetrachoric correlation of an attribute between "
                "two images of one identity over all same-identity pairs, clipped to [0, 1]. "
                "Regenerate with: python -m modedrop.data.fit_celeba_stats <celeba_dir> -o <json>"
            ),
            "files": files,
            "n_images": int(len(attrs)),
            "n_identities": int(identities.nunique()),
        },
    }


def to_json(stats: dict) -> str:
    """JSON text with one matrix row per line, so the checked-in file stays small and diffable."""
    rows = ",\n  ".join(json.dumps(row) for row in stats["correlation"])
    rest = {k: v for k, v in stats.items() if k != "correlation"}
    text = json.dumps({**rest, "correlation": None}, indent=1)
    return text.replace('"correlation": null', f'"correlation": [\n  {rows}\n ]') + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("celeba_dir", type=Path, help="folder with the CelebA metadata files")
    parser.add_argument("-o", "--output", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    stats = fit_stats(args.celeba_dir)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(to_json(stats))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
