import os

# isort: off
import digitnet  # noqa: F401  (first: it tells OpenBLAS, before NumPy loads it, to let idle threads sleep)
# isort: on
import numpy as np
import pytest

import background
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


#: the default recipe's model, trained once per run through the command (it makes the recipe's made-up sets first
#: on a machine that has none in its cache yet)
DEFAULT_MODEL = background.digitnet("default-model", "train", "--recipe", "default", "--out", "{folder}/model.safetensors",
                                    "--quiet")


def pytest_configure(config):
    config.addinivalue_line("markers", "background(name): the test checks the result of a background command "
                                       "(tests/background.py)")


def pytest_collection_modifyitems(config, items):
    """Start the background commands (tests/background.py) the collected tests need. The files whose tests wait for
    a command run after the others, those that need the default model last (each file's tests in their order), so
    that what they wait for is ready or nearly."""
    for item in items:
        if "default_model" in item.fixturenames:
            item.add_marker(pytest.mark.background(DEFAULT_MODEL))
    waits: dict = {}  # file -> the commands its tests wait for
    for item in items:
        waits.setdefault(item.path, set()).update(mark.args[0] for mark in item.iter_markers("background"))
    items.sort(key=lambda item: (DEFAULT_MODEL in waits[item.path], bool(waits[item.path])))  # a stable sort
    background.start(items)


def pytest_unconfigure(config):
    background.stop()


@pytest.fixture
def ran():
    """``ran(NAME)``: the result of background command NAME (tests/background.py), once it has finished."""
    return background.result


@pytest.fixture(scope="session")
def default_model():
    """The default recipe's model, trained once per run (about 98.5% on MNIST, calibrated, with refusals), in the
    background while other tests run (tests/background.py), and loaded from its file."""
    from digitnet import load_model

    result = background.result(DEFAULT_MODEL)
    assert result.returncode == 0, f"training the default model failed:\n{result.stderr}"
    return load_model(result.folder / "model.safetensors")


@pytest.fixture(scope="session")
def served_model(tmp_path_factory, default_model):
    """The default model, saved, for the web app tests."""
    from digitnet import save_model

    return save_model(tmp_path_factory.mktemp("served") / "model.safetensors", default_model)
