"""Your own handwriting: the digits you corrected or confirmed on the page, kept to learn from.

The set lives in ``$DIGITNET_HOME/personal/`` (the user data directory) as two IDX files, the
prepared 28x28 images (uint8) and their labels (the digits 0-9, uint8), plus nothing else: any IDX
reader opens them. Each :func:`add` rewrites both files atomically (a temporary file, fsync, rename)
under a lock, images first, labels second; readers take the same lock, and take as many samples as
*both* files hold, so a crash or a full disk between the two writes loses at most the sample being
added, never an earlier one.

The files are input like any other (an editor, a script or a failing disk may change them): every
read checks them, and a set that is not what :func:`add` writes is refused with :class:`DamagedSet`,
naming the file and the first bad sample, and is never written over. :func:`repair` keeps its intact
prefix (and a copy of the damaged files). The set holds handwritten digits: only a model whose classes
are the ten digits may keep corrections in it or learn from it (:func:`check_model`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .. import paths
from ..data.idx import read_idx, read_idx_prefix, write_idx
from ..data.registry import DIGITS
from ..errors import DataError, UsageError
from ..fileio import atomic_write_bytes
from ..reading.contract import SIDE, check_reads_pictures, class_names, reads_digits
from .modelfile import tensors_digest

IMAGES = "images-idx3-ubyte"
LABELS = "labels-idx1-ubyte"
MAX_SAMPLES = 100_000  # a personal set is corrections, not a dataset: this many is plenty


def directory() -> Path:
    return paths.home() / "personal"


LOCK_TIMEOUT = 30.0  # seconds: a write holds the lock for milliseconds; this long means something is stuck
REPAIR = "`digitnet datasets repair personal` keeps its intact part"


class DamagedSet(DataError):
    """The personal set's files cannot be read, or hold something no sample can be: the message names the file
    and the first bad sample, and says how to repair the set."""


class NotDigits(UsageError):
    """A model whose classes are not the ten digits: the personal set (handwritten digits) cannot teach it."""


@contextmanager
def _locked(folder: Path, *, create: bool = True) -> Iterator[None]:
    """The set's lock (``filelock``: an OS lock on every platform), held by writers and readers alike, so a
    reader never sees one file of a write without the other. ``create=False`` (readers): a folder that is not
    there is not made, and one where no lock file can be made (read-only) is read without it (nobody can write
    there either)."""
    if not create and not folder.is_dir():
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / ".lock", timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise DataError(f"{folder / '.lock'}: another process has held the personal set's lock for "
                        f"{LOCK_TIMEOUT:.0f} s; is something stuck?") from None
    except OSError:
        if create:
            raise
        yield
        return
    try:
        yield
    finally:
        lock.release()


def check_model(model, what: str = "learning from the personal set") -> None:
    """:class:`NotDigits` (a UsageError) unless ``model`` reads 28x28 pictures into the ten digits 0-9."""
    check_reads_pictures(model, what)
    if not reads_digits(model):
        names = class_names(model)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        raise NotDigits(f"{what} needs a model whose classes are the ten digits 0-9 (the personal set holds "
                        f"handwritten digits); this model's {len(names)} classes are {shown}")


#: where a personal model records the model it was fine-tuned from: the SHA-256 of that model's weights
BASE_KEY = "base_sha256"


def mark_base(tuned, base) -> None:
    """Record in ``tuned``'s metadata (under ``finetuned``) which model it was fine-tuned from."""
    tuned.metadata = {**tuned.metadata, "finetuned": {**(tuned.metadata.get("finetuned") or {}),
                                                      BASE_KEY: tensors_digest(base.params)}}


def made_from(tuned, base) -> bool:
    """Whether ``tuned`` was fine-tuned from ``base`` (as :func:`mark_base` recorded)."""
    finetuned = tuned.metadata.get("finetuned")
    return (isinstance(finetuned, dict) and finetuned.get(BASE_KEY) == tensors_digest(base.params)
            and tuned.sizes == base.sizes)


def load(folder: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) uint8, labels (n,) uint8 in 0-9); empty arrays when nothing has been saved.
    Read under the set's lock; :class:`DamagedSet` when its files are not what :func:`add` writes."""
    folder = folder or directory()
    with _locked(folder, create=False):
        return _read(folder)


def _read(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    if not (folder / IMAGES).is_file() or not (folder / LABELS).is_file():
        return np.zeros((0, SIDE, SIDE), np.uint8), np.zeros(0, np.uint8)
    try:
        images, labels = read_idx(folder / IMAGES), read_idx(folder / LABELS)
    except DataError as exc:
        raise DamagedSet(f"the personal set in {folder} is damaged: {exc}; {REPAIR}") from None
    for path, array, shape in ((folder / IMAGES, images, (SIDE, SIDE)), (folder / LABELS, labels, ())):
        if array.ndim != 1 + len(shape) or array.shape[1:] != shape:
            raise DamagedSet(f"the personal set in {folder} is damaged: {path.name} holds an array of shape "
                             f"{array.shape}, expected (n{''.join(f', {d}' for d in shape)}); {REPAIR}")
    if images.dtype != np.uint8:
        raise DamagedSet(f"the personal set in {folder} is damaged: {IMAGES} holds {images.dtype} pixels, expected "
                         f"uint8 (0-255); {REPAIR}")
    n = min(len(images), len(labels))  # both files hold the first n: a write between them was cut short
    bad = _first_bad(images[:n], labels[:n])
    if bad is not None:
        raise DamagedSet(f"the personal set in {folder} is damaged: {LABELS} holds {labels[bad].item()!r} at sample {bad} "
                         f"(of {n}), expected a digit 0-9; {REPAIR}")
    return images[:n], labels[:n].astype(np.uint8)


def _first_bad(images: np.ndarray, labels: np.ndarray) -> int | None:
    """The index of the first sample whose pixels are not whole numbers 0-255 or whose label is not a digit 0-9
    (images and labels of the same length; any number types), or None."""
    with np.errstate(invalid="ignore"):
        pixels_ok = np.array([np.isfinite(x).all() and (x == np.round(x)).all() and x.min(initial=0) >= 0
                              and x.max(initial=0) <= 255 for x in images], bool) if images.dtype != np.uint8 else \
            np.ones(len(images), bool)
        labels_ok = np.isfinite(labels) & (labels == np.round(labels)) & (labels >= 0) & (labels < len(DIGITS))
    ok = pixels_ok & labels_ok
    return None if ok.all() else int(np.argmin(ok))


def add(image: np.ndarray, label: int, *, folder: Path | None = None) -> int:
    """Append one prepared image (28x28, values in [0, 1]) with its label (a digit 0-9); returns the new count."""
    return add_and_count(image, label, folder=folder)[0]


def add_and_count(image: np.ndarray, label: int, *, folder: Path | None = None) -> tuple[int, list[int]]:
    """:func:`add`, also returning how many of each digit the set holds after it (read under the same lock).
    Nothing is written to a damaged set (:class:`DamagedSet`)."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape not in ((SIDE, SIDE), (SIDE * SIDE,)):
        raise UsageError(f"a personal sample is a prepared {SIDE}x{SIDE} image ({SIDE * SIDE} values), got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise UsageError("a personal sample's pixels must be numbers in [0, 1]")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < len(DIGITS):
        raise UsageError(f"label must be a digit, an integer from 0 to {len(DIGITS) - 1}, got {label!r}")
    folder = folder or directory()
    with _locked(folder):
        images, labels = _read(folder)
        if len(images) >= MAX_SAMPLES:
            raise UsageError(f"the personal set already holds {MAX_SAMPLES:,} samples, the most it keeps")
        pixels = np.round(image.reshape(1, SIDE, SIDE) * 255).astype(np.uint8)
        labels = np.concatenate([labels, np.array([label], np.uint8)])
        write_idx(folder / IMAGES, np.concatenate([images, pixels]))
        write_idx(folder / LABELS, labels)
        return len(labels), _count(labels)


def _count(labels: np.ndarray) -> list[int]:
    return np.bincount(labels, minlength=len(DIGITS)).tolist()


def counts(folder: Path | None = None) -> list[int]:
    """How many samples of each digit the set holds (:class:`DamagedSet` for a damaged set)."""
    return _count(load(folder)[1])


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


@dataclass(frozen=True)
class Repair:
    """What :func:`repair` did: samples kept and dropped, where the damaged files were copied, and why."""

    kept: int
    dropped: int
    backup: Path | None = None  # None: the set was whole, nothing was changed
    damage: str | None = None


def repair(folder: Path | None = None) -> Repair:
    """Make a damaged set usable again: keep its intact prefix, the samples before the first one that cannot be
    read or is not a digit 0-9 (pixels stored as other number types are kept when they are whole numbers
    0-255), after copying both damaged files into a ``damaged-YYYYmmdd-HHMMSS`` folder beside them. A whole set
    is left as it is."""
    folder = folder or directory()
    with _locked(folder):
        try:
            images, _ = _read(folder)
            return Repair(len(images), 0)
        except DamagedSet as exc:
            damage = str(exc)
        images, claimed_images = _salvage(folder / IMAGES, (SIDE, SIDE))
        labels, claimed_labels = _salvage(folder / LABELS, ())
        n = min(len(images), len(labels))
        bad = _first_bad(images[:n], labels[:n])
        n = n if bad is None else bad
        backup = _backup(folder)
        write_idx(folder / IMAGES, images[:n].astype(np.uint8))
        write_idx(folder / LABELS, labels[:n].astype(np.uint8))
        return Repair(n, max(claimed_images, claimed_labels) - n, backup, damage)


def _salvage(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """The whole records ``path`` holds (none when its header is unusable or of another shape), and how many it claims."""
    try:
        array, claimed = read_idx_prefix(path)
    except DataError:
        return np.zeros((0, *shape), np.uint8), 0
    if array.shape[1:] != shape:
        return np.zeros((0, *shape), np.uint8), claimed
    return array, claimed


def _backup(folder: Path) -> Path:
    """Copy the set's files, as they are, into a new ``damaged-...`` folder in ``folder``; return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup, k = folder / f"damaged-{stamp}", 1
    while backup.exists():
        k += 1
        backup = folder / f"damaged-{stamp}-{k}"
    for name in (IMAGES, LABELS):
        if (folder / name).is_file():
            atomic_write_bytes(backup / name, (folder / name).read_bytes())
    return backup
