"""Softmax and cross-entropy, fused."""

from __future__ import annotations

import numpy as np

from . import kernels


def softmax(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax, stable for any finite logits: exp(z - max z) / Σ exp(z - max z).

    z : ndarray of shape (n_samples, n_classes). Returns an array of the same shape.
    """
    out = np.subtract(z, z.max(axis=1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, *, label_smoothing: float = 0.0,
                          out: np.ndarray | None = None, batch_size: int | None = None) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    With targets T (one-hot, or smoothed: T = (1 - ε) onehot + ε / K):

        loss    = mean_i  Σ_k -T_ik log softmax(z_i)_k
        dlogits = (softmax(z) - T) / n

    A label of -1 marks a sample that is not of any class (outlier exposure, Hendrycks,
    Mazeika & Dietterich 2019, https://arxiv.org/abs/1812.04606): its target is the
    uniform distribution, T = 1 / K, so the network learns to answer it with no confidence.

    The gradient is the tutorial's ``A - Y`` (divided by n, the tutorial's 1/m).
    That shortcut is valid only because softmax and cross-entropy are taken
    together and each row of T sums to 1; it is not the gradient of either alone.
    Computed with log-sum-exp, so logits of ±1e4 give finite results.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    labels : int ndarray of shape (n_samples,); -1 for "none of the classes" (uniform target)
    out : where to put dlogits; may be ``logits`` itself (overwritten in place).
    batch_size : when these rows are one chunk of a larger batch, its size: dlogits is
        divided by it instead of by the number of rows here (the loss is still the mean here).

    Returns
    -------
    loss : float
    dlogits : ndarray of shape (n_samples, n_classes)

    On a layer's output (classes x samples in memory), the same arithmetic runs as two compiled passes
    around NumPy's ``exp``, sums and ``log`` when the kernels are on (:func:`digitnet.nn.kernels.softmax_cross_entropy`,
    bit for bit the same result); the NumPy below is the reference.
    """
    n, k = logits.shape
    if out is None or out is logits:
        z = logits if out is logits else logits.copy(order="K")
        loss = kernels.softmax_cross_entropy(z, labels, label_smoothing, 1 / (batch_size or n))
        if loss is not None:
            return loss, z
    rows = np.arange(n)
    eps: float | np.ndarray = label_smoothing
    if n and labels.min() < 0:  # outliers: ε = 1 on their rows (the uniform target)
        outlier = labels < 0
        eps = np.where(outlier, 1.0, label_smoothing).astype(logits.dtype)
        labels = np.where(outlier, 0, labels)  # any column: its weight 1 - ε is 0
    z = np.subtract(logits, logits.max(axis=1, keepdims=True), out=out)
    z_true = z[rows, labels]
    z_sum = z.sum(axis=1) if np.any(eps) else 0.0
    np.exp(z, out=z)
    sums = z.sum(axis=1)
    lse = np.log(sums)
    # -Σ_k T_k log p_k = lse - (1 - ε) z_y - (ε / K) Σ_k z_k, with z shifted by the row max
    per_sample = lse - (1 - eps) * z_true - (eps / k) * z_sum
    z /= sums[:, None]  # z is now softmax(logits)
    z[rows, labels] -= 1 - eps
    if np.any(eps):
        z -= eps / k if np.isscalar(eps) else (eps / k)[:, None]
    z *= 1 / (batch_size or n)
    return float(per_sample.mean()), z


def tutorial_cost(logits: np.ndarray, labels: np.ndarray) -> float:
    """The cost the tutorial prints: ``-np.mean(Y * np.log(A + 1e-8))``.

    The mean runs over samples *and* classes, so it is the usual per-sample
    cross-entropy divided by the number of classes (10), give or take the 1e-8.
    Kept only to reproduce the tutorial's log; training uses
    :func:`softmax_cross_entropy`, whose gradient the tutorial actually uses.
    """
    p = softmax(logits)
    return float(-np.log(p[np.arange(len(labels)), labels] + 1e-8).sum() / p.size)
