"""Training: :func:`fit` runs gradient descent over batches and reports through callbacks.

The library never prints: progress goes to callbacks, results to the :class:`History`.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import TrainingDiverged, UsageError
from .losses import softmax_cross_entropy
from .model import MLP
from .optim import Optimizer


@dataclass
class History:
    """One record (a dict) per logged epoch: ``epoch``, ``step``, ``lr``, ``loss``, ``accuracy``,
    ``seconds`` (training time so far, evaluation excluded), ``val_loss``/``val_accuracy`` when
    there is validation data, and any batch metrics.

    ``loss`` and ``accuracy`` are averaged over the epoch's batches, each measured before its
    update; for full-batch training that is exactly the tutorial's "cost after iteration i".
    """

    records: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def last(self) -> dict:
        return self.records[-1] if self.records else {}

    def to_dict(self) -> dict:
        return {"records": self.records}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls([dict(r) for r in data.get("records", [])])


@dataclass
class TrainState:
    """What callbacks see: the model, optimizer, history, position, and a ``stop`` flag they may set."""

    model: MLP
    optimizer: Optimizer
    history: History
    rng: np.random.Generator
    epochs: int
    steps_per_epoch: int
    n_samples: int = 0
    batch_size: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    stop: bool = False
    batch_loss: float = float("nan")
    seconds: float = 0.0  # training time so far, excluding evaluation and callbacks


class Callback:
    """Hooks for :func:`fit`; override what you need."""

    def on_train_begin(self, state: TrainState) -> None: ...

    def on_batch_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState, record: dict | None) -> None:
        """``record`` is the new History entry, or None for an epoch that was not logged."""

    def on_train_end(self, state: TrainState) -> None: ...

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, JSON-able scalars) to checkpoint, for callbacks whose state affects the result."""
        return {}, {}

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` logged epochs; restore the best weights."""

    def __init__(self, patience: int = 5, monitor: str = "val_loss", min_delta: float = 0.0, restore_best: bool = True):
        if patience < 1:
            raise UsageError(f"patience must be >= 1, got {patience}")
        self.patience, self.monitor, self.min_delta, self.restore_best = patience, monitor, min_delta, restore_best
        self.sign = -1 if "acc" in monitor else 1  # minimise loss, maximise accuracy
        self.best, self.best_epoch, self.best_params, self.wait = math.inf, None, None, 0

    def on_epoch_end(self, state, record):
        if record is None or record.get(self.monitor) is None:
            return
        value = self.sign * record[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, record["epoch"], 0
            self.best_params = {k: v.copy() for k, v in state.model.params.items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop = True

    def on_train_end(self, state):
        if self.restore_best and self.best_params is not None:
            state.model.set_params(self.best_params)

    def state_dict(self):
        return dict(self.best_params or {}), {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, arrays, scalars):
        self.best, self.best_epoch, self.wait = scalars["best"], scalars["best_epoch"], scalars["wait"]
        self.best_params = {k: np.array(v) for k, v in arrays.items()} or None


@dataclass
class Resume:
    """Where an interrupted run stopped: enough to continue it bit for bit (see :mod:`digitnet.checkpoint`)."""

    epoch: int
    step_in_epoch: int = 0
    order: np.ndarray | None = None  # the interrupted epoch's permutation
    totals: dict = field(default_factory=dict)  # the interrupted epoch's running sums
    seconds: float = 0.0
    history: History = field(default_factory=History)


def fit(model: MLP, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, *, epochs: int = 10,
        batch_size: int | None = 128, rng: np.random.Generator | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None, callbacks: list[Callback] = (),
        log_every: int = 1, label_smoothing: float = 0.0,
        batch_metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
        checkpoint=None, resume: Resume | None = None, shuffle: bool = True,
        augment=None, augment_seed: int = 0) -> History:
    """Train ``model`` with ``optimizer`` on ``X`` (n_samples, n_features) and integer labels ``y``.

    Parameters
    ----------
    batch_size : samples per step; None for full-batch gradient descent (one step per epoch).
    rng : the generator for shuffling and dropout (default: a new one seeded 0). The
        global NumPy random state is never touched.
    validation : (X_val, y_val), evaluated at every logged epoch.
    log_every : record a History entry (and evaluate) every this many epochs,
        counting from epoch 0 — the tutorial logs every 10 iterations.
    batch_metrics : extra ``name -> f(logits, labels)`` measured on each training batch
        of a logged epoch (before its update), averaged like the loss.
    checkpoint : a :class:`digitnet.checkpoint.Checkpointer`, called at the end of every
        epoch and every ``checkpoint.every_steps`` steps.
    resume : continue an interrupted run (model, optimizer and ``rng`` already restored,
        see :func:`digitnet.checkpoint.restore`); the result is bit-identical to a run
        that was never interrupted.
    augment : a :class:`digitnet.augment.Augment` applied to every training batch. Each
        batch's distortions are drawn from ``(augment_seed, epoch, step)``, so the next
        batch is prepared in a background thread while the current step trains, and a
        resumed run draws the same ones.

    Each epoch visits the samples in a new permutation drawn from ``rng``
    (indices are shuffled, not the arrays). Raises
    :class:`~digitnet.errors.TrainingDiverged` as soon as the loss is not finite,
    before anything is checkpointed.
    """
    X = np.ascontiguousarray(X, dtype=model.dtype)  # converted once, never per batch
    y = np.asarray(y)
    n = len(X)
    if n == 0 or len(y) != n:
        raise UsageError(f"need as many labels as samples and at least one sample, got {n} samples and {len(y)} labels")
    if epochs < 0 or log_every < 1:
        raise UsageError(f"epochs must be >= 0 and log_every >= 1, got {epochs} and {log_every}")
    full_batch = batch_size is None or batch_size >= n
    batch_size = n if full_batch else int(batch_size)
    if batch_size < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(0) if rng is None else rng
    resume = resume or Resume(epoch=0)
    history = resume.history
    steps_per_epoch = math.ceil(n / batch_size)
    state = TrainState(model, optimizer, history, rng, epochs, steps_per_epoch, n, batch_size,
                       epoch=resume.epoch, seconds=resume.seconds)
    if validation is not None:
        validation = (np.ascontiguousarray(validation[0], dtype=model.dtype), np.asarray(validation[1]))
    batch_metrics = batch_metrics or {}
    if augment is not None and (full_batch or augment.identity):
        augment = None  # full-batch training keeps its fixed input
    if full_batch:
        from .fullbatch import FullBatch  # here: it builds on forward_backward below

        full = FullBatch(model, X, y, label_smoothing=label_smoothing, batch_metrics=batch_metrics)
    prefetch = ThreadPoolExecutor(1, thread_name_prefix="digitnet-augment") if augment is not None else None

    def batch(epoch: int, i: int, order):
        idx = order[i * batch_size:(i + 1) * batch_size] if order is not None else slice(i * batch_size, (i + 1) * batch_size)
        xb = X[idx]
        if augment is not None:
            xb = augment(xb, np.random.default_rng([augment_seed, epoch, i]))
        return xb, y[idx]

    for cb in callbacks:
        cb.on_train_begin(state)
    for epoch in range(resume.epoch, epochs):
        state.epoch = epoch
        logged = epoch % log_every == 0
        started = time.perf_counter()
        first = 0
        if epoch == resume.epoch and resume.step_in_epoch:
            first, order, totals = resume.step_in_epoch, resume.order, dict(resume.totals)
        else:
            order = rng.permutation(n) if shuffle and not full_batch else None
            totals = dict.fromkeys(("loss", "correct", *batch_metrics), 0.0)
        lr = optimizer.lr
        upcoming = None
        for i in range(first, steps_per_epoch):
            state.step_in_epoch = i
            if full_batch:  # the whole set, in chunks on all cores
                sums = full.gradient(rng, metrics=logged)
                loss = sums["loss"] / n
                for key, value in sums.items():
                    totals[key] += value
            else:
                xb, yb = upcoming.result() if upcoming is not None else batch(epoch, i, order)
                if prefetch is not None and i + 1 < steps_per_epoch:
                    upcoming = prefetch.submit(batch, epoch, i + 1, order)
                loss = forward_backward(model, xb, yb, totals, rng=rng, metrics=logged, batch_metrics=batch_metrics,
                                        label_smoothing=label_smoothing)
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"the loss became {loss} at epoch {epoch}, step {optimizer.t} (learning rate {optimizer.lr:g}); "
                    "try a smaller learning rate (--lr) or a schedule with warm-up")
            lr = optimizer.step(model.params, model.grads)
            state.batch_loss = loss
            for cb in callbacks:
                cb.on_batch_end(state)
            if (checkpoint is not None and checkpoint.every_steps and optimizer.t % checkpoint.every_steps == 0
                    and i + 1 < steps_per_epoch):
                _check_finite(model, epoch, lr)
                checkpoint.save(model, optimizer, rng, callbacks, Resume(
                    epoch, i + 1, order, totals, state.seconds + time.perf_counter() - started, history))
        state.seconds += time.perf_counter() - started
        _check_finite(model, epoch, lr)
        record = None
        if logged:
            record = {"epoch": epoch, "step": optimizer.t, "lr": lr, "loss": totals["loss"] / n,
                      "accuracy": totals["correct"] / n,
                      **{name: totals[name] / n for name in batch_metrics}, "seconds": state.seconds}
            if validation is not None:
                record["val_loss"], record["val_accuracy"] = evaluate_loss(model, *validation)
            history.records.append(record)
        for cb in callbacks:
            cb.on_epoch_end(state, record)
        if checkpoint is not None:
            checkpoint.save(model, optimizer, rng, callbacks, Resume(epoch + 1, 0, None, {}, state.seconds, history))
        if state.stop:
            break
    if prefetch is not None:
        prefetch.shutdown()
    for cb in callbacks:
        cb.on_train_end(state)
    return history


def forward_backward(model: MLP, x, labels: np.ndarray, sums: dict, *, rng, metrics: bool, batch_metrics: dict,
                     label_smoothing: float = 0.0, batch_size: int | None = None, accumulate: bool = False) -> float:
    """One batch through ``model`` and back: fills (or with ``accumulate`` adds to) ``model.grads``.

    Adds to ``sums`` the loss times the rows and, with ``metrics``, the correct count and each batch
    metric times the rows (measured before the update). ``batch_size``: see
    :func:`~digitnet.losses.softmax_cross_entropy`. Returns the batch's mean loss.
    """
    logits = model.forward(x, training=True, rng=rng)
    if metrics:
        sums["correct"] += int(np.count_nonzero(logits.argmax(axis=1) == labels))
        for name, metric in batch_metrics.items():
            sums[name] += metric(logits, labels) * len(labels)
    loss, dlogits = softmax_cross_entropy(logits, labels, label_smoothing=label_smoothing, out=logits,
                                          batch_size=batch_size)
    sums["loss"] += loss * len(labels)
    model.backward(dlogits, accumulate=accumulate)
    return loss


def _check_finite(model: MLP, epoch: int, lr: float) -> None:
    for name, p in model.params.items():
        if not np.isfinite(p).all():
            raise TrainingDiverged(f"parameter {name} became NaN or infinite during epoch {epoch} (learning rate {lr:g}); "
                                   "try a smaller learning rate (--lr)")


def evaluate_loss(model: MLP, X: np.ndarray, y: np.ndarray, *, batch_size: int = 4096) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on ``X``, ``y``."""
    total, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        xb, yb = X[start:start + batch_size], y[start:start + batch_size]
        logits = model.forward(np.ascontiguousarray(xb, dtype=model.dtype))
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
        loss, _ = softmax_cross_entropy(logits, yb, out=logits)
        total += loss * len(yb)
    return total / len(X), correct / len(X)
