"""The one pipeline every model file comes out of: rows (with non-digits appended) -> fit -> calibrate on
the validation digits -> evaluate on the test split -> the metadata that records it.

:func:`digitnet.run.recipes.train` (a model from a recipe) and :func:`digitnet.run.finetune.finetune`
(a personal model from a trained one) both go through :func:`fit_and_measure`; they differ only in the
rows they build and the settings they fit with. The validation split is the only data anything is
chosen on; the test split is only measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..machine import describe
from ..nn.kernels import unit_float
from ..nn.metrics import Evaluation, evaluate
from ..nn.model import MLP
from ..nn.optim import Optimizer
from ..reading.calibration import calibrate
from ..training.fit import History, fit
from ..version import __version__


def split_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): a seeded random ``fraction`` of range(n) held out."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def append_outliers(X: np.ndarray, y: np.ndarray, pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, d) in [0, 1] and labels ``y`` with ``pictures`` (m, ...) uint8 appended as rows of label -1: samples
    of no class, trained towards the uniform distribution (outlier exposure)."""
    rows = unit_float(np.ascontiguousarray(pictures).reshape(len(pictures), -1), X.dtype)  # pictures / 255
    return np.concatenate([X, rows]), np.concatenate([y, np.full(len(pictures), -1, y.dtype)])


@dataclass
class Outcome:
    """What :func:`fit_and_measure` gives back: the history, the training time, the test evaluation and
    the calibration fitted on the validation digits (None without a validation split)."""

    history: History
    seconds: float
    test: Evaluation
    calibration: dict | None

    def metadata(self, dataset) -> dict[str, Any]:
        """The measured part of a model file's metadata (the caller adds how the model was made)."""
        return {"dataset": dataset.name, "dataset_sha256": dataset.sha256, "dataset_source": dataset.source,
                "classes": list(dataset.classes), "train_seconds": self.history.last.get("seconds", self.seconds),
                "test_accuracy": self.test.accuracy, "test_samples": self.test.total,
                "history": self.history.to_dict(), **({"calibration": self.calibration} if self.calibration else {}),
                "machine": describe(), "digitnet_version": __version__}


def fit_and_measure(model: MLP, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, dataset,
                    val_idx: np.ndarray | None, *, after_fit: Callable[[MLP], None] | None = None,
                    calibrated: bool = True, **fit_settings) -> Outcome:
    """Fit ``model`` on rows ``X``/``y`` (:func:`digitnet.fit` with ``fit_settings``), let ``after_fit`` adjust it
    (its time counts as training), then calibrate it on ``dataset``'s training rows ``val_idx`` (the temperature
    and refusal thresholds; not when ``calibrated`` is False: a search's trials, whose models are not kept) and
    evaluate it on the test split."""
    started = time.perf_counter()
    history = fit(model, optimizer, X, y, **fit_settings)
    if after_fit is not None:
        after_fit(model)
    seconds = time.perf_counter() - started
    calibration = None
    if val_idx is not None and calibrated:
        calibration = calibrate(model, unit_float(dataset.train.images[val_idx]), dataset.train.labels[val_idx])
    test = evaluate(model, dataset.test, dataset.num_classes)
    return Outcome(history, seconds, test, calibration)
