"""Classifier two-sample test: planted null / separated cases, balancing, determinism, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from modedrop.metrics.c2st import C2STResult, classifier_two_sample_test

CLASSIFIERS = ["logistic", "knn"]


def gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_same_distribution_is_at_chance(classifier):
    accuracies, p_values = [], []
    for seed in range(3):
        result = classifier_two_sample_test(
            gaussian(400, 100, seed), gaussian(400, 100, 100 + seed), classifier=classifier
        )
        accuracies.append(result.accuracy)
        p_values.append(result.p_value)
        assert 0.44 <= result.accuracy <= 0.56
    assert min(p_values) > 0.01


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_separated_distributions_are_detected(classifier):
    # A 0.5-sd shift in every one of 100 dimensions: a linear direction separates them easily.
    result = classifier_two_sample_test(
        gaussian(400, 100, 0, shift=0.5), gaussian(400, 100, 1), classifier=classifier
    )
    assert result.accuracy > 0.9
    assert result.p_value < 1e-6


def test_dropped_mode_is_detected_by_knn():
    # Reference: two clusters; evaluated: only one of them (a dropped mode). The reference half
    # in the missing cluster is always recognised, the shared cluster holds evaluated samples 2:1,
    # so the Bayes accuracy is 3/4 and a 5-NN vote gets ~0.65-0.75.
    rng = np.random.default_rng(2)
    centers = np.zeros((2, 20))
    centers[1, 0] = 20.0
    reference = centers[rng.integers(0, 2, 600)] + rng.standard_normal((600, 20))
    evaluated = centers[0] + rng.standard_normal((600, 20))
    result = classifier_two_sample_test(evaluated, reference, classifier="knn", pca_components=None)
    assert 0.6 <= result.accuracy <= 0.8
    assert result.p_value < 1e-6


def test_p_value_is_the_one_sided_binomial_tail():
    result = classifier_two_sample_test(gaussian(150, 10, 3, 0.3), gaussian(150, 10, 4), folds=3)
    n_correct = round(result.accuracy * 300)
    assert result.accuracy == n_correct / 300
    expected = binomtest(n_correct, 300, 0.5, alternative="greater").pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-12)


def test_unbalanced_sizes_are_subsampled():
    result = classifier_two_sample_test(gaussian(90, 8, 5), gaussian(700, 8, 6))
    assert result.n_per_class == 90
    result = classifier_two_sample_test(gaussian(500, 8, 5), gaussian(60, 8, 6), classifier="knn")
    assert result.n_per_class == 60


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_deterministic_for_a_seed(classifier):
    evaluated, reference = gaussian(300, 200, 7, 0.05), gaussian(500, 200, 8)
    runs = [
        classifier_two_sample_test(evaluated, reference, classifier=classifier, seed=s)
        for s in (11, 11, 12)
    ]
    assert runs[0] == runs[1]
    assert isinstance(runs[0], C2STResult)
    assert json.loads(json.dumps(runs[0].to_dict())) == runs[0].to_dict()
    assert runs[0].to_dict()["classifier"] == classifier


def test_pca_options():
    evaluated, reference = gaussian(120, 30, 9, 0.4), gaussian(120, 30, 10)
    # More components than features or fold rows: clipped / skipped, no error.
    for components in (None, 5, 30, 1000):
        result = classifier_two_sample_test(evaluated, reference, pca_components=components)
        assert result.accuracy > 0.8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"classifier": "svm"}, "Unknown classifier 'svm'"),
        ({"folds": 1}, "folds must be an integer >= 2"),
        ({"folds": 10}, "needs at least 10 rows in each set"),
        ({"pca_components": 0}, "pca_components must be"),
        ({"n_neighbors": 0}, "n_neighbors must be"),
        ({"classifier": "knn", "n_neighbors": 50}, "n_neighbors=50 exceeds"),
        ({"n_threads": 0}, "n_threads must be"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        classifier_two_sample_test(gaussian(8, 3, 0), gaussian(20, 3, 1), **kwargs)


def test_bad_features():
    good = gaussian(20, 3, 0)
    with pytest.raises(ValueError, match="evaluated has 4 features but reference has 3"):
        classifier_two_sample_test(gaussian(20, 4, 1), good)
    with pytest.raises(ValueError, match="2-D reference"):
        classifier_two_sample_test(good, good[:, 0])
    with pytest.raises(ValueError, match=r"NaN or infinity \(first at row 2\)"):
        bad = good.copy()
        bad[2, 1] = np.nan
        classifier_two_sample_test(bad, good)


def test_classifiers_sharing_folds_equal_their_own_cross_validated_pipelines():
    # The study scores both classifiers from one subsample, one split and one projection per
    # fold; each must equal its own pipeline run through sklearn's cross_val_predict.
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modedrop.metrics.c2st import classifier_two_sample_tests

    evaluated = gaussian(150, 40, 7, shift=0.15).astype(np.float32)
    reference = gaussian(150, 40, 8).astype(np.float32)
    results = classifier_two_sample_tests(evaluated, reference, pca_components=8, seed=3)
    x = np.concatenate([evaluated, reference])
    y = np.concatenate([np.ones(150, dtype=np.int64), np.zeros(150, dtype=np.int64)])
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    for name, classifier in (
        ("logistic", LogisticRegression(max_iter=5000)),
        ("knn", KNeighborsClassifier(n_neighbors=5)),
    ):
        pca = PCA(n_components=8, svd_solver="randomized", iterated_power=2, random_state=3)
        pipeline = make_pipeline(StandardScaler(), pca, classifier)
        expected = float(np.mean(cross_val_predict(pipeline, x, y, cv=cv) == y))
        assert results[name].accuracy == expected
        single = classifier_two_sample_test(
            evaluated, reference, classifier=name, pca_components=8, seed=3
        )
        assert single == results[name]
    with pytest.raises(ValueError, match="Unknown classifier"):
        classifier_two_sample_tests(evaluated, reference, classifiers=("svm",))
