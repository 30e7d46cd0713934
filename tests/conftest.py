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
