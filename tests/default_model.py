"""The default recipe's model that the suite tests, trained once per run: ``python tests/default_model.py FOLDER``
trains it and writes ``FOLDER/model.safetensors``. The session's ``default_model`` fixture has it run in the
background from the moment the tests are collected (tests/background.py), and loads the file."""

from __future__ import annotations

import sys
from pathlib import Path

MODEL = "model.safetensors"


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
    train(Path(sys.argv[1]))
