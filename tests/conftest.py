import os

import numpy as np
import pytest

from digitnet.data import datasets


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, from the copy embedded in the package."""
    return datasets.load("mnist")


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory):
    """No test, and no module- or session-scoped fixture (they are set up before the per-test
    home below), ever writes to the user's own model directory."""
    saved = os.environ.get("DIGITNET_HOME")
    os.environ["DIGITNET_HOME"] = str(tmp_path_factory.mktemp("session-home"))
    yield
    if saved is None:
        del os.environ["DIGITNET_HOME"]
    else:
        os.environ["DIGITNET_HOME"] = saved


@pytest.fixture(autouse=True)
def digitnet_home(tmp_path, monkeypatch):
    """Each test gets its own model directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("DIGITNET_HOME", str(home))
    return home


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(params=["numba", "numpy"])
def kernel_path(request, monkeypatch):
    """The test runs twice: on the compiled kernels (digitnet.nn.kernels) and on the NumPy reference
    (DIGITNET_KERNELS=numpy). Without numba, the first is skipped and says why."""
    from digitnet import compiled

    monkeypatch.setenv("DIGITNET_KERNELS", request.param)
    if request.param == "numba" and compiled.numba() is None:
        pytest.skip(compiled.status())
    return request.param


def _make_set(kind: str, n: int) -> None:
    from digitnet.synthetic import sets

    getattr(sets, kind)(n)


@pytest.fixture(scope="session")
def default_model(mnist):
    """The default recipe's model, trained once per session (about 98.5% on MNIST, calibrated, with refusals).
    On a machine that has not made the recipe's two largest made-up sets yet (CI's), they are made side by
    side in two processes first (16 s each here, one after the other otherwise); training reads them back."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from digitnet.run.recipes import RECIPES, train

    config = RECIPES["default"]
    sets = [("digits", config.synthetic_digits), ("drawn", config.outliers - config.outliers // 3)]
    with ProcessPoolExecutor(len(sets), mp_context=get_context("spawn")) as pool:
        list(pool.map(_make_set, *zip(*sets)))
    result = train(config, mnist)
    result.model.metadata["recipe"] = "default"
    return result.model


@pytest.fixture(scope="session")
def served_model(tmp_path_factory, default_model):
    """The default model, saved, for the web app tests."""
    from digitnet import save_model

    return save_model(tmp_path_factory.mktemp("served") / "model.safetensors", default_model)
