"""Your own handwriting: the digits you corrected or confirmed on the page, kept to learn from.

The set lives in ``$DIGITNET_HOME/personal/`` (the user data directory) as two IDX files, the
prepared 28x28 images (uint8) and their labels, plus nothing else: any IDX reader opens them.
Each :func:`add` rewrites both files atomically (a temporary file, fsync, rename) under a lock,
images first, labels second; a reader takes as many samples as *both* files hold, so a crash or a
full disk between the two writes loses at most the sample being added, never an earlier one.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .. import paths
from ..data.idx import read_idx, write_idx
from ..errors import DataError, UsageError

IMAGES = "images-idx3-ubyte"
LABELS = "labels-idx1-ubyte"
MAX_SAMPLES = 100_000  # a personal set is corrections, not a dataset: this many is plenty


def directory() -> Path:
    return paths.home() / "personal"


LOCK_TIMEOUT = 30.0  # seconds: a write holds the lock for milliseconds; this long means something is stuck


@contextmanager
def _locked(folder: Path):
    """The set's lock (``filelock``: an OS lock on every platform): one writer at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / ".lock", timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise DataError(f"{folder / '.lock'}: another process has held the personal set's lock for "
                        f"{LOCK_TIMEOUT:.0f} s; is something stuck?") from None
    try:
        yield
    finally:
        lock.release()


def load(folder: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) uint8, labels (n,) uint8); empty arrays when nothing has been saved."""
    folder = folder or directory()
    if not (folder / IMAGES).is_file() or not (folder / LABELS).is_file():
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    images, labels = read_idx(folder / IMAGES), read_idx(folder / LABELS)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataError(f"{folder}: the personal set's files hold {images.shape} images and {labels.shape} labels, "
                        "expected (n, 28, 28) and (n,)")
    n = min(len(images), len(labels))  # both files hold the first n: a write between them was cut short
    return images[:n], labels[:n]


def add(image: np.ndarray, label: int, *, n_classes: int = 10, folder: Path | None = None) -> int:
    """Append one prepared image (28x28, values in [0, 1]) with its label; returns the new count."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape not in ((28, 28), (784,)):
        raise UsageError(f"a personal sample is a prepared 28x28 image (784 values), got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise UsageError("a personal sample's pixels must be numbers in [0, 1]")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
        raise UsageError(f"label must be an integer from 0 to {n_classes - 1}, got {label!r}")
    folder = folder or directory()
    with _locked(folder):
        images, labels = load(folder)
        if len(images) >= MAX_SAMPLES:
            raise UsageError(f"the personal set already holds {MAX_SAMPLES:,} samples, the most it keeps")
        pixels = np.round(image.reshape(1, 28, 28) * 255).astype(np.uint8)
        write_idx(folder / IMAGES, np.concatenate([images, pixels]))
        write_idx(folder / LABELS, np.concatenate([labels, np.array([label], np.uint8)]))
        return len(images) + 1


def counts(folder: Path | None = None, n_classes: int = 10) -> list[int]:
    """How many samples of each class the set holds."""
    _, labels = load(folder)
    return np.bincount(labels, minlength=n_classes)[:n_classes].tolist()


def export(target: Path, folder: Path | None = None) -> Path:
    """Copy the set's two files into ``target`` (a directory, created if needed)."""
    folder = folder or directory()
    images, labels = load(folder)
    if not len(images):
        raise UsageError(f"the personal set in {folder} is empty: correct or confirm a few digits on the page first")
    target.mkdir(parents=True, exist_ok=True)
    write_idx(target / IMAGES, images)  # the consistent prefix, whatever state the files are in
    write_idx(target / LABELS, labels)
    return target


def clear(folder: Path | None = None) -> None:
    """Forget every sample (the files are removed)."""
    folder = folder or directory()
    with _locked(folder):
        for name in (IMAGES, LABELS):
            try:
                os.unlink(folder / name)
            except FileNotFoundError:
                pass

