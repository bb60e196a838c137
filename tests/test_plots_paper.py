"""Haratian's (2024) two-panel figures: RankMe and IS on the encoder's features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.plots_paper import paper_figure, plot_paper_figure

# The library leaves the backend to its caller; the tests draw headless, into files only.

COLUMNS = ["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"]


def _long(metrics=("rankme", "inception_score_features", "inception_score", "fd")):
    """Five seeds of every metric, two experiments and two encoders, plus a dose condition."""
    rng = np.random.default_rng(0)
    base = {"rankme": 300.0, "inception_score_features": 20.0, "inception_score": 2.5, "fd": 9.0}
    rows = []
    for experiment in ("drop_male", "drop_three"):
        for encoder in ("vicreg_resnet50", "dino_resnet50"):
            for metric in metrics:
                for condition, shift in [
                    ("unbiased", 0.0),
                    ("target", -0.05),
                    ("nontarget", -0.03),
                    ("dose50", -0.02),
                ]:
                    for seed in range(1, 6):
                        value = base[metric] * (1 + shift + 0.01 * rng.standard_normal())
                        rows.append(
                            ("synthfaces", experiment, encoder, metric, condition, seed, value)
                        )
    return pd.DataFrame(rows, columns=COLUMNS)


def test_two_panels_with_paper_titles():
    fig = paper_figure(
        _long(),
        experiment="drop_three",
        encoder="vicreg_resnet50",
        attributes=["Attractive", "High_Cheekbones", "Young"],
    )
    try:
        assert len(fig.axes) == 2
        assert [ax.get_title() for ax in fig.axes] == ["VicReg + RankMe", "VicReg + IS"]
        for ax in fig.axes:
            ticks = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
            assert ticks == ["unbiased", "target", "nontarget"]
        title = fig._suptitle.get_text()
        assert "drop_three" in title and "Attractive, High Cheekbones, Young" in title
        # Left panel: one error-bar point per condition at the RankMe means (dose50 left out).
        long = _long()
        rankme = long[
            (long["experiment"] == "drop_three")
            & (long["encoder"] == "vicreg_resnet50")
            & (long["metric"] == "rankme")
        ]
        expected = [
            rankme.loc[rankme["condition"] == c, "value"].mean()
            for c in ("unbiased", "target", "nontarget")
        ]
        means = [line.get_ydata()[0] for line in fig.axes[0].lines if line.get_marker() == "o"]
        assert means == pytest.approx(expected, rel=1e-12)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_written_as_png_and_pdf(tmp_path):
    png, pdf = tmp_path / "paper" / "drop_male_dino_resnet50.png", tmp_path / "x" / "f.pdf"
    plot_paper_figure(
        _long(),
        experiment="drop_male",
        encoder="dino_resnet50",
        attributes=["Male"],
        png_path=png,
        pdf_path=pdf,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_missing_metric_raises(tmp_path):
    with pytest.raises(ValueError, match=r"inception_score_features.*drop_male.*vicreg_resnet50"):
        plot_paper_figure(
            _long(metrics=("rankme", "inception_score")),
            experiment="drop_male",
            encoder="vicreg_resnet50",
            attributes=["Male"],
            png_path=tmp_path / "x.png",
            pdf_path=tmp_path / "x.pdf",
        )
    assert not (tmp_path / "x.png").exists()


def test_unknown_pair_and_missing_condition_raise():
    with pytest.raises(ValueError, match="Available"):
        paper_figure(_long(), experiment="nope", encoder="vicreg_resnet50", attributes=["Male"])
    long = _long()
    long = long[~((long["metric"] == "rankme") & (long["condition"] == "nontarget"))]
    with pytest.raises(ValueError, match=r"'rankme'.*\['nontarget'\]"):
        paper_figure(long, experiment="drop_male", encoder="vicreg_resnet50", attributes=["Male"])
