"""Mini-batch training's data: a new permutation each epoch, batches gathered from it,
and (with augmentation) the next batch prepared on a background thread while the current one trains.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .step import forward_backward


@dataclass(frozen=True)
class Epoch:
    """What an epoch is, decided once: every view of every row (``n_rows`` x ``n_views`` rows, numbered
    ``view * n_rows + row``), cut into batches of ``batch_size`` (None, or at least the epoch's rows: one
    full batch). The training loop, the batch sources and the recipes' schedules all ask it."""

    n_rows: int
    n_views: int = 1
    batch_size: int | None = None

    @property
    def rows(self) -> int:
        """Rows per epoch."""
        return self.n_rows * self.n_views

    @property
    def full(self) -> bool:
        """One step over all rows (full-batch gradient descent)."""
        return self.batch_size is None or self.batch_size >= self.rows

    @property
    def batch(self) -> int:
        return self.rows if self.full else int(self.batch_size or self.rows)

    @property
    def steps(self) -> int:
        """Optimizer steps per epoch."""
        return 1 if self.full else math.ceil(self.rows / self.batch)

    def locate(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(view, row) of each epoch row number."""
        return np.divmod(index, self.n_rows)


class BatchSource(Protocol):
    """Where a training step's rows come from (:class:`MiniBatches`, :class:`~digitnet.training.fullbatch.FullBatch`)."""

    n: int  # rows per epoch
    n_labelled: int  # of which have a class (the others are outliers, label -1)
    batch_size: int
    steps: int  # per epoch
    order: np.ndarray | None  # this epoch's permutation (None: in order)
    batch_metrics: dict

    def start_epoch(self, epoch: int, rng: np.random.Generator, order: np.ndarray | None = None) -> None: ...

    def gradient(self, i: int, rng: np.random.Generator, sums: dict, *, metrics: bool) -> float: ...

    def close(self) -> None: ...


class MiniBatches:
    """``X`` (n, d) of the model's dtype and ``y`` (n,) cut into batches of ``batch_size`` rows.

    The same interface as :class:`~digitnet.training.fullbatch.FullBatch`: :meth:`start_epoch`, then
    :meth:`gradient` for each of the :attr:`steps` steps, and :meth:`close` at the end.
    Each batch's distortions are drawn from ``(augment_seed, epoch, step)``, so a resumed
    run draws the same ones and the next batch can be made ahead of time.
    """

    def __init__(self, model, X: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
                 augment=None, augment_seed: int = 0, label_smoothing: float = 0.0, batch_metrics=None):
        self.model, self.X, self.y = model, X, y
        self.augment = None if augment is None or augment.identity else augment
        # Fixed rows come prepared, every view of each row. Distorted batches are prepared as they are
        # made: an epoch is then every (row, view) pair, numbered view * len(X) + row, as the fixed rows are.
        self.epoch_plan = Epoch(len(X), len(model.preparations) if self.augment else 1, batch_size)
        self.n = self.epoch_plan.rows
        self.n_labelled = int(np.count_nonzero(y >= 0)) * self.epoch_plan.n_views  # the rest are outliers (label -1)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.steps = self.epoch_plan.steps
        self.augment_seed = augment_seed
        self.label_smoothing, self.batch_metrics = label_smoothing, batch_metrics or {}
        self.order: np.ndarray | None = None
        self.epoch = 0
        self._upcoming: Future | None = None
        self._prefetch = ThreadPoolExecutor(1, thread_name_prefix="digitnet-augment") if self.augment else None

    def start_epoch(self, epoch: int, rng: np.random.Generator, order: np.ndarray | None = None) -> None:
        """Begin ``epoch``: a new permutation from ``rng``, or ``order`` (an interrupted epoch's)."""
        self.epoch, self._upcoming = epoch, None
        if order is None and self.shuffle:
            order = rng.permutation(self.n)
        self.order = order

    def batch(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The i-th batch of this epoch (rows, labels), augmented if asked (and then prepared for the
        model, every view of each row: with augmentation, ``X`` holds the pixels; without, rows already prepared)."""
        rows = slice(i * self.batch_size, (i + 1) * self.batch_size)
        idx = self.order[rows] if self.order is not None else np.arange(self.n)[rows]
        view, idx = self.epoch_plan.locate(idx)
        xb = self.X[idx]
        if self.augment is not None:
            xb = self.model.prepare(self.augment(xb, np.random.default_rng([self.augment_seed, self.epoch, i])), view)
        return xb, self.y[idx]

    def gradient(self, i: int, rng: np.random.Generator, sums: dict, *, metrics: bool) -> float:
        """Fill ``model.grads`` from batch ``i``; add its sums; return its mean loss."""
        xb, yb = self._upcoming.result() if self._upcoming is not None else self.batch(i)
        self._upcoming = None
        if self._prefetch is not None and i + 1 < self.steps:
            self._upcoming = self._prefetch.submit(self.batch, i + 1)
        return forward_backward(self.model, xb, yb, sums, rng=rng, metrics=metrics, batch_metrics=self.batch_metrics,
                                label_smoothing=self.label_smoothing)

    def close(self) -> None:
        if self._prefetch is not None:
            self._prefetch.shutdown()
