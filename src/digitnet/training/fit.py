"""Training: :func:`fit` runs gradient descent over batches and reports through callbacks.

Where the batches come from is one of two small objects with the same interface:
:class:`~digitnet.training.batches.MiniBatches` (a permutation per epoch, optional augmentation)
or :class:`~digitnet.training.fullbatch.FullBatch` (all rows, one step per epoch, on all cores).
``fit`` keeps only the loop: epochs, steps, callbacks, checkpoints, history.
The library never prints: progress goes to callbacks, results to the :class:`History`.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import parallel
from ..errors import UsageError
from ..nn.model import MLP
from ..nn.optim import Optimizer
from .batches import BatchSource, Epoch, MiniBatches
from .fullbatch import FullBatch
from .step import check_finite_loss, check_finite_params, loss_and_accuracy_of_views


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
    n_labelled: int = 0  # samples with a class (the others are outliers, label -1)
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
        self.best, self.wait = math.inf, 0
        self.best_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None

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
    """Where an interrupted run stopped: enough to continue it bit for bit (see :mod:`digitnet.run.checkpoint`)."""

    epoch: int
    step_in_epoch: int = 0
    order: np.ndarray | None = None  # the interrupted epoch's permutation
    totals: dict = field(default_factory=dict)  # the interrupted epoch's running sums
    seconds: float = 0.0
    history: History = field(default_factory=History)


@np.errstate(over="ignore", invalid="ignore")  # a diverging run is stopped with one clear error, not warnings
def fit(model: MLP, optimizer: Optimizer, X: np.ndarray, y: np.ndarray, *, epochs: int = 10,
        batch_size: int | None = 128, rng: np.random.Generator | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None, callbacks: Sequence[Callback] = (),
        log_every: int = 1, label_smoothing: float = 0.0,
        batch_metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] | None = None,
        checkpoint=None, resume: Resume | None = None, shuffle: bool = True,
        augment=None, augment_seed: int = 0) -> History:
    """Train ``model`` with ``optimizer`` on ``X`` (n_samples, n_features) and integer labels ``y``
    (-1: a sample of no class, trained towards the uniform distribution; see
    :func:`~digitnet.nn.losses.softmax_cross_entropy`).

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
    checkpoint : a :class:`digitnet.run.checkpoint.Checkpointer`, called at the end of every
        epoch and every ``checkpoint.every_steps`` steps.
    resume : continue an interrupted run (model, optimizer and ``rng`` already restored,
        see :func:`digitnet.run.checkpoint.restore`); the result is bit-identical to a run
        that was never interrupted.
    augment : a :class:`digitnet.data.augment.Augment` applied to every training batch (mini-batch
        training only), drawn from ``(augment_seed, epoch, step)``.

    ``X`` holds pixels: the model's input preparation (:meth:`~digitnet.nn.model.MLP.prepare`,
    deskewing: every view the model reads, so a model that reads two views trains on both of each
    row) is applied to them once, or to each batch after its distortions; its time counts in the
    epochs' seconds. The validation rows are read as :meth:`~digitnet.nn.model.MLP.logits` reads pictures
    (their views prepared once).

    Raises :class:`~digitnet.errors.TrainingDiverged` as soon as the loss is not finite or above
    :data:`~digitnet.training.step.DIVERGED_LOSS`,
    before anything is checkpointed.
    """
    preparing = time.perf_counter()
    batches = _batches(model, X, y, batch_size, shuffle=shuffle, augment=augment, augment_seed=augment_seed,
                       label_smoothing=label_smoothing, batch_metrics=batch_metrics or {})
    if epochs < 0 or log_every < 1:
        raise UsageError(f"epochs must be >= 0 and log_every >= 1, got {epochs} and {log_every}")
    rng = np.random.default_rng(0) if rng is None else rng
    resume, decay = resume or Resume(epoch=0), getattr(optimizer, "weight_decay", 0.0)
    history = resume.history
    views = None
    if validation is not None:  # read as model.logits reads pictures: its views, prepared once here
        views = (model.views(np.ascontiguousarray(validation[0], dtype=model.dtype)), np.asarray(validation[1]))
    state = TrainState(model, optimizer, history, rng, epochs, batches.steps, batches.n, batches.batch_size,
                       batches.n_labelled, epoch=resume.epoch,
                       seconds=resume.seconds + time.perf_counter() - preparing)  # preparing the inputs counts
    for cb in callbacks:
        cb.on_train_begin(state)
    try:
        for epoch in range(resume.epoch, epochs):
            state.epoch = epoch
            logged = epoch % log_every == 0
            started = time.perf_counter()
            interrupted = epoch == resume.epoch and resume.step_in_epoch
            batches.start_epoch(epoch, rng, order=resume.order if interrupted else None)
            totals = dict(resume.totals) if interrupted else dict.fromkeys(("loss", "correct", *batches.batch_metrics), 0.0)
            lr = optimizer.lr
            for i in range(resume.step_in_epoch if interrupted else 0, batches.steps):
                state.step_in_epoch = i
                loss = batches.gradient(i, rng, totals, metrics=logged)
                check_finite_loss(loss, epoch, optimizer.t, optimizer.lr, decay)
                lr = optimizer.step(model.params, model.grads)
                state.batch_loss = loss
                for cb in callbacks:
                    cb.on_batch_end(state)
                if checkpoint is not None and checkpoint.due(optimizer.t) and i + 1 < batches.steps:
                    check_finite_params(model, epoch, lr, decay)
                    checkpoint.save(model, optimizer, rng, callbacks, Resume(
                        epoch, i + 1, batches.order, totals, state.seconds + time.perf_counter() - started, history))
            state.seconds += time.perf_counter() - started
            check_finite_params(model, epoch, lr, decay)
            record = _record(state, optimizer, lr, totals, views) if logged else None
            if record is not None:
                history.records.append(record)
            for cb in callbacks:
                cb.on_epoch_end(state, record)
            if checkpoint is not None:
                checkpoint.save(model, optimizer, rng, callbacks, Resume(epoch + 1, 0, None, {}, state.seconds, history))
            if state.stop:
                break
    finally:
        batches.close()
    for cb in callbacks:
        cb.on_train_end(state)
    return history


def _batches(model, X, y, batch_size, *, shuffle, augment, augment_seed, label_smoothing, batch_metrics) -> BatchSource:
    """The batch source for ``batch_size``: all rows at once (None, or at least as many as an epoch
    has: every view of every row), or mini-batches."""
    X = np.ascontiguousarray(X, dtype=model.dtype)  # converted once, never per batch
    y = np.asarray(y)
    n = len(X)
    if n == 0 or len(y) != n:
        raise UsageError(f"need as many labels as samples and at least one sample, got {n} samples and {len(y)} labels")
    if batch_size is not None and int(batch_size) < 1:
        raise UsageError(f"batch size must be >= 1, got {batch_size}")
    full = Epoch(n, len(model.preparations), batch_size).full
    if model.preparations != (None,) and (full or augment is None or augment.identity):  # the same rows every epoch
        X, y = _prepared(model, X, y)
    if full:
        return FullBatch(model, X, y, label_smoothing=label_smoothing, batch_metrics=batch_metrics)
    return MiniBatches(model, X, y, int(batch_size), shuffle=shuffle, augment=augment, augment_seed=augment_seed,
                       label_smoothing=label_smoothing, batch_metrics=batch_metrics)


def _prepared(model, X, y):
    """Fixed rows prepared once, on all cores: every view of every row, view after view, labels repeated
    (written into one array: no copy of the views to concatenate)."""
    out = np.empty((len(model.preparations) * len(X), X.shape[1]), X.dtype)
    for k, f in enumerate(model.preparations):
        part = out[k * len(X):(k + 1) * len(X)]
        if f is None:
            part[...] = X
        else:
            parallel.map_chunks(functools.partial(_apply, f), X, np.random.default_rng(0), out=part)
    return out, (y if len(model.preparations) == 1 else np.tile(y, len(model.preparations)))


def _apply(f: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``f(rows)``: a preparation, in the form :func:`digitnet.parallel.map_chunks` calls (the generator unused)."""
    return f(rows)


def _record(state: TrainState, optimizer: Optimizer, lr: float, totals: dict, validation) -> dict:
    """The History entry of an epoch: its averages, and the validation figures."""
    n = state.n_samples
    record = {"epoch": state.epoch, "step": optimizer.t, "lr": lr, "loss": totals["loss"] / n,
              "accuracy": totals["correct"] / max(state.n_labelled, 1),
              **{name: value / n for name, value in totals.items() if name not in ("loss", "correct")},
              "seconds": state.seconds}
    if validation is not None:
        record["val_loss"], record["val_accuracy"] = loss_and_accuracy_of_views(state.model, *validation)
    return record
