"""One training step's arithmetic, shared by mini-batch and full-batch training.

    batch -> model.forward -> fused softmax cross-entropy -> model.backward -> model.grads

The optimizer's update is the caller's: :func:`digitnet.training.fit` calls it once
per batch, after the gradient (of one batch, or summed over a full batch's chunks).
"""

from __future__ import annotations

import numpy as np

from ..errors import TrainingDiverged
from ..nn.losses import softmax_cross_entropy


def forward_backward(model, x, labels: np.ndarray, sums: dict, *, rng, metrics: bool, batch_metrics: dict,
                     label_smoothing: float = 0.0, batch_size: int | None = None, accumulate: bool = False) -> float:
    """One batch through ``model`` and back: fills (or with ``accumulate`` adds to) ``model.grads``.

    Adds to ``sums`` the loss times the rows and, with ``metrics``, the correct count and each batch
    metric times the rows (measured before the update). ``batch_size``: see
    :func:`~digitnet.nn.losses.softmax_cross_entropy`. Returns the batch's mean loss.
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


def loss_and_accuracy(model, X: np.ndarray, y: np.ndarray, *, batch_size: int = 4096) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on pixels ``X`` and labels ``y`` (its inference path)."""
    return loss_and_accuracy_of_views(model, model.views(np.ascontiguousarray(X, dtype=model.dtype)), y, batch_size=batch_size)


def loss_and_accuracy_of_views(model, views: list[np.ndarray], y: np.ndarray, *, batch_size: int = 4096) -> tuple[float, float]:
    """:func:`loss_and_accuracy` on the model's views of the pixels (:meth:`~digitnet.nn.model.MLP.views`),
    prepared once: what ``fit`` evaluates every epoch."""
    total, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        yb = y[start:start + batch_size]
        logits = model.mean_logits([view[start:start + batch_size] for view in views])
        correct += int(np.count_nonzero(logits.argmax(axis=1) == yb))
        loss, _ = softmax_cross_entropy(logits, yb, out=logits)
        total += loss * len(yb)
    return total / len(y), correct / len(y)


#: A batch's mean cross-entropy above this (nats) means training has blown up even while the numbers stay
#: finite: the true class's logit sits thousands below the largest. Chance over 10 classes is 2.3; a fresh
#: network's loss is a few nats; tanh or a stable softmax can keep a run that a huge learning rate wrecked
#: finite for ever, at 10% accuracy.
DIVERGED_LOSS = 1e4


def check_finite_loss(loss: float, epoch: int, step: int, lr: float, weight_decay: float = 0.0) -> None:
    """Raise :class:`~digitnet.errors.TrainingDiverged` when ``loss`` is NaN, infinite or above :data:`DIVERGED_LOSS`."""
    if not np.isfinite(loss) or loss > DIVERGED_LOSS:
        raise TrainingDiverged(f"the loss became {loss:.6g} at epoch {epoch}, step {step} (learning rate {lr:g}"
                               + _advice(weight_decay, "or a schedule with warm-up"), _culprits(weight_decay))


def check_finite_params(model, epoch: int, lr: float, weight_decay: float = 0.0) -> None:
    for name, p in model.params.items():
        if not np.isfinite(p).all():
            raise TrainingDiverged(f"parameter {name} became NaN or infinite during epoch {epoch} "
                                   f"(learning rate {lr:g}" + _advice(weight_decay), _culprits(weight_decay))


def _culprits(weight_decay: float) -> tuple[str, ...]:
    """The settings to change, likeliest first: a large weight decay (lr x decay >= 1 flips the weights' sign
    each step), else the learning rate."""
    return ("weight_decay", "lr") if weight_decay >= 0.1 else ("lr",)


def _advice(weight_decay: float, more: str = "") -> str:
    if weight_decay >= 0.1:
        return f", weight decay {weight_decay:g}); try a smaller weight decay or learning rate"
    return "); try a smaller learning rate" + (f" {more}" if more else "")
