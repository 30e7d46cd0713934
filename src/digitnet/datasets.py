"""Datasets of 28x28 grey images in IDX files: a registry, and :func:`load`.

``load("mnist")`` uses the copy embedded in the package; ``load(DIR)`` reads any
directory holding the four IDX files (``.gz`` or raw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from .data.idx import read_idx_digest
from .errors import DataError

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetInfo:
    """What identifies a dataset: its files' SHA-256 (uncompressed) and where to find them."""

    name: str
    description: str
    classes: tuple[str, ...]
    sha256: dict[str, str]  # file stem (FILES) -> SHA-256 of the uncompressed bytes
    urls: tuple[str, ...] = ()  # base URLs, tried in order
    md5: dict[str, str] = field(default_factory=dict)  # file stem -> MD5 of the published .gz
    embedded: bool = False


DIGITS = tuple(str(d) for d in range(10))
REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", "MNIST handwritten digits (LeCun, Cortes, Burges), embedded in the package", DIGITS,
        sha256=dict(zip(FILES, (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ))),
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        md5=dict(zip(FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        embedded=True,
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST: Zalando article images (Xiao, Rasul, Vollgraf 2017)",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        sha256=dict(zip(FILES, (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ))),
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
              "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        md5=dict(zip(FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
    ),
    "kmnist": DatasetInfo(
        "kmnist", "Kuzushiji-MNIST: cursive Japanese characters (Clanuwat et al. 2018)",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        sha256={},  # only the archives' MD5s are published
        urls=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        md5=dict(zip(FILES, ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                             "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"))),
    ),
}


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a dataset.

    images : uint8 array of shape (n, 28, 28), the originals (for display).
    labels : int64 array of shape (n,).
    X : float32 array of shape (n, 784), ``images / 255``, converted once.
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @cached_property
    def X(self) -> np.ndarray:
        return self.features(np.float32)

    @property
    def y(self) -> np.ndarray:
        return self.labels

    def features(self, dtype=np.float32) -> np.ndarray:
        """``images / 255`` flattened to (n, pixels), in ``dtype`` (a new array)."""
        dtype = np.dtype(dtype)
        return self.images.reshape(len(self), -1) / dtype.type(255)


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
    """The dataset a model was trained on: the directory it was read from if it is still there, else by name."""
    source = metadata.get("dataset_source")
    name = metadata.get("dataset", "mnist")
    if source and Path(source).is_dir():
        try:
            dataset = load(source)
            if dataset.name == name:
                return dataset
        except DataError:
            pass
    return load(name)


def _locate(info: DatasetInfo) -> Path:
    if info.embedded:
        return embedded_dir()
    from .download import dataset_dir  # lazy: pooch is only needed for datasets we fetch

    return dataset_dir(info)


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
