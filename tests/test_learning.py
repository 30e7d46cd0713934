"""Learning tests on the real MNIST: each asserts a test-accuracy threshold."""

import numpy as np
import pytest

from digitnet import MLP, SGD, Adam, AdamW, EarlyStopping, fit
from digitnet.nn.schedules import Constant


def test_small_mlp_reaches_95_percent(mnist):
    model = MLP([784, 64, 10], "relu", rng=0)
    fit(model, Adam(2e-3), mnist.train.features(), mnist.train.labels, epochs=2, batch_size=128, rng=np.random.default_rng(0))
    assert np.mean(model.predict(mnist.test.features()) == mnist.test.labels) >= 0.95


@pytest.mark.parametrize("optimizer", [
    lambda: SGD(0.2),
    lambda: SGD(0.05, momentum=0.9),
    lambda: SGD(0.05, momentum=0.9, nesterov=True),
    lambda: Adam(1e-3),
    lambda: AdamW(1e-3, weight_decay=1e-4),
], ids=["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_each_optimizer_learns_mnist(mnist, optimizer):
    model = MLP([784, 64, 10], "relu", rng=1)
    fit(model, optimizer(), mnist.train.features()[:20000], mnist.train.labels[:20000], epochs=2, batch_size=64,
        rng=np.random.default_rng(1))
    assert np.mean(model.predict(mnist.test.features()) == mnist.test.labels) >= 0.92


def test_full_batch_gradient_descent_learns(mnist):
    model = MLP([784, 32, 10], "tanh", rng=2)
    history = fit(model, SGD(Constant(0.5)), mnist.train.features()[:10000], mnist.train.labels[:10000], epochs=60,
                  batch_size=None, log_every=10)
    assert [r["epoch"] for r in history.records] == [0, 10, 20, 30, 40, 50]
    assert history["loss"][-1] < history["loss"][0]
    assert np.mean(model.predict(mnist.test.features()) == mnist.test.labels) >= 0.85


def test_training_is_reproducible_and_leaves_global_state_alone(mnist):
    state = np.random.get_state()

    def run():
        model = MLP([784, 32, 10], "relu", rng=3, dropout=0.2)
        h = fit(model, Adam(1e-3), mnist.train.features()[:3000], mnist.train.labels[:3000], epochs=2, batch_size=100,
                rng=np.random.default_rng(3))
        return model, h

    (m1, h1), (m2, h2) = run(), run()
    for name in m1.params:
        np.testing.assert_array_equal(m1.params[name], m2.params[name])
    assert [r["loss"] for r in h1.records] == [r["loss"] for r in h2.records]
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), state))


def test_early_stopping_restores_the_best_epoch(mnist):
    """With a huge learning rate after epoch 1 the validation loss gets worse; the best weights come back."""
    from digitnet.nn.schedules import Step

    X, y = mnist.train.features()[:4000], mnist.train.labels[:4000]
    Xv, yv = mnist.train.features()[4000:6000], mnist.train.labels[4000:6000]
    model = MLP([784, 32, 10], "relu", rng=4)
    stopper = EarlyStopping(patience=2)
    steps = 40  # 4000 / 100 per epoch
    history = fit(model, SGD(Step(0.1, (2 * steps,), (3.0,))), X, y, epochs=20, batch_size=100,
                  validation=(Xv, yv), callbacks=[stopper])
    best = min(history.records, key=lambda r: r["val_loss"])
    assert len(history) < 20  # it stopped early
    assert stopper.best_epoch == best["epoch"]
    from digitnet.training.step import loss_and_accuracy

    assert loss_and_accuracy(model, Xv, yv)[0] == pytest.approx(best["val_loss"], rel=1e-6)
