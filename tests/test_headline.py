"""Headline and null-calibration tables on planted detection / metric tables, and their figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from modedrop.headline import (
    HEADLINE_COLUMNS,
    NULL_CALIBRATION_COLUMNS,
    clopper_pearson_upper,
    headline_table,
    is_null_condition,
    null_calibration_table,
    null_experiments,
)
from modedrop.metrics import OUTPUTS
from modedrop.plots_headline import plot_headline, plot_null_calibration

EXPERIMENTS = {
    "drop_male": ["Male"],
    "drop_three": ["Attractive", "High_Cheekbones", "Young"],
    "control_random": ["Random"],
}
CONDITIONS = ("target", "nontarget", "dose25", "dose50", "dose75", "collapse25", "collapse50")
ALPHA = 0.05

# Planted outcomes: metric -> {(experiment, condition): "detected" | "wrong"}; others: neither.
PLANTED = {
    # Both sides of both drops detected, never the wrong way: notices drops.
    "fd": {
        ("drop_male", "target"): "detected",
        ("drop_male", "nontarget"): "detected",
        ("drop_three", "target"): "detected",
        ("drop_three", "nontarget"): "detected",
        ("drop_male", "dose50"): "detected",
        ("control_random", "collapse25"): "detected",
        ("control_random", "collapse50"): "detected",
    },
    # Only one side of each drop: does not notice drops.
    "rankme": {
        ("drop_male", "target"): "detected",
        ("drop_three", "nontarget"): "detected",
        ("control_random", "target"): "detected",
        ("control_random", "collapse50"): "detected",
    },
    # Both sides of one drop, the other side of the second one moves the better way.
    "vendi": {
        ("drop_male", "target"): "detected",
        ("drop_male", "nontarget"): "detected",
        ("drop_three", "target"): "detected",
        ("drop_three", "nontarget"): "wrong",
        ("control_random", "dose25"): "wrong",
    },
    # Reference-based with a null expectation, never detects.
    "c2st_knn": {},
    "ndb_fraction": {("control_random", "nontarget"): "detected"},
}


def _detection(planted=PLANTED, experiments=EXPERIMENTS, encoder="enc", dataset="d"):
    rows = []
    for metric, outcome in planted.items():
        for experiment in experiments:
            for condition in CONDITIONS:
                state = outcome.get((experiment, condition))
                rows.append(
                    {
                        "dataset": dataset,
                        "experiment": experiment,
                        "encoder": encoder,
                        "metric": metric,
                        "condition": condition,
                        "hedges_g": {"detected": 3.0, "wrong": -3.0}.get(state, 0.1),
                        "detected": state == "detected",
                        "wrong_direction": state == "wrong",
                    }
                )
    return pd.DataFrame(rows)


def _metrics(metrics=tuple(PLANTED), experiments=EXPERIMENTS, seeds=(1, 2, 3)):
    rng = np.random.default_rng(0)
    rows = []
    for metric in metrics:
        for experiment in experiments:
            for condition in ("unbiased", *CONDITIONS):
                for seed in seeds:
                    rows.append(("d", experiment, "enc", metric, condition, seed, rng.random()))
    return pd.DataFrame(
        rows, columns=["dataset", "experiment", "encoder", "metric", "condition", "seed", "value"]
    )


@pytest.fixture
def tables():
    detection, metrics = _detection(), _metrics()
    null = null_calibration_table(detection, metrics, EXPERIMENTS, ALPHA)
    return detection, metrics, null, headline_table(detection, null, EXPERIMENTS)


def _row(table, metric):
    rows = table[table["metric"] == metric]
    assert len(rows) == 1
    return rows.iloc[0]


def test_null_experiments_and_conditions():
    assert null_experiments(EXPERIMENTS) == ["control_random"]
    assert null_experiments({"a": ["Random", "Male"], "b": ("Random",)}) == ["b"]
    assert [is_null_condition(c) for c in ("unbiased", *CONDITIONS)] == [
        *(False, True, True, True, True, True),
        *(False, False),
    ]


def test_clopper_pearson_upper_matches_scipy():
    for n in (1, 5, 12):
        for k in range(n + 1):
            ci = stats.binomtest(k, n, alternative="less").proportion_ci(0.95, method="exact")
            assert clopper_pearson_upper(k, n) == pytest.approx(ci.high, abs=1e-12)
    assert clopper_pearson_upper(0, 5) == pytest.approx(1 - 0.05 ** (1 / 5))
    assert clopper_pearson_upper(5, 5) == 1.0
    assert math.isnan(clopper_pearson_upper(0, 0))


def test_null_rows_exclude_collapse_and_count_fpr(tables):
    _, _, null, _ = tables
    assert list(null.columns) == list(NULL_CALIBRATION_COLUMNS)
    assert (null["n_null"] == 5).all()  # target, nontarget, dose25/50/75; not collapse25/50
    fd = _row(null, "fd")
    assert fd["n_detected"] == 0 and fd["false_positive_rate"] == 0.0  # its collapses ignored
    rankme = _row(null, "rankme")
    assert rankme["n_detected"] == 1 and rankme["false_positive_rate"] == pytest.approx(0.2)
    expected = stats.beta.ppf(0.95, 1 + 1, 5 - 1)
    assert rankme["fpr_upper95"] == pytest.approx(expected)
    ci = stats.binomtest(1, 5, alternative="less").proportion_ci(0.95, method="exact")
    assert rankme["fpr_upper95"] == pytest.approx(ci.high)
    vendi = _row(null, "vendi")
    assert (vendi["n_detected"], vendi["n_wrong_direction"]) == (0, 1)
    assert vendi["wrong_direction_rate"] == pytest.approx(0.2)


def test_rows_in_registry_order(tables):
    _, _, null, headline = tables
    rank = list(OUTPUTS)
    for table in (null, headline):
        order = [rank.index(m) for m in table["metric"]]
        assert order == sorted(order)


def test_unbiased_vs_reference_only_for_reference_outputs(tables):
    _, metrics, null, _ = tables
    rankme, vendi = _row(null, "rankme"), _row(null, "vendi")  # not reference-based
    for row in (rankme, vendi):
        assert pd.isna(row["n_unbiased"]) and pd.isna(row["unbiased_mean"])
        assert pd.isna(row["unbiased_sd"]) and pd.isna(row["null_expectation"])
    for metric, expectation in (("fd", math.nan), ("c2st_knn", 0.5), ("ndb_fraction", ALPHA)):
        row = _row(null, metric)
        values = metrics.loc[
            (metrics["metric"] == metric) & (metrics["condition"] == "unbiased"), "value"
        ]
        assert row["n_unbiased"] == 9  # 3 experiments x 3 seeds
        assert row["unbiased_mean"] == pytest.approx(values.mean())
        assert row["unbiased_sd"] == pytest.approx(np.std(values, ddof=1))
        if math.isnan(expectation):
            assert pd.isna(row["null_expectation"])
        else:
            assert row["null_expectation"] == pytest.approx(expectation)


def test_ndb_alpha_sets_the_ndb_expectation():
    null = null_calibration_table(_detection(), _metrics(), EXPERIMENTS, ALPHA, ndb_alpha=0.01)
    assert _row(null, "ndb_fraction")["null_expectation"] == pytest.approx(0.01)


def test_headline_notices_only_both_sides_without_wrong_direction(tables):
    _, _, _, headline = tables
    assert list(headline.columns) == list(HEADLINE_COLUMNS)
    assert (headline["n_experiments"] == 2).all() and (headline["n_dropped"] == 4).all()
    fd = _row(headline, "fd")
    assert fd["notices_drops"] and fd["n_both_sides"] == 2 and fd["n_detected"] == 4
    assert fd["detected_drops"].split() == [
        "drop_male:target",
        "drop_male:nontarget",
        "drop_three:target",
        "drop_three:nontarget",
    ]
    assert (fd["n_dose"], fd["n_dose_detected"]) == (6, 1)
    assert (fd["n_collapse"], fd["n_collapse_detected"]) == (6, 2)  # null experiment's included
    rankme = _row(headline, "rankme")  # one side of each drop
    assert not rankme["notices_drops"]
    assert (rankme["n_detected"], rankme["n_both_sides"]) == (2, 0)
    assert rankme["undetected_drops"].split() == ["drop_male:nontarget", "drop_three:target"]
    vendi = _row(headline, "vendi")  # both sides of one drop, wrong way on the other
    assert not vendi["notices_drops"]
    assert (vendi["n_detected"], vendi["n_wrong_direction"], vendi["n_both_sides"]) == (3, 1, 1)
    assert vendi["wrong_direction_drops"] == "drop_three:nontarget"
    assert not _row(headline, "c2st_knn")["notices_drops"]


def test_wrong_direction_alone_blocks_notices_drops():
    planted = {"fd": dict(PLANTED["fd"]), "kd": dict(PLANTED["fd"])}
    planted["kd"][("drop_male", "target")] = "wrong"
    planted["kd"][("drop_male", "dose25")] = "wrong"  # doses do not enter n_wrong_direction
    detection = _detection(planted)
    null = null_calibration_table(detection, _metrics(tuple(planted)), EXPERIMENTS, ALPHA)
    headline = headline_table(detection, null, EXPERIMENTS)
    assert _row(headline, "fd")["notices_drops"]
    kd = _row(headline, "kd")
    assert not kd["notices_drops"] and kd["n_wrong_direction"] == 1


def test_missing_drop_experiment_is_not_noticed():
    detection = _detection()
    detection = detection[
        ~((detection["metric"] == "fd") & (detection["experiment"] == "drop_three"))
    ]
    null = null_calibration_table(detection, _metrics(), EXPERIMENTS, ALPHA)
    fd = _row(headline_table(detection, null, EXPERIMENTS), "fd")
    assert (fd["n_experiments"], fd["n_both_sides"], fd["notices_drops"]) == (2, 1, False)


def test_fpr_copied_and_nan_without_null_experiment(tables, tmp_path):
    _, _, null, headline = tables
    path = tmp_path / "null.csv"
    null.to_csv(path, index=False)
    again = headline_table(_detection(), pd.read_csv(path), EXPERIMENTS)
    pd.testing.assert_frame_equal(again, headline)
    for metric in PLANTED:
        assert _row(headline, metric)["fpr_upper95"] == _row(null, metric)["fpr_upper95"]
    assert _row(headline, "rankme")["false_positive_rate"] == pytest.approx(0.2)

    drops = {k: v for k, v in EXPERIMENTS.items() if k != "control_random"}
    detection = _detection(experiments=drops)
    null = null_calibration_table(detection, _metrics(experiments=drops), drops, ALPHA)
    assert (null["n_null"] == 0).all() and null["false_positive_rate"].isna().all()
    assert null["fpr_upper95"].isna().all()
    headline = headline_table(detection, null, drops)
    assert headline["n_null"].isna().all() and headline["fpr_upper95"].isna().all()
    assert _row(headline, "fd")["notices_drops"]


def test_figures_are_written(tables, tmp_path):
    _, _, null, headline = tables
    null.to_csv(tmp_path / "n.csv", index=False)
    headline.to_csv(tmp_path / "h.csv", index=False)
    for name, plot, table, extra in (
        ("null", plot_null_calibration, pd.read_csv(tmp_path / "n.csv"), {"alpha": ALPHA}),
        ("headline", plot_headline, pd.read_csv(tmp_path / "h.csv"), {}),
        ("headline_mem", plot_headline, headline, {}),
    ):
        png, pdf = tmp_path / f"{name}.png", tmp_path / "sub" / f"{name}.pdf"
        plot(table, png, pdf, **extra)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        assert pdf.read_bytes()[:4] == b"%PDF"
    # No output with a null expectation: the second panel says so instead of failing.
    plain = null[~null["metric"].isin(["c2st_knn", "ndb_fraction"])]
    plot_null_calibration(plain, tmp_path / "p.png", tmp_path / "p.pdf", alpha=ALPHA)
    assert (tmp_path / "p.png").stat().st_size > 5000


def test_errors_say_how_to_fix(tables, tmp_path):
    detection, metrics, null, headline = tables
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['detected'\].*detection_table"):
        null_calibration_table(detection.drop(columns="detected"), metrics, EXPERIMENTS, ALPHA)
    with pytest.raises(ValueError, match="detection is empty"):
        null_calibration_table(detection.iloc[:0], metrics, EXPERIMENTS, ALPHA)
    with pytest.raises(ValueError, match="metrics lacks column"):
        null_calibration_table(detection, metrics.drop(columns="seed"), EXPERIMENTS, ALPHA)
    with pytest.raises(ValueError, match="metrics is empty"):
        null_calibration_table(detection, metrics.iloc[:0], EXPERIMENTS, ALPHA)
    with pytest.raises(ValueError, match=r"\['drop_three'\].*not in experiments"):
        null_calibration_table(
            detection, metrics, {k: EXPERIMENTS[k] for k in ("drop_male", "control_random")}, 0.05
        )
    with pytest.raises(ValueError, match="alpha must be in"):
        null_calibration_table(detection, metrics, EXPERIMENTS, 1.5)
    with pytest.raises(ValueError, match="non-empty mapping"):
        null_experiments({})
    with pytest.raises(ValueError, match="list of attribute names"):
        null_experiments({"control": "Random"})
    with pytest.raises(ValueError, match="null_calibration lacks column"):
        headline_table(detection, null.drop(columns="fpr_upper95"), EXPERIMENTS)
    only_null = detection[detection["experiment"] == "control_random"]
    with pytest.raises(ValueError, match="No drop experiment"):
        headline_table(only_null, null, EXPERIMENTS)
    bad = detection.assign(detected=detection["detected"].map({True: "yes", False: "no"}))
    with pytest.raises(ValueError, match="True/False"):
        headline_table(bad, null, EXPERIMENTS)
    two = pd.concat([headline, headline.assign(dataset="other")])
    with pytest.raises(ValueError, match="several datasets"):
        plot_headline(two, tmp_path / "x.png", tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="null calibration table lacks"):
        plot_null_calibration(headline, tmp_path / "x.png", tmp_path / "x.pdf", alpha=ALPHA)
    with pytest.raises(ValueError, match="Malformed entry"):
        plot_headline(
            headline.assign(detected_drops="oops"), tmp_path / "x.png", tmp_path / "x.pdf"
        )
