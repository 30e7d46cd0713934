"""Full-batch gradients, summed chunk by chunk over several threads.

The gradient of the mean loss over all n samples is a sum of per-sample terms, so
it can be built from chunks of 1,024 rows, small enough for every intermediate to
stay in cache. Consecutive chunks form a fixed number of groups; each group runs
through a replica of the model (the same parameter arrays, its own buffers and
gradients) on its own thread (:func:`digitnet.parallel.run`), and the groups' sums
are added in group order. The result does not depend on the number of threads or
on which finishes first.

The rows stay in memory as they were, except for a sparse input with many zero
columns (MNIST's pixels: 81% zeros), which is stored as
:class:`~digitnet.training.blocked.BlockedRows` so that the first layer skips its zeros.

Both fast paths stay inside this module and :mod:`digitnet.training.blocked`: the model, its
layers and the training loop see one more batch source with the same interface as
:class:`~digitnet.training.batches.MiniBatches`.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from .. import parallel
from .blocked import BlockedRows
from .step import forward_backward

CHUNK_ROWS = 1024
GROUPS = 8  # fixed, so that the sums are the same on any machine; at most this many threads


def replica(model):
    """A copy of ``model`` that shares its parameter arrays and owns everything else
    (layer buffers, gradients, dropout masks): one per thread working on part of a batch."""
    return copy.deepcopy(model, memo={id(p): p for p in model.params.values()})


class FullBatch:
    """The data of full-batch training: one step per epoch over all rows.

    ``X`` (n, d) of the model's dtype, ``y`` (n,) integer labels. The same interface as
    :class:`~digitnet.training.batches.MiniBatches` (:meth:`start_epoch`, :meth:`gradient`, :meth:`close`).
    """

    steps = 1  # per epoch
    order: np.ndarray | None = None  # the rows are never shuffled

    def __init__(self, model, X: np.ndarray, y: np.ndarray, *, label_smoothing: float = 0.0, batch_metrics=None):
        self.model, self.n = model, len(X)
        self.batch_size = self.n
        self.n_labelled = int(np.count_nonzero(y >= 0))  # the rest are outliers (label -1)
        self.label_smoothing, self.batch_metrics = label_smoothing, batch_metrics or {}
        chunks: list = [(rows, X[rows]) for rows in (slice(s, s + CHUNK_ROWS) for s in range(0, self.n, CHUNK_ROWS))]
        if self.n >= 4 * CHUNK_ROWS:
            blocked = BlockedRows(X, CHUNK_ROWS)
            if blocked.density < 0.7:  # worth it: both products of the first layer skip the zero columns
                chunks, y = blocked.blocks, y[blocked.order]
        chunks = [(x, y[rows]) for rows, x in chunks]  # now (rows' inputs, their labels)
        bounds = np.linspace(0, len(chunks), min(GROUPS, len(chunks)) + 1).round().astype(int)
        self.groups = [chunks[a:b] for a, b in zip(bounds, bounds[1:])]
        self.replicas = [model] + [replica(model) for _ in self.groups[1:]]

    def start_epoch(self, epoch: int, rng: np.random.Generator, order=None) -> None:
        pass  # the same rows every epoch

    def close(self) -> None:
        pass

    def gradient(self, i: int, rng: np.random.Generator, sums: dict, *, metrics: bool = True) -> float:
        """Fill ``model.grads`` with the gradient of the mean loss over all rows; add to ``sums``
        the sums over the rows (``loss``, and with ``metrics`` ``correct`` and the batch metrics);
        return the mean loss. ``i`` is always 0."""
        totals = self.sums(rng, metrics=metrics)
        for key, value in totals.items():
            sums[key] += value
        return totals["loss"] / self.n

    def sums(self, rng: np.random.Generator, *, metrics: bool = True) -> dict[str, float]:
        """Fill ``model.grads``; the sums over the rows."""
        # Dropout draws from one generator per group, seeded from ``rng``: the same masks on any machine.
        rngs = [np.random.default_rng(s) for s in rng.integers(2**63, size=len(self.groups))] \
            if self.model.dropout else [rng] * len(self.groups)
        tasks = [functools.partial(self._group, self.replicas[g], self.groups[g], rngs[g], metrics)
                 for g in range(len(self.groups))]
        per_group: list[dict[str, float]] = parallel.run(tasks)
        for name, grad in self.model.grads.items():
            for replica in self.replicas[1:]:
                grad += replica.grads[name]
        return {key: sum(s[key] for s in per_group) for key in per_group[0]}

    def _group(self, model, chunks, rng, metrics: bool) -> dict[str, float]:
        sums = dict.fromkeys(("loss", *(("correct", *self.batch_metrics) if metrics else ())), 0.0)
        for i, (x, labels) in enumerate(chunks):
            forward_backward(model, x, labels, sums, rng=rng, metrics=metrics, batch_metrics=self.batch_metrics,
                             label_smoothing=self.label_smoothing, batch_size=self.n, accumulate=i > 0)
        return sums
