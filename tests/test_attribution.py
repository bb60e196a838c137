"""Attribution of sample sets (modedrop.attribution, attribution_validation, plots_attribution)
on simulated probes with planted prevalences: known answers that the code has to recover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modedrop.attribution import (
    TABLE_COLUMNS,
    attribute_set,
    attribution_table,
    corrected_prevalence,
)
from modedrop.attribution_validation import VALIDATION_COLUMNS, validation_table
from modedrop.plots_attribution import plot_attribution
from modedrop.probes import cell_labels

SENS, SPEC = 0.9, 0.85


def _probe(true: np.ndarray, rng: np.random.Generator, sens=SENS, spec=SPEC) -> np.ndarray:
    """Predicted bits of a probe with the given sensitivity and specificity."""
    return np.where(true, rng.random(true.shape) < sens, rng.random(true.shape) >= spec)


def _one(n: int, prevalence: float, rng: np.random.Generator):
    """(predicted, true) (n, 1) bits of a set with the given true prevalence."""
    true = (rng.random(n) < prevalence)[:, None]
    return _probe(true, rng), true


def _probabilities(true: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Probe probabilities in [0, 1] whose thresholded bits have sensitivity SENS, spec SPEC."""
    predicted = _probe(true, rng)
    return np.where(predicted, 0.55 + 0.4 * rng.random(true.shape), 0.45 * rng.random(true.shape))


# --- corrected_prevalence -------------------------------------------------------------------


def test_corrected_prevalence_inverts_a_known_confusion():
    rng = np.random.default_rng(0)
    rates = rng.dirichlet(np.ones(8), size=8) + 4 * np.eye(8)
    rates /= rates.sum(axis=1, keepdims=True)
    pi = rng.dirichlet(np.ones(8))
    assert np.allclose(corrected_prevalence(rates.T @ pi, rates), pi, atol=1e-9)


def test_corrected_prevalence_is_rogan_gladen_for_one_attribute():
    rates = np.array([[SPEC, 1 - SPEC], [1 - SENS, SENS]])
    for p in (0.2, 0.4, 0.7):
        expected = (p + SPEC - 1) / (SENS + SPEC - 1)
        estimate = corrected_prevalence(np.array([1 - p, p]), rates)
        assert estimate[1] == pytest.approx(expected, abs=1e-9)
        assert estimate.sum() == pytest.approx(1.0)


def test_corrected_prevalence_clips_noise_to_a_distribution():
    rates = np.array([[SPEC, 1 - SPEC], [1 - SENS, SENS]])
    # Observed share below the false-positive rate: the plain inverse is negative.
    assert (0.10 + SPEC - 1) / (SENS + SPEC - 1) < 0
    estimate = corrected_prevalence(np.array([0.9, 0.1]), rates)
    assert np.allclose(estimate, [1.0, 0.0], atol=1e-9)
    high = corrected_prevalence(np.array([0.02, 0.98]), rates)
    assert np.allclose(high, [0.0, 1.0], atol=1e-9)


# --- attribute_set --------------------------------------------------------------------------


def test_attribute_set_recovers_a_dropped_value():
    rng = np.random.default_rng(1)
    sample, _ = _one(2000, 0.0, rng)
    test_pred, test_true = _one(4000, 0.5, rng)
    baseline, _ = _one(2000, 0.4, rng)
    table = attribute_set(sample, test_pred, test_true, baseline, seed=3)
    assert list(table["cell"]) == ["a0=-1", "a0=+1"]
    plus = table.iloc[1]
    assert plus["observed"] > 0.1  # the probe's false positives
    assert abs(plus["estimate"]) < 0.05
    assert plus["ci_low"] <= 0 <= plus["ci_high"]
    assert plus["ci_high"] < 0.4
    assert plus["p_value"] < 1e-20
    assert np.allclose(table["estimate"].sum(), 1.0)


def test_attribute_set_ci_coverage_is_near_nominal():
    rng = np.random.default_rng(7)
    covered = 0
    for i in range(200):
        sample, _ = _one(1000, 0.3, rng)
        test_pred, test_true = _one(600, 0.5, rng)
        row = attribute_set(sample, test_pred, test_true, sample, n_boot=400, seed=i).iloc[1]
        covered += row["ci_low"] <= 0.3 <= row["ci_high"]
    assert 0.90 <= covered / 200 <= 0.99


def test_a_perfect_probe_on_an_empty_cell_still_gives_an_interval():
    """Observed 0 of 150 with a probe that made no error on its test rows: the point estimate is
    0, and the interval reaches above 0 (a true share of 1 % would often show 0 of 150)."""
    rng = np.random.default_rng(2)
    sample = np.zeros((150, 1), dtype=bool)
    test_true = (rng.random(500) < 0.4)[:, None]
    baseline = (rng.random(800) < 0.3)[:, None]
    row = attribute_set(sample, test_true, test_true, baseline, seed=0).iloc[1]
    assert row["estimate"] == 0 and row["ci_low"] == 0
    assert 0.001 < row["ci_high"] < 0.05


def test_attribute_set_is_deterministic_and_orders_cells():
    rng = np.random.default_rng(2)
    true = rng.random((3000, 3)) < 0.5
    predicted = _probe(true, rng)
    sample = _probe(rng.random((800, 3)) < 0.5, rng)
    a = attribute_set(sample, predicted, true, sample[:400], n_boot=200, seed=5)
    b = attribute_set(sample, predicted, true, sample[:400], n_boot=200, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 8
    assert a["cell"].iloc[5] == "a0=+1,a1=-1,a2=+1"
    assert (a["ci_low"] <= a["estimate"] + 1e-12).all()
    assert (a["estimate"] <= a["ci_high"] + 1e-12).all()


# --- attribution_table ----------------------------------------------------------------------

ATTRIBUTES = ["Dropped", "Over", "Null", "Weak"]


def _study(rng: np.random.Generator, n=1500):
    prevalence_set = np.array([0.0, 0.75, 0.4, 0.5])
    prevalence_base = np.array([0.4, 0.4, 0.4, 0.5])
    set_true = rng.random((n, 4)) < prevalence_set
    base_true = rng.random((n, 4)) < prevalence_base
    test_true = rng.random((3000, 4)) < 0.5
    return (
        _probabilities(set_true, rng),
        _probabilities(test_true, rng),
        test_true,
        _probabilities(base_true, rng),
    )


def test_attribution_table_names_planted_shifts():
    rng = np.random.default_rng(11)
    sample, test, labels, baseline = _study(rng)
    groups = {"pair": ["Dropped", "Null"], "weak_pair": ["Null", "Weak"]}
    table = attribution_table(
        sample,
        test,
        labels,
        baseline,
        ATTRIBUTES,
        measurable={"Dropped": True, "Over": True, "Null": True, "Weak": False},
        groups=groups,
        n_boot=300,
        seed=4,
    )
    assert list(table.columns) == TABLE_COLUMNS
    rows = table.set_index("feature")
    assert rows.loc["Dropped", "named"] == "under"
    assert rows.loc["Over", "named"] == "over"
    assert rows.loc["Null", "named"] == ""
    assert rows.loc["Dropped", "estimate"] < 0.05
    assert rows.loc["Over", "ratio"] == pytest.approx(0.75 / 0.4, rel=0.15)
    # Unmeasurable: reported with NaN statistics, not tested.
    assert not rows.loc["Weak", "measurable"]
    assert np.isnan(rows.loc["Weak", ["estimate", "p_value", "p_holm"]].astype(float)).all()
    weak = table[table["group"] == "weak_pair"]
    assert len(weak) == 4 and not weak["measurable"].any() and weak["estimate"].isna().all()
    # Groups: 2^k cells in cell_labels order; the dropped cells are named under.
    pair = table[table["group"] == "pair"]
    assert list(pair["feature"]) == cell_labels(["Dropped", "Null"])
    assert (pair["kind"] == "combination").all()
    assert set(pair.loc[pair["feature"].str.startswith("Dropped=+1"), "named"]) == {"under"}
    # Holm over every measurable row.
    measured = table[table["measurable"]]
    assert (measured["p_holm"] >= measured["p_value"] - 1e-15).all()
    assert measured["p_holm"].notna().all()


def test_an_emptied_combination_is_named_under_even_when_predicted_more_often():
    """Every image of the set is (A+, B+); A's probe misses 40 % of A+, so the set's images
    are *predicted* (A-, B+) more often (0.40) than the uniform baseline's (0.325). The test
    sees the difference; the side named is the corrected estimate's (about 0 < 0.25)."""
    rng = np.random.default_rng(4)

    def probabilities(true):
        a = np.where(true[:, 0], rng.random(len(true)) < 0.6, rng.random(len(true)) >= 0.9)
        return np.column_stack([a, true[:, 1]]).astype(float) * 0.8 + 0.1

    set_true = np.ones((2000, 2), dtype=bool)
    base_true = rng.random((4000, 2)) < 0.5
    test_true = rng.random((4000, 2)) < 0.5
    table = attribution_table(
        probabilities(set_true),
        probabilities(test_true),
        test_true,
        probabilities(base_true),
        ["A", "B"],
        measurable=[True, True],
        groups={"pair": ["A", "B"]},
        n_boot=200,
    )
    cell = table.set_index("feature").loc["A=-1,B=+1"]
    assert cell["observed"] > cell["baseline_observed"]
    assert cell["estimate"] < 0.05 and cell["named"] == "under"


def test_attribution_table_baseline_prevalence_and_stable_streams():
    rng = np.random.default_rng(12)
    sample, test, labels, baseline = _study(rng)
    measurable = np.array([True, True, True, False])
    known = {"Dropped": 0.4, "Over": 0.4, "Null": 0.4}
    plain = attribution_table(
        sample,
        test,
        labels,
        baseline,
        ATTRIBUTES,
        measurable=measurable,
        n_boot=200,
        baseline_prevalence=known,
    )
    grouped = attribution_table(
        sample,
        test,
        labels,
        baseline,
        ATTRIBUTES,
        measurable=measurable,
        n_boot=200,
        baseline_prevalence=known,
        groups={"pair": ["Over", "Null"]},
    )
    attribute_rows = grouped[grouped["kind"] == "attribute"].reset_index(drop=True)
    # Adding a group changes no attribute's bootstrap (only the Holm family grows).
    pd.testing.assert_frame_equal(
        attribute_rows.drop(columns=["p_holm", "named"]),
        plain.drop(columns=["p_holm", "named"]),
    )
    assert np.allclose(plain["baseline_prevalence"].iloc[:3], 0.4)
    assert plain["ratio"].iloc[0] == pytest.approx(plain["estimate"].iloc[0] / 0.4)
    # Without labels, the baseline prevalence is the baseline set's corrected estimate (~0.4).
    estimated = attribution_table(
        sample, test, labels, baseline, ATTRIBUTES, measurable=measurable, n_boot=50
    )
    assert np.allclose(estimated["baseline_prevalence"].iloc[:3], 0.4, atol=0.05)


def test_attribution_table_rejects_bad_inputs():
    rng = np.random.default_rng(13)
    sample, test, labels, baseline = _study(rng, n=200)
    flags = np.ones(4, dtype=bool)

    def call(**changes):
        args = dict(
            set_probabilities=sample,
            test_probabilities=test,
            test_labels=labels,
            baseline_probabilities=baseline,
            attributes=ATTRIBUTES,
            measurable=flags,
            n_boot=20,
        )
        args.update(changes)
        return attribution_table(**args)

    with pytest.raises(ValueError, match="set_probabilities must be probabilities"):
        call(set_probabilities=sample * 2)
    with pytest.raises(ValueError, match="baseline_probabilities has 3 columns"):
        call(baseline_probabilities=baseline[:, :3])
    with pytest.raises(ValueError, match="set_probabilities has shape"):
        call(set_probabilities=sample[:0])
    with pytest.raises(ValueError, match="test_labels has 10 rows"):
        call(test_labels=labels[:10])
    with pytest.raises(ValueError, match="test_labels must be a 2-D boolean"):
        call(test_labels=labels.astype(int))
    with pytest.raises(ValueError, match="measurable must be a boolean"):
        call(measurable=flags[:3])
    with pytest.raises(ValueError, match=r"groups\['g'\]"):
        call(groups={"g": ["Dropped", "Nope"]})
    with pytest.raises(ValueError, match="baseline_prevalence has no entry"):
        call(baseline_prevalence={"Dropped": 0.4})
    with pytest.raises(ValueError, match="set_bits is empty"):
        attribute_set(np.zeros((0, 1), bool), labels[:, :1], labels[:, :1], labels[:, :1])
    with pytest.raises(ValueError, match="test_true_bits has no image"):
        attribute_set(labels[:, :1], labels[:5, :1], np.zeros((5, 1), bool), labels[:, :1])
    with pytest.raises(ValueError, match="test_predicted_bits .* must have the same shape"):
        attribute_set(labels[:, :1], labels[:5, :1], labels[:, :1], labels[:, :1])
    with pytest.raises(ValueError, match="baseline_bits has 2 attribute columns"):
        attribute_set(labels[:, :1], labels[:, :1], labels[:, :1], labels[:, :2])
    with pytest.raises(ValueError, match="observed must hold"):
        corrected_prevalence(np.array([0.5, 0.6]), np.eye(2))
    with pytest.raises(ValueError, match="rates must have shape"):
        corrected_prevalence(np.array([0.5, 0.5]), np.eye(3))


# --- validation_table -----------------------------------------------------------------------


def _row(
    experiment,
    condition,
    seed,
    feature,
    true,
    base,
    ci,
    named,
    kind="attribute",
    group="",
    measurable=True,
):
    return {
        "encoder": "enc",
        "experiment": experiment,
        "condition": condition,
        "seed": seed,
        "feature": feature,
        "kind": kind,
        "group": group,
        "measurable": measurable,
        "estimate": np.nan if not measurable else float(np.mean(ci)),
        "ci_low": np.nan if not measurable else ci[0],
        "ci_high": np.nan if not measurable else ci[1],
        "named": named,
        "true_prevalence": true,
        "baseline_true_prevalence": base,
    }


def _validation_rows() -> pd.DataFrame:
    rows = [
        # Experiment A drops A=+1: covered in seed 0 only, named under in both seeds.
        _row("A", "target", 0, "A", 0.0, 0.5, (0.0, 0.03), "under"),
        _row("A", "target", 0, "B", 0.5, 0.5, (0.4, 0.6), ""),
        _row("A", "target", 1, "A", 0.0, 0.5, (0.01, 0.05), "under"),
        _row("A", "target", 1, "B", 0.5, 0.5, (0.55, 0.6), "over"),
        _row("A", "target", 0, "A=-1", 1.0, 0.5, (0.97, 1.0), "over", "combination", "A"),
        _row("A", "target", 0, "A=+1", 0.0, 0.5, (0.0, 0.03), "under", "combination", "A"),
        # A dose with a shift below the threshold in one seed: nothing expected.
        _row("A", "dose25", 0, "A", 0.47, 0.5, (0.4, 0.5), ""),
        _row("A", "dose25", 1, "A", 0.40, 0.5, (0.3, 0.45), "under"),
        # control_random: every non-collapse condition is a null set.
        _row("control_random", "dose50", 0, "A", 0.5, 0.5, (0.3, 0.4), "under"),
        _row("control_random", "dose50", 0, "B", 0.5, 0.5, (0.4, 0.6), ""),
        _row("control_random", "dose50", 1, "A", 0.5, 0.5, (0.4, 0.6), ""),
        _row("control_random", "dose50", 1, "B", 0.5, 0.5, (0.4, 0.6), "", measurable=False),
        _row("control_random", "collapse25", 0, "A", 0.5, 0.5, (0.4, 0.6), "over"),
    ]
    return pd.DataFrame(rows)


def test_validation_table_counts():
    targets = {"A": ["A"], "control_random": ["Random"]}
    table = validation_table(_validation_rows(), targets, alpha=0.05)
    assert list(table.columns) == VALIDATION_COLUMNS
    key = table.set_index(["experiment", "condition", "kind", "feature"])

    drop = key.loc[("A", "target", "attribute", "A")]
    assert drop["n_seeds"] == 2 and drop["covered"] == 1
    assert drop["expected"] == "under" and drop["role"] == "drop"
    assert drop["named_correctly"] == 2 and drop["named_wrongly"] == 0
    assert drop["planted_shift"] == pytest.approx(-0.5)
    assert ("A", "target", "attribute", "B") not in key.index  # not planted
    cell = key.loc[("A", "target", "combination", "A=-1")]
    assert cell["expected"] == "over" and cell["named_correctly"] == 1

    summary = key.loc[("A", "target", "summary", "ALL")]
    assert summary["rows"] == 4 and summary["covered"] == 2
    assert summary["coverage"] == pytest.approx(0.5)
    assert not summary["null_set"] and np.isnan(summary["false_positives"])

    dose = key.loc[("A", "dose25", "attribute", "A")]
    assert dose["expected"] == "" and dose["role"] == "null"
    assert dose["named_wrongly"] == 1 and dose["named_correctly"] == 0

    null = key.loc[("control_random", "dose50", "summary", "ALL")]
    assert null["null_set"] and null["role"] == "null"
    assert null["rows"] == 3 and null["covered"] == 2
    assert null["false_positives"] == 1
    assert null["false_positive_rate"] == pytest.approx(1 / 3)
    assert null["sets_with_false_positive"] == 1
    assert null["set_false_positive_rate"] == pytest.approx(0.5)
    assert null["expected_level"] == pytest.approx(0.05)
    assert not key.loc[("control_random", "collapse25", "summary", "ALL"), "null_set"]
    # Conditions in the study's order: target before dose25.
    conditions = list(table.loc[table["experiment"] == "A", "condition"].drop_duplicates())
    assert conditions == ["target", "dose25"]


def test_validation_table_rejects_bad_rows():
    rows = _validation_rows()
    with pytest.raises(ValueError, match="rows lack column"):
        validation_table(rows.drop(columns="true_prevalence"), {"A": ["A"]})
    with pytest.raises(ValueError, match="targets has no entry"):
        validation_table(rows, {"A": ["A"]})
    with pytest.raises(ValueError, match="repeat the same feature"):
        validation_table(pd.concat([rows, rows.iloc[:1]]), {"A": ["A"], "control_random": []})


# --- plot_attribution -----------------------------------------------------------------------


def test_plot_attribution_writes_files(tmp_path):
    rng = np.random.default_rng(21)
    sample, test, labels, baseline = _study(rng, n=400)
    table = attribution_table(
        sample,
        test,
        labels,
        baseline,
        ATTRIBUTES,
        measurable=np.array([True, True, True, False]),
        groups={"pair": ["Dropped", "Null"]},
        n_boot=50,
    )
    png, pdf = tmp_path / "a" / "attr.png", tmp_path / "a" / "attr.pdf"
    plot_attribution(table, "sample set vs reference", png, pdf)
    assert png.stat().st_size > 1000 and pdf.stat().st_size > 1000
    only = table[table["kind"] == "attribute"]
    plot_attribution(only, "attributes only", tmp_path / "b.png", tmp_path / "b.pdf")
    assert (tmp_path / "b.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="table lacks column"):
        plot_attribution(only.drop(columns="ratio"), "x", tmp_path / "c.png", tmp_path / "c.pdf")
