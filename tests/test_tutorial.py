"""The tutorial's published log ("My final output"), reproduced to every printed digit."""

import numpy as np

from digitnet import MLP
from digitnet.run.recipes import RECIPES, train

PUBLISHED = """\
Cost after iteration 0: 0.230083 Accuracy: 13.260000
Cost after iteration 10: 0.204155 Accuracy: 40.781667
Cost after iteration 20: 0.153983 Accuracy: 47.766667
Cost after iteration 30: 0.118734 Accuracy: 67.136667
Cost after iteration 40: 0.096660 Accuracy: 73.488333
Cost after iteration 50: 0.083073 Accuracy: 77.815000
Cost after iteration 60: 0.072998 Accuracy: 80.786667
Cost after iteration 70: 0.115302 Accuracy: 60.456667
Cost after iteration 80: 0.061357 Accuracy: 84.006667
Cost after iteration 90: 0.060022 Accuracy: 84.413333
Cost after iteration 100: 0.058777 Accuracy: 84.738333
Cost after iteration 110: 0.057598 Accuracy: 85.070000
Cost after iteration 120: 0.056478 Accuracy: 85.361667
Cost after iteration 130: 0.055412 Accuracy: 85.630000
Cost after iteration 140: 0.054397 Accuracy: 85.903333""".splitlines()


def test_seed_recipe_reproduces_all_15_published_lines(mnist, kernel_path):
    result = train(RECIPES["seed"], mnist)
    lines = ["Cost after iteration %i: %f Accuracy: %f" % (r["epoch"], r["cost"], r["accuracy"] * 100)
             for r in result.history.records]
    assert lines == PUBLISHED
    # ... and the tutorial's last step: test image 0 is a 7.
    assert result.model.predict(mnist.test.features(np.float64)[:1])[0] == 7
    assert 0.85 < result.metadata["test_accuracy"] < 0.88


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
