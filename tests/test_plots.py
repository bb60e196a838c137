"""Figures are written, non-empty and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.figure_style import condition_tick_label
from modedrop.known_rank import known_rank_study
from modedrop.plots import plot_known_rank, plot_metric_panels

# The library leaves the backend to its caller; the tests draw headless, into files only.

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


# ---------------------------------------------------------------------------- new figures


def _assert_written(png, pdf):
    assert png.stat().st_size > 5000 and pdf.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:4] == b"%PDF"


def _many_conditions_long(metrics=("rankme", "inception_score"), encoders=("vicreg",)):
    rng = np.random.default_rng(1)
    rows = []
    conditions = ["unbiased", "target", "nontarget", "dose25", "dose50", "dose75"]
    conditions += ["collapse25", "collapse50"]
    for experiment in ("male", "young"):
        for encoder in encoders:
            for metric in metrics:
                for shift, cond in enumerate(conditions):
                    for seed in range(1, 6):
                        value = 10 + 0.3 * shift + 0.1 * rng.standard_normal()
                        rows.append(("celeba", experiment, encoder, metric, cond, seed, value))
    return pd.DataFrame(
        rows,
        columns=["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"],
    )


def test_metric_panels_wrap_and_select_conditions(tmp_path):
    metrics = [f"m{i}" for i in range(5)]  # wraps: two rows of panels
    long = _many_conditions_long(metrics)
    png, pdf = tmp_path / "p.png", tmp_path / "p.pdf"
    kwargs = dict(experiment="male", encoder="vicreg", attributes=["Male"], metric_labels=LABELS)
    plot_metric_panels(long, png_path=png, pdf_path=pdf, **kwargs)  # main three conditions
    _assert_written(png, pdf)
    one = long[long["metric"] == "m0"]
    plot_metric_panels(one, png_path=png, pdf_path=pdf, **kwargs)
    default_size = png.stat().st_size
    plot_metric_panels(
        one, png_path=png, pdf_path=pdf, conditions=["unbiased", "dose50", "target"], **kwargs
    )
    _assert_written(png, pdf)
    assert png.stat().st_size != default_size
    with pytest.raises(ValueError, match="present"):
        plot_metric_panels(long, png_path=png, pdf_path=pdf, conditions=["nope"], **kwargs)


def _detection(encoders=("vicreg",)):
    from modedrop.stats import detection_table

    long = _many_conditions_long(["rankme", "fd", "vendi"], encoders)
    out = detection_table(long, {"rankme": "lower", "fd": "higher", "vendi": "lower"})
    out.loc[0, "hedges_g"] = np.inf  # constant samples
    out.loc[1, "hedges_g"] = -np.inf
    out.loc[2, ["hedges_g", "detected", "wrong_direction"]] = [np.nan, False, False]
    return out


@pytest.mark.parametrize("encoders", [("vicreg",), ("vicreg", "dino", "pixels")])
def test_detection_heatmap_written(tmp_path, encoders):
    from modedrop.plots_detection import plot_detection_heatmap

    detection = _detection(encoders)
    assert detection["detected"].any() and detection["wrong_direction"].any()
    png, pdf = tmp_path / "h.png", tmp_path / "h.pdf"
    plot_detection_heatmap(detection, labels={"fd": "Fréchet distance"}, png_path=png, pdf_path=pdf)
    _assert_written(png, pdf)
    if len(encoders) == 1:
        plot_detection_heatmap(
            detection, labels={}, png_path=png, pdf_path=pdf, conditions=["dose75", "target"]
        )
        _assert_written(png, pdf)


def test_detection_heatmap_errors(tmp_path):
    from modedrop.plots_detection import plot_detection_heatmap

    detection = _detection()
    kwargs = dict(labels={}, png_path=tmp_path / "h.png", pdf_path=tmp_path / "h.pdf")
    with pytest.raises(ValueError, match="empty"):
        plot_detection_heatmap(detection.iloc[:0], **kwargs)
    with pytest.raises(ValueError, match=r"\['hedges_g'\]"):
        plot_detection_heatmap(detection.drop(columns="hedges_g"), **kwargs)
    two = pd.concat([detection, detection.assign(dataset="other")], ignore_index=True)
    with pytest.raises(ValueError, match="several datasets"):
        plot_detection_heatmap(two, **kwargs)
    with pytest.raises(ValueError, match="Several rows"):
        plot_detection_heatmap(pd.concat([detection, detection.iloc[:1]]), **kwargs)
    with pytest.raises(ValueError, match="requested"):
        plot_detection_heatmap(detection, conditions=["nope"], **kwargs)


DOSE = {"unbiased": 0.0, "dose25": 0.25, "dose50": 0.5, "dose75": 0.75, "target": 1.0}


@pytest.mark.parametrize("encoders", [("vicreg",), ("vicreg", "dino")])
def test_response_written(tmp_path, encoders):
    from modedrop.plots_response import plot_response

    long = _many_conditions_long(["rankme", "fd"], encoders)
    png, pdf = tmp_path / "r.png", tmp_path / "r.pdf"
    plot_response(
        long,
        experiment="male",
        x_of=DOSE,
        xlabel="fraction p of the target mode removed",
        labels=LABELS,
        worse={"rankme": "lower", "fd": "higher"},
        png_path=png,
        pdf_path=pdf,
    )
    _assert_written(png, pdf)


def test_response_errors(tmp_path):
    from modedrop.plots_response import plot_response

    long = _many_conditions_long(["rankme", "fd"])
    kwargs = dict(
        xlabel="p", labels=LABELS, png_path=tmp_path / "r.png", pdf_path=tmp_path / "r.pdf"
    )
    worse = {"rankme": "lower", "fd": "higher"}
    with pytest.raises(ValueError, match="No rows for experiment='smiling'"):
        plot_response(long, experiment="smiling", x_of=DOSE, worse=worse, **kwargs)
    with pytest.raises(ValueError, match=r"\['fd'\]"):
        plot_response(long, experiment="male", x_of=DOSE, worse={"rankme": "lower"}, **kwargs)
    with pytest.raises(ValueError, match="x_of is empty"):
        plot_response(long, experiment="male", x_of={}, worse=worse, **kwargs)
    with pytest.raises(ValueError, match="finite"):
        plot_response(long, experiment="male", x_of={"unbiased": np.nan}, worse=worse, **kwargs)


def test_ndb_bins_written_with_100_bins(tmp_path):
    from modedrop.plots_ndb import plot_ndb_bins

    rng = np.random.default_rng(2)
    reference = rng.dirichlet(np.full(100, 3.0))
    evaluated = {
        c: (rng.dirichlet(np.full(100, 3.0)), rng.random(100) < 0.2)
        for c in ("target", "nontarget", "unbiased")
    }
    png, pdf = tmp_path / "n.png", tmp_path / "n.pdf"
    plot_ndb_bins(reference, evaluated, title="NDB: male, vicreg", png_path=png, pdf_path=pdf)
    _assert_written(png, pdf)


@pytest.mark.parametrize(
    ("evaluated", "match"),
    [
        ({}, "evaluated is empty"),
        ({"target": (np.full(9, 0.1), np.zeros(9, bool))}, "9 bins but reference"),
        ({"target": (np.full(10, 0.1), np.zeros(10))}, "boolean array of 10 bins"),
        ({"target": (np.full(10, -0.1), np.zeros(10, bool))}, "non-negative"),
        ({"target": (np.full(10, 0.1),)}, "pair"),
    ],
)
def test_ndb_bins_errors(tmp_path, evaluated, match):
    from modedrop.plots_ndb import plot_ndb_bins

    with pytest.raises(ValueError, match=match):
        plot_ndb_bins(
            np.full(10, 0.1),
            evaluated,
            title="t",
            png_path=tmp_path / "n.png",
            pdf_path=tmp_path / "n.pdf",
        )


def _pairs(n, shape=(12, 10, 3)):
    rng = np.random.default_rng(3)
    return [
        (
            rng.integers(0, 256, shape, dtype=np.uint8),
            rng.integers(0, 256, shape, dtype=np.uint8),
            0.99 - 0.01 * i,
            f"{i:06d}.jpg vs {i + 100:06d}.jpg",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 20])
def test_duplicate_pairs_written(tmp_path, n):
    from modedrop.plots_duplicates import plot_duplicate_pairs

    png, pdf = tmp_path / "d.png", tmp_path / "d.pdf"
    plot_duplicate_pairs(_pairs(n), title="most similar pairs", png_path=png, pdf_path=pdf)
    _assert_written(png, pdf)


def test_duplicate_pairs_errors(tmp_path):
    from modedrop.plots_duplicates import plot_duplicate_pairs

    kwargs = dict(title="t", png_path=tmp_path / "d.png", pdf_path=tmp_path / "d.pdf")
    with pytest.raises(ValueError, match="No pairs"):
        plot_duplicate_pairs([], **kwargs)
    with pytest.raises(ValueError, match="At most 20"):
        plot_duplicate_pairs(_pairs(21), **kwargs)
    with pytest.raises(ValueError, match="uint8 H x W x 3"):
        plot_duplicate_pairs(_pairs(1, shape=(12, 10)), **kwargs)
    bad = [(*_pairs(1)[0][:2], np.nan, "x")]
    with pytest.raises(ValueError, match="non-finite"):
        plot_duplicate_pairs(bad, **kwargs)
    with pytest.raises(ValueError, match=r"\(image_a, image_b, similarity, caption\)"):
        plot_duplicate_pairs([_pairs(1)[0][:3]], **kwargs)
