"""Figures of training and evaluation. Each function returns a ``matplotlib.figure.Figure``
(Agg, no pyplot state), so notebooks get the same pictures as ``digitnet``.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..fileio import atomic_write_bytes
from ..nn.metrics import evaluate, per_class_accuracy

BLUE, ORANGE, GREEN, RED, GREY = "#1f6fb2", "#e07b19", "#2c9c5a", "#c8393b", "#7a7a7a"
STYLE = {
    "font.size": 10, "axes.titlesize": 12, "axes.titleweight": "bold", "axes.labelsize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "legend.frameon": False, "figure.dpi": 100, "savefig.dpi": 100, "savefig.bbox": "tight",
}


def _styled(function):
    """Build the figure under digitnet's style, leaving matplotlib's global settings alone."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
            return function(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG, atomically."""
    atomic_write_bytes(path, png_bytes(fig))
    return Path(path)


@_styled
def learning_curves(history) -> Figure:
    """Loss and accuracy per epoch, train vs validation, and the learning rate."""
    records = history.records if hasattr(history, "records") else history
    epochs = [r["epoch"] + 1 for r in records]
    fig = _figure(12, 3.8)
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    ax_loss.plot(epochs, [r["loss"] for r in records], "o-", color=BLUE, label="train", ms=3)
    ax_acc.plot(epochs, [r["accuracy"] * 100 for r in records], "o-", color=BLUE, label="train", ms=3)
    if records and "val_loss" in records[0]:
        ax_loss.plot(epochs, [r["val_loss"] for r in records], "s-", color=ORANGE, label="validation", ms=3)
        ax_acc.plot(epochs, [r["val_accuracy"] * 100 for r in records], "s-", color=ORANGE, label="validation", ms=3)
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="cross-entropy (nats per sample)")
    if records and min(r["loss"] for r in records) > 0:
        ax_loss.set_yscale("log")
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    ax_loss.legend()
    ax_acc.legend()
    ax_lr.plot(epochs, [r["lr"] for r in records], "-", color=GREEN)
    ax_lr.set(title="Learning rate (last step of epoch)", xlabel="epoch", ylabel="learning rate")
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seconds = records[-1]["seconds"] if records else 0
    fig.suptitle(f"Learning curves — {len(records)} logged epochs, {seconds:.1f} s of training", fontweight="bold")
    return fig


@_styled
def confusion_heatmap(confusion: np.ndarray, classes) -> Figure:
    """The confusion matrix as an annotated heatmap (rows: true class; colour: share of the row)."""
    k = len(classes)
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig = _figure(7.5, 6.5)
    ax = fig.subplots()
    image = ax.imshow(shares * 100, cmap="Blues", vmin=0, vmax=100)
    ax.grid(False)
    for i in range(k):
        for j in range(k):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.5 else ("#8b0000" if i != j else "black"))
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0,
                  ha="right" if max(map(len, classes)) > 2 else "center")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=f"Confusion matrix — {np.trace(confusion):,} of {confusion.sum():,} correct")
    fig.colorbar(image, ax=ax, label="% of the true class", shrink=0.8)
    return fig


@_styled
def worst_misclassified(images: np.ndarray, labels: np.ndarray, proba: np.ndarray, classes, count: int = 24) -> Figure:
    """The misclassified test images the model was most confident about, with true/predicted labels."""
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]])][:count]
    cols = 8
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig = _figure(cols * 1.45, rows * 1.75 + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, order):
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"#{i} true {classes[labels[i]]}\npred {classes[pred[i]]} {proba[i, pred[i]] * 100:.0f}%",
                     fontsize=8, fontweight="normal", color=RED)
    fig.suptitle(f"Most confident mistakes — {len(order)} of {len(wrong):,} misclassified test images", fontweight="bold")
    return fig


@_styled
def per_class_bars(confusion: np.ndarray, classes) -> Figure:
    """Accuracy (recall) of each class, with the overall accuracy as a line."""
    acc = per_class_accuracy(confusion) * 100
    overall = np.trace(confusion) / confusion.sum() * 100
    fig = _figure(8, 4)
    ax = fig.subplots()
    colors = [RED if a == np.nanmin(acc) else BLUE for a in acc]
    bars = ax.bar(range(len(classes)), acc, color=colors)
    ax.bar_label(bars, [f"{a:.1f}" for a in acc], fontsize=8, padding=2)
    ax.axhline(overall, color=GREY, ls="--", lw=1, label=f"overall {overall:.2f}%")
    low = max(0.0, np.floor(np.nanmin(acc) / 5) * 5 - 5)
    ax.set_ylim(low, 100.5)
    ax.set_xticks(range(len(classes)), classes)
    ax.set(xlabel="true class", ylabel="accuracy (%)", title="Per-class accuracy on the test set (worst in red)")
    ax.legend(loc="upper right")
    return fig


@_styled
def first_layer_weights(model, count: int = 64) -> Figure:
    """Each of the first hidden units' incoming weights as a 28x28 image: what the unit "looks for"
    (blue: ink there raises its input, red: ink there lowers it)."""
    W = model.params["W1"]
    side = int(round(np.sqrt(W.shape[0])))
    count = min(count, W.shape[1])
    cols = min(8, count)
    rows = int(np.ceil(count / cols))
    fig = _figure(cols * 1.2, rows * 1.2 + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    norms = np.linalg.norm(W, axis=0)
    for ax, unit in zip(axes, np.argsort(-norms)[:count]):
        w = W[:, unit].reshape(side, side) if side * side == W.shape[0] else W[:, unit][None, :]
        limit = np.abs(w).max() or 1
        ax.imshow(w, cmap="RdBu", vmin=-limit, vmax=limit)
    fig.suptitle(f"First-layer weights — {count} of {W.shape[1]} hidden units, largest first", fontweight="bold")
    return fig


@_styled
def reliability_diagram(proba: np.ndarray, labels: np.ndarray, bins: int = 15) -> Figure:
    """Calibration: accuracy vs confidence in bins of confidence, with the expected calibration error."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    acc = np.bincount(which, weights=correct, minlength=bins) / np.maximum(counts, 1)
    conf = np.bincount(which, weights=confidence, minlength=bins) / np.maximum(counts, 1)
    ece = float(np.sum(counts / len(labels) * np.abs(acc - conf)))
    fig = _figure(10, 4.2)
    ax, ax_hist = fig.subplots(1, 2, width_ratios=[1.3, 1])
    centres = (edges[:-1] + edges[1:]) / 2
    mask = counts > 0
    ax.bar(centres[mask], acc[mask], width=1 / bins * 0.9, color=BLUE, label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "--", color=GREY, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", ylabel="accuracy",
           title=f"Reliability — ECE {ece * 100:.2f}%")
    ax.legend(loc="upper left")
    ax_hist.bar(centres, counts, width=1 / bins * 0.9, color=ORANGE)
    ax_hist.set_yscale("log")
    ax_hist.set(xlim=(0, 1), xlabel="confidence", ylabel="test images (log scale)", title="How confident the model is")
    return fig


@_styled
def augmentation_grid(images: np.ndarray, augment, rng: np.random.Generator, copies: int = 7) -> Figure:
    """Each image (left column, framed) followed by ``copies`` random distortions of it."""
    rows = len(images)
    fig = _figure((copies + 1) * 1.1, rows * 1.1 + 0.6)
    axes = np.atleast_2d(fig.subplots(rows, copies + 1))
    side = int(round(np.sqrt(images.shape[1])))
    for r, image in enumerate(images):
        distorted = augment(np.repeat(image[None], copies, axis=0), rng)
        for c, picture in enumerate([image, *distorted]):
            ax = axes[r, c]
            ax.imshow(picture.reshape(side, side), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(c == 0)
                spine.set_color(ORANGE)
                spine.set_linewidth(2)
    fig.suptitle("Augmentation — original (framed), then random distortions", fontweight="bold")
    return fig


def evaluation_figures(model, dataset, result=None) -> dict[str, Figure]:
    """Every evaluation figure for ``model`` on ``dataset``'s test split, by file stem.

    ``result``: its :class:`~digitnet.nn.metrics.Evaluation` on that split, if already computed."""
    result = result or evaluate(model, dataset.test, dataset.num_classes)
    return {
        "confusion_matrix": confusion_heatmap(result.confusion, dataset.classes),
        "worst_misclassified": worst_misclassified(dataset.test.images, result.labels, result.probabilities,
                                                   dataset.classes),
        "per_class_accuracy": per_class_bars(result.confusion, dataset.classes),
        "first_layer_weights": first_layer_weights(model),
        "reliability": reliability_diagram(result.probabilities, result.labels),
    }
