"""Fitting a model's calibration on a validation split: the temperature (Guo et al. 2017,
https://arxiv.org/abs/1706.04599) and the thresholds that refuse at most :data:`MAX_REFUSED` of real digits.
Never fitted on a test set."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..nn.losses import softmax
from .contract import Calibration, energy_score
from .geometry import inspect_prepared

MAX_REFUSED = 0.019  # share of validation digits a threshold may refuse (the promise is 2%)
ENERGY_SHARE = 0.75  # of that budget, the share the energy score spends (the top probability gets the rest)
GEOMETRY_SAMPLE = 2000  # validation digits whose geometry is checked to estimate its refusal rate (~1 ms each)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the mean negative log-likelihood of softmax(logits / T)
    (golden-section search on log T in [1/20, 20])."""
    logits = logits.astype(np.float64)

    def nll(log_t):
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))

    lo, hi = np.log(1 / 20), np.log(20)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy, over equal-width bins."""
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(total)


def calibrate(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Fit the temperature and the thresholds on validation digits (n, 28, 28) with their labels.

    Together the thresholds refuse at most :data:`MAX_REFUSED` of them, geometry refusals included
    (their rate estimated on the first :data:`GEOMETRY_SAMPLE`): the energy threshold spends
    :data:`ENERGY_SHARE` of what is left, and the top-probability threshold is the largest that
    keeps the two together within it. Returns the ``calibration`` entry of the model's metadata."""
    logits = model.logits(images.reshape(len(images), -1)).astype(np.float64)
    temperature = fit_temperature(logits, labels)
    before, after = softmax(logits.copy()), softmax(logits / temperature)
    geometry_rate = float(np.mean([r is not None for r in inspect_prepared(images[:GEOMETRY_SAMPLE])]))
    budget = max(0.0, MAX_REFUSED - geometry_rate)
    energy = energy_score(logits / temperature)
    energy_threshold = float(np.quantile(energy, budget * ENERGY_SHARE))
    low = energy < energy_threshold
    allowed = int(budget * len(labels)) - int(low.sum())  # refusals left for the top probability
    tops = np.sort(after.max(axis=1)[~low])
    threshold = float(tops[allowed]) if 0 < allowed < len(tops) else 0.0
    return asdict(Calibration(temperature, threshold, energy_threshold=energy_threshold)) | {
        "fitted": True, "validation_samples": int(len(labels)), "max_refused": MAX_REFUSED,
        "geometry_refused": geometry_rate,
        "ece_before": expected_calibration_error(before, labels), "ece_after": expected_calibration_error(after, labels)}
