"""digitnet as a scikit-learn estimator (``pip install digitnet[sklearn]``).

:class:`DigitnetClassifier` takes scikit-learn's ``MLPClassifier`` arguments, with their
meanings, and trains with digitnet's own :func:`~digitnet.fit` (Adam, mini-batches)::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from digitnet.sklearn import DigitnetClassifier

    clf = make_pipeline(StandardScaler(), DigitnetClassifier(hidden_layer_sizes=(64,), random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

Any number of features and classes, any labels (numbers or strings). What it does not do:
solvers other than Adam (``sgd`` and ``lbfgs`` are refused), and sample weights.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..nn.layers import ACTIVATIONS
from ..nn.model import MLP
from ..nn.optim import Adam
from ..training.fit import Callback, fit

#: scikit-learn's activation names -> digitnet's (each activation registers its scikit-learn name)
ACTIVATION_NAMES = {spec.sklearn: name for name, spec in ACTIVATIONS.items() if spec.sklearn}


class DigitnetClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained by digitnet, with scikit-learn's interface.

    Parameters (as ``sklearn.neural_network.MLPClassifier``'s)
    ----------
    hidden_layer_sizes : units of each hidden layer.
    activation : ``identity``, ``logistic``, ``tanh``, ``relu`` (or digitnet's ``leaky_relu``).
    solver : only ``adam``.
    alpha : L2 penalty; each step adds ``alpha / batch_size * param`` to the gradient, as
        scikit-learn does (here biases are penalized too).
    batch_size : samples per step; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate_init : Adam's step size.
    max_iter : most epochs.
    shuffle : shuffle the samples every epoch.
    random_state : None, an int or a RandomState: initial weights, shuffling and the validation split.
    tol, n_iter_no_change : stop when the training loss (or, with ``early_stopping``, the validation
        score) has not improved by ``tol`` for more than ``n_iter_no_change`` epochs.
    early_stopping, validation_fraction : set aside a stratified ``validation_fraction`` of the
        training data, score it every epoch, stop on it and keep the best weights.
    warm_start : ``fit`` continues from the previous solution.
    beta_1, beta_2, epsilon : Adam's.
    dtype : ``float64`` (default, as scikit-learn) or ``float32`` (about twice as fast).

    Attributes
    ----------
    classes_, n_features_in_, coefs_, intercepts_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, n_layers_, n_outputs_, out_activation_ (``softmax``),
    and ``model_``: the trained :class:`digitnet.MLP`.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, warm_start=False, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype="float64"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # --- scikit-learn's interface ---

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y``; returns self."""
        self._check_parameters()
        X, y = self._validate(X, y, reset=not (self.warm_start and hasattr(self, "model_")))
        if not (self.warm_start and hasattr(self, "model_")):
            self._start(X, np.unique(y))
        self._train(X, self._encode(y), epochs=self.max_iter, early_stopping=self.early_stopping)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X, y``; the first call needs ``classes`` (all labels there will ever be)."""
        first = not hasattr(self, "model_")
        if first:
            self._check_parameters()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._validate(X, y, reset=first)
        if first:
            self._start(X, np.unique(column_or_1d(classes)))
        elif classes is not None and not np.array_equal(np.unique(column_or_1d(classes)), self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to partial_fit, {self.classes_!r}")
        self._train(X, self._encode(y), epochs=1, early_stopping=False)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of each class (columns in the order of ``classes_``)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.model_.predict_proba(X).astype(np.float64, copy=False)

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.classes_[self.model_.predict(X)]

    # --- the work ---

    def _check_parameters(self) -> None:
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        problems = []
        if sizes.size and (sizes.ndim != 1 or np.any(sizes < 1)):
            problems.append(f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATION_NAMES:
            problems.append(f"activation must be one of {', '.join(ACTIVATION_NAMES)}, got {self.activation!r}")
        if self.solver != "adam":
            problems.append(f"solver must be 'adam' (digitnet trains with Adam), got {self.solver!r}")
        if self.batch_size != "auto" and not (isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            problems.append(f"batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}")
        for name in ("max_iter", "n_iter_no_change"):
            if not (isinstance(getattr(self, name), (int, np.integer)) and getattr(self, name) >= 1):
                problems.append(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not 0 < self.validation_fraction < 1:
            problems.append(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.alpha < 0 or self.learning_rate_init <= 0 or self.tol < 0:
            problems.append("alpha and tol must be >= 0 and learning_rate_init > 0")
        if self.dtype not in ("float32", "float64"):
            problems.append(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def _validate(self, X, y, *, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return X, y

    def _start(self, X, classes) -> None:
        if len(classes) < 2:
            raise ValueError(f"a classifier needs samples of at least 2 classes, got 1 class ({classes[0]!r})")
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        self.classes_ = classes
        sizes = [X.shape[1], *[int(s) for s in np.atleast_1d(self.hidden_layer_sizes)], len(classes)]
        self.model_ = MLP(sizes, ACTIVATION_NAMES[self.activation], rng=self._seed, dtype=self.dtype)
        self._optimizer = Adam(self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)
        self.coefs_ = [layer.params["W"] for layer in self.model_.dense]
        self.intercepts_ = [layer.params["b"] for layer in self.model_.dense]
        self.n_layers_, self.n_outputs_, self.out_activation_ = len(sizes), len(classes), "softmax"
        self.loss_curve_: list[float] = []
        self.best_loss_, self.n_iter_, self.t_ = np.inf, 0, 0
        self.validation_scores_: list[float] | None = [] if self.early_stopping else None
        self.best_validation_score_: float | None = -np.inf if self.early_stopping else None
        self._epochs_run = 0

    def _encode(self, y) -> np.ndarray:
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(f"labels {np.unique(y[unknown])!r} are not among classes_ {self.classes_!r}")
        return index.astype(np.int64)

    def _train(self, X, y, *, epochs: int, early_stopping: bool) -> None:
        validation = None
        if early_stopping:
            stratify = y if np.bincount(y).min() >= 2 else None
            X, Xv, y, yv = train_test_split(X, y, test_size=self.validation_fraction, stratify=stratify,
                                            random_state=self._seed)
            validation = (Xv, yv)
        batch = min(200, len(X)) if self.batch_size == "auto" else min(int(self.batch_size), len(X))
        self._optimizer.weight_decay = self.alpha / batch
        rule = _StoppingRule(self, early_stopping, limit=epochs)
        self._epochs_run += 1
        fit(self.model_, self._optimizer, X, y, epochs=epochs, batch_size=batch, shuffle=self.shuffle,
            rng=np.random.default_rng([self._seed, self._epochs_run]), validation=validation, callbacks=[rule])
        self.t_ += len(X) * rule.epochs
        if rule.ran_out and epochs > 1:
            warnings.warn(f"DigitnetClassifier: {epochs} epochs (max_iter) reached before the "
                          f"{'validation score' if early_stopping else 'training loss'} stopped improving",
                          ConvergenceWarning, stacklevel=3)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags


class _StoppingRule(Callback):
    """scikit-learn's rule: count epochs without an improvement of ``tol``; stop after more than
    ``n_iter_no_change``. With early stopping, keep the weights of the best validation score."""

    def __init__(self, est: DigitnetClassifier, early_stopping: bool, limit: int):
        self.est, self.early_stopping, self.limit = est, early_stopping, limit
        self.wait, self.epochs, self.ran_out = 0, 0, False
        self.best_params: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, state, record):
        est = self.est
        self.epochs += 1
        est.n_iter_ += 1
        est.loss_curve_.append(float(record["loss"]))
        if self.early_stopping and est.validation_scores_ is not None and est.best_validation_score_ is not None:
            score = float(record["val_accuracy"])
            est.validation_scores_.append(score)
            self.wait = self.wait + 1 if score < est.best_validation_score_ + est.tol else 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                self.best_params = {k: v.copy() for k, v in state.model.params.items()}
        else:
            loss = est.loss_curve_[-1]
            self.wait = self.wait + 1 if loss > est.best_loss_ - est.tol else 0
            est.best_loss_ = min(est.best_loss_, loss)
        if self.wait > est.n_iter_no_change:
            state.stop = True
        elif self.epochs == self.limit:
            self.ran_out = True

    def on_train_end(self, state):
        if self.best_params is not None:
            state.model.set_params(self.best_params)
