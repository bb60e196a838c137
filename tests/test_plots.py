"""Figures are written, non-empty and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.known_rank import known_rank_study
from modedrop.plots import condition_tick_label, plot_known_rank, plot_metric_panels

LABELS = {"rankme": "RankMe", "inception_score": "Inception Score"}


def _long():
    rng = np.random.default_rng(0)
    rows = []
    for metric, base in [("rankme", 300.0), ("inception_score", 2.5)]:
        for cond, shift in [("unbiased", 0.0), ("target", -0.05), ("nontarget", -0.03)]:
            for seed in range(1, 6):
                value = base * (1 + shift + 0.01 * rng.standard_normal())
                rows.append(("celeba", "male", "vicreg", metric, cond, seed, value))
    return pd.DataFrame(
        rows,
        columns=["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"],
    )


def test_metric_panels_written_and_deterministic(tmp_path):
    paths = []
    for i in range(2):
        png, pdf = tmp_path / f"p{i}.png", tmp_path / f"sub{i}" / "p.pdf"
        plot_metric_panels(
            _long(),
            experiment="male",
            encoder="vicreg",
            attributes=["Male"],
            metric_labels=LABELS,
            png_path=png,
            pdf_path=pdf,
        )
        assert png.stat().st_size > 5000 and pdf.stat().st_size > 1000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert pdf.read_bytes()[:4] == b"%PDF"
        paths.append((png, pdf))
    assert paths[0][0].read_bytes() == paths[1][0].read_bytes()
    assert paths[0][1].read_bytes() == paths[1][1].read_bytes()


def test_metric_panels_unknown_pair_raises(tmp_path):
    with pytest.raises(ValueError, match="Available"):
        plot_metric_panels(
            _long(),
            experiment="nope",
            encoder="vicreg",
            attributes=["Male"],
            metric_labels=LABELS,
            png_path=tmp_path / "x.png",
            pdf_path=tmp_path / "x.pdf",
        )


def test_tick_labels():
    assert condition_tick_label("target", ["Male"]) == "target\n(Male = +1)"
    assert condition_tick_label("nontarget", ["Male"]) == "nontarget\n(Male = \u22121)"
    assert "8" in condition_tick_label("unbiased", ["A", "B", "C"])


def test_known_rank_plot(tmp_path):
    df = known_rank_study(ranks=[4, 8], dim=16, n_samples=[16, 64, 256], repeats=2, seed=0)
    png, pdf = tmp_path / "kr.png", tmp_path / "kr.pdf"
    plot_known_rank(df, png, pdf)
    assert png.stat().st_size > 5000 and pdf.stat().st_size > 1000


def test_image_sample_grid(tmp_path):
    from PIL import Image

    from modedrop.plots import plot_image_sample

    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    for name in names:
        Image.new("RGB", (24, 30), (200, 100, 50)).save(tmp_path / name)
    table = pd.DataFrame({"Male": [1, -1] * 3, "Young": [1] * 6}, index=names)
    png, pdf = tmp_path / "s.png", tmp_path / "s.pdf"
    plot_image_sample(tmp_path, table, png, pdf, n=4, columns=2, label_attributes=("Male", "Young"))
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    with pytest.raises(ValueError, match="positive"):
        plot_image_sample(tmp_path, table, png, pdf, n=0)
