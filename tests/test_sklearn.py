"""The scikit-learn estimator: scikit-learn's own estimator checks, a Pipeline, a grid search, MNIST."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

from digitnet.app.sklearn import DigitnetClassifier
from digitnet.data import datasets


def _name(check) -> str:
    return getattr(check, "func", check).__name__


# every check scikit-learn has for a classifier (none expected to fail); the array-API one runs below
CHECKS = [(est, check) for est, check in estimator_checks_generator(DigitnetClassifier(max_iter=50), legacy=True)
          if _name(check) != "check_array_api_input"]


@pytest.mark.parametrize(("estimator", "check"), CHECKS, ids=[_name(c) for _, c in CHECKS])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_array_api_check_with_numpy():
    """scikit-learn's array-API check needs SCIPY_ARRAY_API=1 before SciPy loads: a process of its own."""
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "from sklearn.utils.estimator_checks import check_estimator\n"
            "from digitnet.sklearn import DigitnetClassifier\n"
            "r = [c for c in check_estimator(DigitnetClassifier(max_iter=50), on_fail=None)"
            " if c['check_name'] == 'check_array_api_input']\n"
            "print(sorted({c['status'] for c in r}), len(r))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "SCIPY_ARRAY_API": "1"},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "['passed']", out.stdout


def _iris():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    order = np.random.default_rng(0).permutation(len(X))
    return X[order], names[order]


def test_pipeline_and_grid_search_with_string_labels():
    X, y = _iris()
    pipe = make_pipeline(StandardScaler(), DigitnetClassifier(max_iter=300, random_state=0))
    search = GridSearchCV(pipe, {"digitnetclassifier__hidden_layer_sizes": [(4,), (32,)]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:100], y[:100])
    assert search.best_params_["digitnetclassifier__hidden_layer_sizes"] in [(4,), (32,)]
    assert set(search.predict(X[100:])) <= {"setosa", "versicolor", "virginica"}
    assert search.score(X[100:], y[100:]) >= 0.9


def test_attributes_and_early_stopping_meaning():
    X, y = _iris()
    X = StandardScaler().fit_transform(X)
    clf = DigitnetClassifier(hidden_layer_sizes=(16, 8), early_stopping=True, n_iter_no_change=5,
                             max_iter=500, random_state=1).fit(X, y)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"] and clf.n_features_in_ == 4
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 8), (8, 3)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (8,), (3,)]
    assert clf.n_iter_ == len(clf.loss_curve_) == len(clf.validation_scores_) < 500  # stopped early
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # it stopped because the score had not improved by tol for more than n_iter_no_change epochs
    assert max(clf.validation_scores_[-6:]) < clf.best_validation_score_ + clf.tol or \
        clf.validation_scores_.index(clf.best_validation_score_) <= clf.n_iter_ - 6
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)


def test_same_random_state_same_model():
    X, y = _iris()
    a = DigitnetClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=3).fit(X, y)
    b = DigitnetClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=3).fit(X, y)
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(ca, cb)


def test_partial_fit_needs_classes_then_learns_mnist():
    train = datasets.load("mnist").train
    X, y = train.features()[:12000], train.labels[:12000]
    clf = DigitnetClassifier(hidden_layer_sizes=(64,), batch_size=128, learning_rate_init=3e-3, random_state=0,
                             dtype="float32")
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:10], y[:10])
    for start in range(0, 10000, 2000):
        clf.partial_fit(X[start:start + 2000], y[start:start + 2000], classes=np.arange(10))
    assert clf.n_iter_ == 5 and clf.t_ == 10000
    assert clf.score(X[10000:], y[10000:]) >= 0.85  # held-out rows of the training split


def _arrays(obj, seen=None):
    """Every ndarray reachable from ``obj`` (attributes, dicts, lists, tuples)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _arrays(value, seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _arrays(value, seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("digitnet"):
        yield from _arrays(vars(obj), seen)


def test_a_pickled_estimator_holds_no_training_row_and_predicts_the_same():
    """joblib/pickle keep the weights (and the optimizer's moments, so partial_fit can go on), not the
    last batch, the gradients or the buffers of the last step (defect: each Dense kept its input batch)."""
    import pickle

    train = datasets.load("mnist").train
    X, y = train.features()[:3000], train.labels[:3000]
    clf = DigitnetClassifier(hidden_layer_sizes=(32,), max_iter=2, batch_size=1000, random_state=0, dtype="float32")
    clf.fit(X, y)
    data = pickle.dumps(clf)
    restored = pickle.loads(data)
    assert not any(1000 in a.shape for a in _arrays(restored))  # no batch of training rows, nor anything made from one
    weights = sum(a.nbytes for a in clf.coefs_ + clf.intercepts_)
    assert len(data) < 3.5 * weights  # the weights and the optimizer's two moments, little else
    np.testing.assert_array_equal(restored.predict_proba(X[:500]), clf.predict_proba(X[:500]))
    restored.partial_fit(X[:200], y[:200])  # and it can go on learning
