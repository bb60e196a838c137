"""Classifier two-sample test (C2ST) between an evaluated and a reference feature set.

Method (Lopez-Paz & Oquab 2017, "Revisiting Classifier Two-Sample Tests", ICLR, Sec. 2):
label evaluated samples 1 and reference samples 0, train a binary classifier, and measure its
accuracy on samples it was not trained on. If both sets come from one distribution no classifier
beats chance, so under H0 the number of correct held-out predictions is ``Binomial(n, 1/2)``;
accuracy well above 1/2 means the sets are distinguishable (e.g. a mode is missing or extra).

Choices made here:

* **Balanced classes.** The larger set is subsampled (without replacement, seeded) to the size of
  the smaller one, so chance level is exactly 1/2 and ``n_per_class`` samples of each class are
  used (``2 * n_per_class`` predictions).
* **Cross-validation instead of one held-out split.** Stratified k-fold (default 5, shuffled with
  the seed): every sample gets exactly one out-of-fold prediction, and ``accuracy`` is the mean
  of the ``2 * n_per_class`` out-of-fold correct/incorrect outcomes.
* **Pipeline fit inside each training fold:** ``StandardScaler`` -> optional ``PCA`` to
  ``pca_components`` dimensions (randomized SVD with 2 power iterations, seeded; keeps 1,280-d
  features fast; skipped when it would keep all dimensions) -> classifier: ``"logistic"`` (``LogisticRegression``,
  default ``C = 1``) or ``"knn"`` (``KNeighborsClassifier(n_neighbors)``).
* **Several classifiers, one split.** :func:`classifier_two_sample_tests` scores every classifier
  on the same subsample and folds, fitting the scaler and PCA of each fold once for all of them:
  the same computation as separate :func:`classifier_two_sample_test` calls (which use the same
  seed, hence the same subsample, folds and projection), without repeating the projection.
* **p-value:** one-sided, ``P(X >= n_correct)`` for ``X ~ Binomial(2 n_per_class, 1/2)``
  (``scipy.stats.binomtest(..., alternative="greater")``). Lopez-Paz & Oquab's test assumes the
  test predictions are independent given a classifier trained on disjoint data; out-of-fold
  predictions of k-fold cross-validation come from k classifiers whose training sets overlap, so
  they are **not exactly independent** and the p-value is approximate (the accuracy itself is an
  unbiased estimate of the expected held-out accuracy of a classifier trained on (k-1)/k of the
  data). Use it to rank and to flag strong effects, not as an exact test at a sharp level.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import binomtest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from modedrop.validation import feature_matrix, positive_int, same_width

__all__ = ["C2STResult", "CLASSIFIERS", "classifier_two_sample_test", "classifier_two_sample_tests"]

#: Accepted values of ``classifier``.
CLASSIFIERS: tuple[str, ...] = ("logistic", "knn")


@dataclass(frozen=True)
class C2STResult:
    """Out-of-fold accuracy (1/2 = indistinguishable), its one-sided binomial p-value, the
    number of samples per class actually used, and the classifier name."""

    accuracy: float
    p_value: float
    n_per_class: int
    classifier: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict of the fields."""
        return asdict(self)


def _balanced_subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) == n:
        return x
    return x[np.sort(rng.choice(len(x), size=n, replace=False))]


def _projection(
    *, n_features: int, n_train: int, pca_components: int | None, seed: int
) -> Pipeline:
    """The in-fold preprocessing: standardisation, then the optional PCA."""
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if pca_components is not None:
        # PCA cannot keep more components than training rows or features; keeping all features
        # is only a rotation, which neither classifier's decision depends on, so skip it then.
        n_components = min(pca_components, n_features, n_train)
        if n_components < n_features:
            # Two power iterations instead of sklearn's default 7 cut the 1,280-d fit ~4x. Any
            # projection fitted on the training fold keeps the test valid; only power is at stake.
            pca = PCA(
                n_components=n_components,
                svd_solver="randomized",
                iterated_power=2,
                random_state=seed,
            )
            steps.append(("pca", pca))
    return Pipeline(steps)


def _classifier(classifier: str, n_neighbors: int) -> Any:
    if classifier == "logistic":
        return LogisticRegression(max_iter=5000)
    return KNeighborsClassifier(n_neighbors=n_neighbors)


def classifier_two_sample_test(
    evaluated: Any,
    reference: Any,
    *,
    classifier: Literal["logistic", "knn"] = "logistic",
    folds: int = 5,
    pca_components: int | None = 64,
    n_neighbors: int = 5,
    seed: int = 0,
    n_threads: int | None = 1,
) -> C2STResult:
    """Classifier two-sample test of ``evaluated`` (label 1) vs ``reference`` (label 0).

    Parameters
    ----------
    evaluated, reference
        N_e x D and N_r x D feature matrices (same D). The larger is subsampled to
        ``n = min(N_e, N_r)`` rows (seeded); ``n >= folds`` is required.
    classifier
        ``"logistic"`` (L2 logistic regression, C = 1) or ``"knn"`` (``n_neighbors``-NN vote).
    folds
        Stratified k-fold splits (>= 2), shuffled with ``seed``.
    pca_components
        Dimensions kept by the in-fold PCA after standardisation (``None``: no PCA).
    n_neighbors
        k of the k-NN classifier (odd values avoid ties; ignored for ``"logistic"``).
    seed
        Seeds the subsampling, the fold shuffle and the randomized PCA.
    n_threads
        BLAS/OpenMP threads inside the call (``threadpoolctl``; restored afterwards). Default 1:
        the fold fits are many small matrix products where extra threads cost more than they
        gain, badly so when other jobs share the cores. ``None`` keeps the process setting.

    Returns
    -------
    C2STResult
        ``accuracy`` = mean out-of-fold correctness over ``2 n`` samples; ``p_value`` =
        ``P(Binomial(2n, 1/2) >= accuracy * 2n)`` (approximate, see the module docstring).
    """
    if classifier not in CLASSIFIERS:
        raise ValueError(f"Unknown classifier {classifier!r}; choose one of {CLASSIFIERS}.")
    return classifier_two_sample_tests(
        evaluated,
        reference,
        classifiers=(classifier,),
        folds=folds,
        pca_components=pca_components,
        n_neighbors=n_neighbors,
        seed=seed,
        n_threads=n_threads,
    )[classifier]


def classifier_two_sample_tests(
    evaluated: Any,
    reference: Any,
    *,
    classifiers: tuple[str, ...] = CLASSIFIERS,
    folds: int = 5,
    pca_components: int | None = 64,
    n_neighbors: int = 5,
    seed: int = 0,
    n_threads: int | None = 1,
) -> dict[str, C2STResult]:
    """:func:`classifier_two_sample_test` for each of ``classifiers`` on one subsample and one
    set of folds (the same ones each separate call would draw), with each fold's scaler and PCA
    fitted once and shared by the classifiers. Returns ``{classifier: C2STResult}``."""
    unknown = [c for c in classifiers if c not in CLASSIFIERS]
    if unknown or not classifiers:
        raise ValueError(
            f"Unknown classifier(s) {unknown or list(classifiers)}; choose from {CLASSIFIERS}."
        )
    folds = positive_int(folds, "folds", minimum=2)
    n_neighbors = positive_int(n_neighbors, "n_neighbors")
    if pca_components is not None:
        pca_components = positive_int(pca_components, "pca_components")
    seed = int(seed)
    if n_threads is not None:
        n_threads = positive_int(n_threads, "n_threads")
    # float32 is ample for a classifier and halves the PCA's matrix products. No minimum of rows
    # here: the n >= folds check below says how many are needed.
    checks: dict[str, Any] = {
        "min_rows": 0,
        "dtype": np.float64,
        "keep_float32": True,
        "size_message": "at least 1 feature is needed.",
    }
    x_eval = feature_matrix(evaluated, "evaluated", **checks)
    x_ref = feature_matrix(reference, "reference", **checks)
    same_width(x_eval, x_ref, ("evaluated", "reference"))
    n = min(len(x_eval), len(x_ref))
    if n < folds:
        raise ValueError(
            f"Got {len(x_eval)} evaluated and {len(x_ref)} reference rows; {folds}-fold "
            f"cross-validation needs at least {folds} rows in each set. Use more samples or "
            f"fewer folds (folds <= {max(n, 2)})."
        )
    # StratifiedKFold balances fold sizes: the largest test fold has ceil(2n / folds) rows.
    n_train = 2 * n - -(-2 * n // folds)  # smallest training set of a fold
    if "knn" in classifiers and n_neighbors > n_train:
        raise ValueError(
            f"n_neighbors={n_neighbors} exceeds the {n_train} training rows of a fold; use "
            f"n_neighbors <= {n_train}."
        )

    rng = np.random.default_rng(seed)
    x = np.concatenate([_balanced_subsample(x_eval, n, rng), _balanced_subsample(x_ref, n, rng)])
    y = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    projection = _projection(
        n_features=x.shape[1], n_train=n_train, pca_components=pca_components, seed=seed
    )
    with threadpool_limits(limits=n_threads):
        predicted = _out_of_fold_predictions(
            x, y, cv, projection, {c: _classifier(c, n_neighbors) for c in classifiers}
        )

    results = {}
    for classifier, labels in predicted.items():
        n_correct = int(np.sum(labels == y))
        p_value = binomtest(n_correct, 2 * n, 0.5, alternative="greater").pvalue
        results[classifier] = C2STResult(
            accuracy=n_correct / (2 * n),
            p_value=float(p_value),
            n_per_class=n,
            classifier=classifier,
        )
    return results


def _out_of_fold_predictions(
    x: np.ndarray, y: np.ndarray, cv: StratifiedKFold, projection: Pipeline, classifiers: dict
) -> dict[str, np.ndarray]:
    """Each classifier's out-of-fold predictions; per fold the projection is fitted once.

    The calls are those ``cross_val_predict`` makes for ``Pipeline(projection + classifier)``:
    ``fit_transform`` on the training rows, ``transform`` on the test rows, fresh clones per
    fold, so each classifier's predictions equal its own pipeline's.
    """
    predicted = {name: np.empty_like(y) for name in classifiers}
    for train, test in cv.split(x, y):
        fold = clone(projection)
        x_train = fold.fit_transform(x[train], y[train])
        x_test = fold.transform(x[test])
        for name, classifier in classifiers.items():
            predicted[name][test] = clone(classifier).fit(x_train, y[train]).predict(x_test)
    return predicted
