"""The tutorial's published log ("My final output"), reproduced to every printed digit."""

import numpy as np
import pytest

import background
from digitnet import MLP, load_model
from tutorial_log import PUBLISHED

#: the tutorial's run on the NumPy reference path of the math
SEED = background.digitnet("seed-numpy", "train", "--recipe", "seed", "--out", "{folder}/seed.safetensors",
                           env={"DIGITNET_KERNELS": "numpy"})


@pytest.mark.background(SEED)
def test_seed_recipe_reproduces_all_15_published_lines(ran, mnist):
    """On the NumPy reference path of the math, from the history the model file keeps; tests/test_cli.py checks
    the lines the command prints on the compiled kernels (the default path)."""
    result = ran(SEED)
    assert result.returncode == 0, result.stderr
    model = load_model(result.folder / "seed.safetensors")
    lines = ["Cost after iteration %i: %f Accuracy: %f" % (r["epoch"], r["cost"], r["accuracy"] * 100)
             for r in model.metadata["history"]["records"]]
    assert lines == PUBLISHED
    # ... and the tutorial's last step: test image 0 is a 7.
    assert model.predict(mnist.test.features(np.float64)[:1])[0] == 7
    assert 0.85 < model.metadata["test_accuracy"] < 0.88


def test_tutorial_initialization_is_the_tutorials_stream():
    """W{l} = (np.random.seed(2); randn(out, in) * 0.1 for each layer in order), transposed."""
    legacy = np.random.RandomState(2)
    expected = [legacy.randn(16, 784) * 0.1, legacy.randn(16, 16) * 0.1, legacy.randn(10, 16) * 0.1]
    state = np.random.get_state()
    model = MLP([784, 16, 16, 10], "tanh", init="tutorial", rng=2, dtype="float64")
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), state))  # global state untouched
    for i, w in enumerate(expected, 1):
        np.testing.assert_array_equal(model.params[f"W{i}"], w.T)
        np.testing.assert_array_equal(model.params[f"b{i}"], 0)
