"""Tests of the attribute probes in ``modedrop.probes`` on planted features with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modedrop.probes import (
    ProbeSet,
    cell_index,
    cell_labels,
    confusion_matrix,
    fit_probes,
    held_out_probabilities,
    probe_table,
)

ATTRIBUTES = ("Male", "Eyeglasses", "Random")
_KIND_OF_PROBES = "modedrop.probes"


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features that are a noisy linear function of two attributes; the third is independent.

    Male has prevalence 0.5 and Eyeglasses 0.2 (skewed); Random (0.5) is drawn independently
    of everything, so no probe can predict it.
    """
    rng = np.random.default_rng(seed)
    labels = rng.random((n, 3)) < np.array([0.5, 0.2, 0.5])
    signed = np.where(labels[:, :2], 1.0, -1.0)
    mixing = np.random.default_rng(100).standard_normal((2, 8))
    features = signed @ mixing + rng.standard_normal((n, 8)) + 5.0
    return features, labels


@pytest.fixture(scope="module")
def planted_split():
    train_x, train_y = planted(600, seed=1)
    test_x, test_y = planted(400, seed=2)
    return train_x, train_y, test_x, test_y


# ----- (1) planted signal and the measurability floor --------------------------------------------


def test_planted_attributes_are_measurable_and_independent_one_is_not(planted_split):
    train_x, train_y, test_x, test_y = planted_split
    probes = fit_probes(train_x, train_y, ATTRIBUTES)
    table = probe_table(probes.predict_proba(test_x), test_y, ATTRIBUTES, n_train=len(train_x))
    assert list(table["attribute"]) == list(ATTRIBUTES)
    rows = table.set_index("attribute")
    for name in ("Male", "Eyeglasses"):
        assert rows.loc[name, "auroc"] > 0.9
        assert bool(rows.loc[name, "measurable"])
        # class_weight="balanced": on the skewed attribute too both error rates are small
        assert rows.loc[name, "sensitivity"] > 0.8
        assert rows.loc[name, "specificity"] > 0.8
        assert rows.loc[name, "brier"] < 0.15
    assert abs(rows.loc["Random", "auroc"] - 0.5) < 0.1
    assert not bool(rows.loc["Random", "measurable"])
    np.testing.assert_allclose(rows["prevalence"].to_numpy(), test_y.mean(axis=0))
    np.testing.assert_allclose(
        rows["youden_j"], rows["sensitivity"] + rows["specificity"] - 1, atol=1e-12
    )
    assert (rows["n_test"] == len(test_x)).all()
    assert (rows["n_train"] == len(train_x)).all()
    assert ((rows["ece"] >= 0) & (rows["ece"] <= 1)).all()


def test_balanced_probe_balances_sensitivity_and_specificity_on_a_rare_attribute():
    # 10 % prevalence, one weakly informative feature: x0 ~ N(y, 1). Balanced weights put the
    # 0.5 threshold near x0 = 0.5, so sensitivity ~ specificity ~ Phi(0.5) ~ 0.69; an unweighted
    # fit would move it to ~0.5 + ln(9) and catch almost no positives.
    rng = np.random.default_rng(5)
    y = rng.random((4000, 1)) < 0.1
    x = rng.standard_normal((4000, 4))
    x[:, 0] += y[:, 0]
    probes = fit_probes(x[:2000], y[:2000], ["Eyeglasses"])
    row = probe_table(probes.predict_proba(x[2000:]), y[2000:], ["Eyeglasses"]).iloc[0]
    assert abs(row["sensitivity"] - row["specificity"]) < 0.15
    assert row["sensitivity"] > 0.55 and row["specificity"] > 0.55


def test_probe_table_hand_checked_values():
    p = np.array([[0.25], [0.25], [0.75], [0.75]])
    y = np.array([[False], [True], [True], [True]])
    row = probe_table(p, y, ["Smiling"]).iloc[0]
    assert row["prevalence"] == pytest.approx(0.75)
    # positive/negative pairs: (0.25 vs 0.25) tie = 1/2, (0.75 vs 0.25) twice = 1 each
    assert row["auroc"] == pytest.approx(2.5 / 3)
    assert row["brier"] == pytest.approx((0.25**2 + 0.75**2 + 0.25**2 + 0.25**2) / 4)
    # bin [0.2, 0.3): |0.5 - 0.25| * 2/4; bin [0.7, 0.8): |1 - 0.75| * 2/4
    assert row["ece"] == pytest.approx(0.25)
    assert row["sensitivity"] == pytest.approx(2 / 3)
    assert row["specificity"] == pytest.approx(1.0)
    assert row["youden_j"] == pytest.approx(2 / 3)
    assert bool(row["measurable"])
    assert not bool(probe_table(p, y, ["Smiling"], min_auroc=0.9).iloc[0]["measurable"])
    assert "n_train" not in probe_table(p, y, ["Smiling"]).columns


def test_probe_table_single_class_attribute_has_nan_auroc_and_is_not_measurable():
    p = np.array([[0.9], [0.8], [0.7]])
    y = np.ones((3, 1), dtype=bool)
    row = probe_table(p, y, ["Young"]).iloc[0]
    assert np.isnan(row["auroc"]) and np.isnan(row["specificity"])
    assert row["sensitivity"] == pytest.approx(1.0)
    assert not bool(row["measurable"])


# ----- (2) agreement with scikit-learn and the file round trip -----------------------------------


def test_predict_proba_matches_sklearn_pipeline_and_survives_save_load(planted_split, tmp_path):
    train_x, train_y, test_x, _ = planted_split
    probes = fit_probes(train_x, train_y, ATTRIBUTES, C=0.5)
    expected = np.column_stack(
        [
            make_pipeline(
                StandardScaler(),
                LogisticRegression(C=0.5, class_weight="balanced", max_iter=1000),
            )
            .fit(train_x, train_y[:, a])
            .predict_proba(test_x)[:, 1]
            for a in range(len(ATTRIBUTES))
        ]
    )
    got = probes.predict_proba(test_x)
    assert got.shape == (len(test_x), 3) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)

    path = tmp_path / "sub" / "probes.npz"
    probes.save(path)
    loaded = ProbeSet.load(path)
    assert loaded.attributes == ATTRIBUTES
    for key in ("mean", "scale", "coef", "intercept"):
        np.testing.assert_allclose(getattr(loaded, key), getattr(probes, key), rtol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(test_x), got, rtol=1e-12)
    # float32 caches give the same probabilities up to float32 rounding
    np.testing.assert_allclose(
        loaded.predict_proba(test_x.astype(np.float32)), got, rtol=1e-4, atol=1e-5
    )
    assert np.load(path, allow_pickle=False)["attributes"].dtype.kind == "U"


# ----- (3) held-out probabilities never come from a probe that saw the identity -----------------


def memorisable(seed: int = 3):
    """Identities with a distinctive feature direction and a random per-identity label.

    ``Memorised`` is random per identity, so only memorising identities predicts it: in-sample
    probabilities are near perfect, held-out ones near chance. ``Real`` is a per-row attribute
    written into feature 0, predictable from any probe.
    """
    rng = np.random.default_rng(seed)
    n_ids, per_id, dim = 120, 4, 160
    centres = 3.0 * rng.standard_normal((n_ids, dim))
    identity = np.repeat(np.arange(n_ids), per_id)
    memorised = np.repeat(rng.random(n_ids) < 0.5, per_id)
    real = rng.random(len(identity)) < 0.4
    features = centres[identity] + 0.5 * rng.standard_normal((len(identity), dim))
    features[:, 0] = np.where(real, 2.0, -2.0) + 0.5 * rng.standard_normal(len(identity))
    labels = np.column_stack([memorised, real])
    partition = np.where(identity < 96, 0, np.where(identity < 108, 1, 2))
    return features, labels, partition, identity


def test_held_out_probabilities_do_not_memorise_identities():
    features, labels, partition, identity = memorisable()
    names = ["Memorised", "Real"]
    probes, probabilities = held_out_probabilities(
        features, labels, names, partition, identity, folds=4, seed=7
    )
    train = partition == 0
    naive = fit_probes(features[train], labels[train], names).predict_proba(features[train])
    assert roc_auc_score(labels[train, 0], naive[:, 0]) > 0.95  # the plant is memorisable
    held = roc_auc_score(labels[train, 0], probabilities[train, 0])
    assert abs(held - 0.5) < 0.2
    assert roc_auc_score(labels[train, 1], probabilities[train, 1]) > 0.9  # real signal kept

    assert probabilities.shape == labels.shape and np.isfinite(probabilities).all()
    np.testing.assert_allclose(
        probabilities[~train], probes.predict_proba(features[~train]), rtol=1e-12
    )
    full = fit_probes(features[train], labels[train], names)
    np.testing.assert_allclose(probes.coef, full.coef, rtol=1e-8, atol=1e-10)
    # out-of-fold rows differ from the full probes' in-sample probabilities
    assert not np.allclose(probabilities[train], probes.predict_proba(features[train]))

    again = held_out_probabilities(features, labels, names, partition, identity, folds=4, seed=7)
    np.testing.assert_allclose(again[1], probabilities, rtol=1e-12)


def test_held_out_probabilities_need_enough_training_identities():
    features, labels, partition, identity = memorisable()
    with pytest.raises(ValueError, match="fewer than folds"):
        held_out_probabilities(
            features, labels, ["M", "R"], np.where(identity < 3, 0, 2), identity, folds=5
        )
    with pytest.raises(ValueError, match="partition.*1-D integer"):
        held_out_probabilities(features, labels, ["M", "R"], partition.astype(float), identity)


def test_an_attribute_no_fold_can_fit_gets_a_constant_unmeasurable_probe():
    """A rare attribute carried by one training identity leaves some fold's training part with
    one class: that attribute predicts its share everywhere, the others are fit as usual."""
    rng = np.random.default_rng(5)
    identity = np.repeat(np.arange(60), 10)
    partition = np.where(identity < 40, 0, 2)
    male = np.repeat(rng.random(60) < 0.5, 10)
    rare = identity == 3  # one training identity, no test row
    features = rng.normal(size=(600, 6)) + 2.0 * male[:, None]
    labels = np.column_stack([male, rare])
    probes, probabilities = held_out_probabilities(
        features, labels, ["Male", "Rare"], partition, identity, folds=4
    )
    assert np.ptp(probabilities[:, 1]) == 0 and not probes.coef[1].any()
    test = partition == 2
    table = probe_table(probabilities[test], labels[test], ["Male", "Rare"])
    assert table["measurable"].tolist() == [True, False]


# ----- (4) cells -------------------------------------------------------------------------------


def test_cell_labels_examples():
    assert cell_labels(["Male"]) == ["Male=-1", "Male=+1"]
    assert cell_labels(("Attractive", "Young")) == [
        "Attractive=-1,Young=-1",
        "Attractive=-1,Young=+1",
        "Attractive=+1,Young=-1",
        "Attractive=+1,Young=+1",
    ]
    assert cell_labels(["Attractive", "High_Cheekbones", "Young"])[5] == (
        "Attractive=+1,High_Cheekbones=-1,Young=+1"
    )


@pytest.mark.parametrize("k", [1, 2, 3])
def test_cell_labels_and_cell_index_round_trip(k):
    names = ["A", "B", "C"][:k]
    labels = cell_labels(names)
    assert len(labels) == 2**k
    bits = np.array(list(itertools.product([False, True], repeat=k)), dtype=bool)
    np.testing.assert_array_equal(cell_index(bits), np.arange(2**k))
    parsed = np.array([[part.endswith("=+1") for part in label.split(",")] for label in labels])
    np.testing.assert_array_equal(parsed, bits)
    shuffled = np.random.default_rng(k).permutation(2**k)
    np.testing.assert_array_equal(cell_index(bits[shuffled]), shuffled)


# ----- (5) confusion matrix ----------------------------------------------------------------------


def test_confusion_matrix_hand_checked_k1():
    true = np.array([[True], [True], [False], [False], [True]])
    predicted = np.array([[True], [False], [False], [False], [True]])
    rates, counts = confusion_matrix(predicted, true)
    np.testing.assert_array_equal(counts, [[2, 0], [1, 2]])
    np.testing.assert_allclose(rates, [[1.0, 0.0], [1 / 3, 2 / 3]])


def test_confusion_matrix_k2_rows_sum_to_one_and_empty_cell_is_identity():
    # true cells 0, 1, 3, 3 (cell 2 = (+1, -1) absent); predicted cells 0, 3, 3, 1
    true = np.array([[0, 0], [0, 1], [1, 1], [1, 1]], dtype=bool)
    predicted = np.array([[0, 0], [1, 1], [1, 1], [0, 1]], dtype=bool)
    rates, counts = confusion_matrix(predicted, true)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = expected[1, 3] = expected[3, 3] = expected[3, 1] = 1
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == len(true)
    np.testing.assert_allclose(rates.sum(axis=1), 1.0)
    np.testing.assert_allclose(rates[2], [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_allclose(rates[3], [0.0, 0.5, 0.0, 0.5])


# ----- (6) bad input -----------------------------------------------------------------------------


def test_bad_inputs_say_what_to_fix(planted_split, tmp_path):
    train_x, train_y, _, _ = planted_split
    with pytest.raises(ValueError, match="same images"):
        fit_probes(train_x[:-1], train_y, ATTRIBUTES)
    with pytest.raises(ValueError, match="boolean.*== 1"):
        fit_probes(train_x, np.where(train_y, 1, -1), ATTRIBUTES)
    with pytest.raises(ValueError, match="one column per named attribute"):
        fit_probes(train_x, train_y, ATTRIBUTES[:2])
    single = train_y.copy()
    single[:, 1] = False
    with pytest.raises(ValueError, match="Eyeglasses.*single class"):
        fit_probes(train_x, single, ATTRIBUTES)
    with pytest.raises(ValueError, match="repeats"):
        fit_probes(train_x, train_y, ["Male", "Male", "Random"])
    with pytest.raises(ValueError, match="C "):
        fit_probes(train_x, train_y, ATTRIBUTES, C=0)

    probes = fit_probes(train_x, train_y, ATTRIBUTES)
    with pytest.raises(ValueError, match="encoder layer"):
        probes.predict_proba(train_x[:, :4])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        probe_table(np.full((3, 3), 1.5), train_y[:3], ATTRIBUTES)
    with pytest.raises(ValueError, match="same images"):
        probe_table(np.full((3, 3), 0.5), train_y[:4], ATTRIBUTES)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(train_y[:5, :2], train_y[:4, :2])
    with pytest.raises(ValueError, match="boolean"):
        cell_index(np.array([[1, 0]]))

    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    array = tmp_path / "array.npy"
    np.save(array, np.ones(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, kind=np.array([_KIND_OF_PROBES, None], dtype=object))
    for path in (text, foreign, array, pickled):
        with pytest.raises(ValueError, match="ProbeSet.save"):
            ProbeSet.load(path)
    future = tmp_path / "future.npz"
    np.savez(future, kind=np.array(_KIND_OF_PROBES), format_version=np.int64(99))
    with pytest.raises(ValueError, match="format version 99"):
        ProbeSet.load(future)
    with pytest.raises(FileNotFoundError, match="ProbeSet.save"):
        ProbeSet.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"\.npz"):
        probes.save(tmp_path / "probes.pkl")
