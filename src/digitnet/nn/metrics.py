"""Accuracy, confusion matrix, per-class figures, and a confidence interval for accuracy.

:func:`evaluate` is the one way a model is scored on a split: the CLI, the report,
recipes and the web app all use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predictions equal to the labels."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as j; shape (num_classes, num_classes)."""
    index = np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64)
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class: C[i, i] / Σ_j C[i, j] (NaN for a class with no samples)."""
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(confusion) / totals


def accuracy_interval(correct: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for an accuracy of ``correct / total`` (95% by default)."""
    if total == 0:
        return (0.0, 1.0)
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (centre - half, centre + half)


@dataclass(frozen=True)
class Evaluation:
    """How a model did on a labelled split."""

    predictions: np.ndarray  # (n,) predicted class
    probabilities: np.ndarray  # (n, classes)
    labels: np.ndarray  # (n,) true class
    confusion: np.ndarray  # (classes, classes), rows true, columns predicted

    @property
    def total(self) -> int:
        return len(self.labels)

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of the accuracy."""
        return accuracy_interval(self.correct, self.total)

    @property
    def per_class(self) -> np.ndarray:
        return per_class_accuracy(self.confusion)


def evaluate(model, split, num_classes: int | None = None) -> Evaluation:
    """Score ``model`` on ``split`` (a :class:`~digitnet.data.datasets.Split`)."""
    num_classes = num_classes or model.sizes[-1]
    proba = model.predict_proba(split.features(model.dtype))
    pred = proba.argmax(axis=1)
    return Evaluation(pred, proba, split.labels, confusion_matrix(split.labels, pred, num_classes))
