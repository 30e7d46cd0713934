"""Datasets of 28x28 grey images in IDX files: a registry, and :func:`load`.

``load("mnist")`` uses the copy embedded in the package; ``load(DIR)`` reads any
directory holding the four IDX files (``.gz`` or raw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import download
from .idx import read_idx_digest
from .registry import DIGITS, FILES, REGISTRY, DatasetInfo


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset.

    images : uint8 array of shape (n, 28, 28), the originals.
    labels : int64 array of shape (n,).
    ``features(dtype)`` gives the network's input: ``images / 255`` as (n, 784).
    """

    images: np.ndarray
    labels: np.ndarray
    _features: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def features(self, dtype=np.float32) -> np.ndarray:
        """``images / 255`` flattened to (n, pixels), in ``dtype``: computed once per dtype, read-only."""
        dtype = np.dtype(dtype)
        if dtype not in self._features:
            X = self.images.reshape(len(self), -1) / dtype.type(255)
            X.flags.writeable = False
            self._features[dtype] = X
        return self._features[dtype]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset's train and test splits; ``train, test = load("mnist")`` unpacks it."""

    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    sha256: dict[str, str]  # file stem -> SHA-256 of what was read (when known)
    source: str

    def __iter__(self):
        return iter((self.train, self.test))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def of_digits(self) -> bool:
        """Whether the classes are the ten digits (what digit-only training data and rules need)."""
        return tuple(self.classes) == DIGITS


def embedded_dir() -> Path:
    """The directory of the MNIST copy shipped inside the package."""
    return Path(str(resources.files("digitnet.data") / "mnist"))


def find_files(directory: Path) -> dict[str, Path]:
    """Locate the four IDX files in ``directory`` (``.gz`` or raw, ``-idx`` or ``.idx`` spelling)."""
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory (expected one holding {', '.join(FILES)}, .gz or raw)")
    found = {}
    for stem in FILES:
        candidates = [stem, stem.replace("-idx", ".idx")]
        for name in candidates:
            for path in (directory / f"{name}.gz", directory / name):
                if path.is_file():
                    found[stem] = path
                    break
            if stem in found:
                break
        else:
            raise DataError(f"{directory}: missing {stem} (or {stem}.gz); expected the four IDX files {', '.join(FILES)}")
    return found


def load(name: str | Path = "mnist") -> Dataset:
    """Load a registered dataset by name, or any directory holding the four IDX files.

    Every file's uncompressed bytes are hashed (SHA-256). A registered dataset's
    files must match the registry, else :class:`~digitnet.errors.DataError`; a
    directory whose files match a registered dataset takes that dataset's name
    and class names.
    """
    info = REGISTRY.get(str(name))
    if info is not None:
        directory = _locate(info)
    else:
        directory = Path(name)
        if not directory.exists():
            known = ", ".join(REGISTRY)
            raise DataError(f"unknown dataset {str(name)!r}: expected one of {known}, or a directory of IDX files")
    files = find_files(directory)
    arrays, digests = {}, {}
    for stem, path in files.items():
        arrays[stem], digests[stem] = read_idx_digest(path)
    if info is None:
        info = next((i for i in REGISTRY.values() if i.sha256 and i.sha256 == digests), None)
    elif info.sha256:
        for stem, path in files.items():
            if digests[stem] != info.sha256[stem]:
                raise DataError(f"{path}: SHA-256 of the uncompressed data is {digests[stem]}, expected "
                                f"{info.sha256[stem]} for {info.name}: the file is corrupted or not the one expected")
    classes = info.classes if info else DIGITS
    train = _split(arrays, "train", files, len(classes))
    test = _split(arrays, "t10k", files, len(classes))
    if train.images.shape[1:] != test.images.shape[1:]:
        raise DataError(f"{directory}: train images are {train.images.shape[1:]} but test images are {test.images.shape[1:]}")
    return Dataset(info.name if info else directory.name, train, test, classes, digests, str(directory))


def load_for(metadata: dict) -> Dataset:
    """The dataset a model was trained on: the directory it was read from if it is still there, else a
    registered dataset of that name (never a directory of that name under the working directory)."""
    source = metadata.get("dataset_source")
    name = metadata.get("dataset", "mnist")
    if source and Path(source).is_dir():
        try:
            dataset = load(source)
            if dataset.name == name:
                return dataset
        except DataError:
            pass
    if name in REGISTRY:
        return load(name)
    raise DataError(f"the model was trained on {name!r}" + (f" from {source}, which is gone or changed" if source else "")
                    + "; pass --data DIR with its IDX files")


def _locate(info: DatasetInfo) -> Path:
    return embedded_dir() if info.embedded else download.dataset_dir(info)


def _split(arrays: dict, prefix: str, files: dict, num_classes: int) -> Split:
    images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
    ipath, lpath = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(f"{ipath}: expected uint8 images of shape (n, rows, cols), found {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{lpath}: expected uint8 labels of shape (n,), found {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{ipath} holds {len(images):,} images but {lpath} holds {len(labels):,} labels (expected equal counts)")
    if len(labels) and labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DataError(f"{lpath}: label {labels[bad]} at index {bad} is out of range (expected 0 to {num_classes - 1})")
    return Split(images, labels.astype(np.int64))
