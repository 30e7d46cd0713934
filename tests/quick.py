"""Quick training for tests of plumbing. ``PLAIN``: flags for CLI training runs in tests of the CLI's plumbing
(progress, output files, signals, errors): the default recipe's made-up sets and its second (deskewed) view
left out. Making them takes most of such a run's time, and those tests are not about them
(tests/test_world_handwriting.py and the session's ``default_model`` train the whole default).
``mnist_folder``: a small data directory of MNIST's first digits, for ``--data``."""

from pathlib import Path

from digitnet.data.idx import write_idx

PLAIN = ["--outliers", "0", "--synthetic-digits", "0", "--low-resolution", "0", "--restyled-digits", "0", "--deskew", "off"]


def mnist_folder(folder: Path, mnist, n_train: int, n_test: int) -> Path:
    """``folder`` holding the four IDX files of MNIST's first ``n_train`` training and ``n_test`` test digits."""
    for stem, split, n in (("train", mnist.train, n_train), ("t10k", mnist.test, n_test)):
        write_idx(folder / f"{stem}-images-idx3-ubyte", split.images[:n])
        write_idx(folder / f"{stem}-labels-idx1-ubyte", split.labels[:n].astype("uint8"))
    return folder
