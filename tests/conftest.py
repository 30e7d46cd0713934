import numpy as np
import pytest

from digitnet import datasets


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, from the copy embedded in the package."""
    return datasets.load("mnist")


@pytest.fixture(autouse=True)
def digitnet_home(tmp_path, monkeypatch):
    """Each test gets its own model directory."""
    home = tmp_path / "home"
    monkeypatch.setenv("DIGITNET_HOME", str(home))
    return home


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def served_model(tmp_path_factory, mnist):
    """A good small model for the web app tests (about 98% on MNIST)."""
    from digitnet import save_model
    from digitnet.recipes import RECIPES, train

    result = train(RECIPES["default"].updated(epochs=3), mnist)
    result.model.metadata["recipe"] = "default"
    return save_model(tmp_path_factory.mktemp("served") / "model.safetensors", result.model, result.model.metadata)
