"""The default recipe's model that the suite tests, trained once per run, in a process of its own that starts as
soon as the tests are collected: the other tests run meanwhile (training keeps about one core busy for ~20 s of
a 2-core machine's otherwise half-idle run). With the suite split over processes (pytest-xdist), the first of them
to collect a test that needs it starts the training, and all of them load the same file.

``python tests/default_model.py FOLDER`` trains it and writes ``FOLDER/model.safetensors`` (atomically), or
``FOLDER/failed.txt`` with the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

MODEL, FAILED, LOG, STARTED = "model.safetensors", "failed.txt", "train.log", "started"
STALL_S = 1800  # far above the ~20-60 s training takes: a guard against waiting forever, not a timing

_training: subprocess.Popen | None = None


def folder(config) -> Path:
    """Where this run's model is written: shared by the run's xdist workers (their base folders' parent)."""
    base = config._tmp_path_factory.getbasetemp()  # the folder tmp_path_factory's folders are made in
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def start(config) -> None:
    """Start training in the background unless a process of this run already has."""
    global _training
    from filelock import FileLock

    where = folder(config)
    with FileLock(where / "default-model.lock"):
        if (where / STARTED).exists():
            return
        (where / STARTED).touch()
        env = {**os.environ, "DIGITNET_HOME": str(where / "home")}
        with open(where / LOG, "wb") as log:
            _training = subprocess.Popen([sys.executable, __file__, str(where)], stdout=log, stderr=subprocess.STDOUT,
                                         env=env)


def load(config):
    """The model, once written (starting the training here if nothing has)."""
    from digitnet import load_model

    where = folder(config)
    start(config)
    deadline = time.monotonic() + STALL_S
    while not (where / MODEL).is_file():
        if (where / FAILED).is_file():
            raise RuntimeError(f"training the default model failed:\n{(where / FAILED).read_text()}")
        if _training is not None and _training.poll() is not None and not (where / MODEL).is_file():
            raise RuntimeError(f"training the default model ended with {_training.returncode}:\n{(where / LOG).read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the default model was not trained within {STALL_S} s (log: {where / LOG})")
        time.sleep(0.1)
    return load_model(where / MODEL)


def stop() -> None:
    """End a training still running when the run ends early (its results are no longer wanted)."""
    if _training is not None and _training.poll() is None:
        _training.kill()
        _training.wait()


def _make_set(kind: str, n: int) -> None:
    from digitnet.synthetic import sets

    getattr(sets, kind)(n)


def train(where: Path) -> None:
    """On a machine that has not made the recipe's two largest made-up sets yet (CI's), they are made side by
    side in two processes first (16 s each here, one after the other otherwise); training reads them back."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from digitnet import save_model
    from digitnet.data import datasets
    from digitnet.run.recipes import RECIPES
    from digitnet.run.recipes import train as train_recipe

    config = RECIPES["default"]
    sets = [("digits", config.synthetic_digits), ("drawn", config.outliers - config.outliers // 3)]
    with ProcessPoolExecutor(len(sets), mp_context=get_context("spawn")) as pool:
        list(pool.map(_make_set, *zip(*sets)))
    result = train_recipe(config, datasets.load("mnist"))
    result.model.metadata["recipe"] = "default"
    save_model(where / MODEL, result.model)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    try:
        train(target)
    except BaseException:
        (target / FAILED).write_text(traceback.format_exc())
        raise
