"""Full-batch gradients from chunks, threads and the blocked sparse input equal the dense computation."""

import numpy as np
import pytest

from digitnet import MLP, SGD, fit, parallel, softmax_cross_entropy, tutorial_cost
from digitnet.nn.layers import Dense
from digitnet.training.blocked import BlockedRows
from digitnet.training.fullbatch import FullBatch


def test_column_blocks_give_the_dense_products(mnist, rng):
    X = mnist.train.features(np.float64)[:5000]
    blocked = BlockedRows(X, block_rows=512)
    assert blocked.density < 0.6
    np.testing.assert_array_equal(blocked.to_dense(), X)
    Xs = X[blocked.order]
    layer = Dense(rng.normal(size=(784, 7)), rng.normal(size=7), input_grad=False)
    for i, (rows, block) in enumerate(blocked.blocks):
        np.testing.assert_allclose(layer.forward(block), Xs[rows] @ layer.params["W"] + layer.params["b"],
                                   rtol=1e-12, atol=1e-12)
        layer.backward(np.ones((len(block), 7)), accumulate=i > 0)
    np.testing.assert_allclose(layer.grads["W"], Xs.T @ np.ones((5000, 7)), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], np.full(7, 5000.0))


def dense_gradient(model, X, y, label_smoothing=0.0):
    loss, d = softmax_cross_entropy(model.forward(X), y, label_smoothing=label_smoothing)
    model.backward(d)
    return loss, {k: v.copy() for k, v in model.grads.items()}


@pytest.mark.parametrize("n, smoothing", [(9000, 0.0), (3001, 0.1)])  # blocked input / plain row chunks
def test_full_batch_gradient_equals_one_dense_product(mnist, n, smoothing):
    X, y = mnist.train.features(np.float64)[:n], mnist.train.labels[:n]
    model = MLP([784, 32, 16, 10], "tanh", rng=3, dtype="float64")
    loss, expected = dense_gradient(model, X, y, smoothing)
    full = FullBatch(model, X, y, label_smoothing=smoothing, batch_metrics={"cost": tutorial_cost})
    assert len(full.groups) == min(8, -(-n // 1024))
    sums = full.sums(np.random.default_rng(0))
    assert sums["loss"] / n == pytest.approx(loss, rel=1e-12)
    assert sums["correct"] == np.count_nonzero(model.predict(X) == y)
    assert sums["cost"] / n == pytest.approx(tutorial_cost(model.forward(X), y), rel=1e-9)
    for name, g in expected.items():
        np.testing.assert_allclose(model.grads[name], g, rtol=1e-10, atol=1e-14)


def test_full_batch_is_the_same_on_any_number_of_cores(mnist, monkeypatch):
    """Fixed groups, summed in order, with per-group dropout streams: repeatable bit for bit, and the
    same up to the BLAS's own rounding (its kernels depend on its thread count) on other core counts."""
    X, y = mnist.train.features(np.float32)[:6000], mnist.train.labels[:6000]
    results = []
    for n_cores in (2, 2, 1, 3):
        monkeypatch.setattr(parallel, "cores", lambda n_cores=n_cores: n_cores)
        model = MLP([784, 24, 10], "relu", rng=0, dropout=0.3)
        fit(model, SGD(0.3), X, y, epochs=3, batch_size=None, rng=np.random.default_rng(5))
        results.append(model.params)
    for name, p in results[0].items():
        assert np.array_equal(p, results[1][name]), name
        for other in results[2:]:
            np.testing.assert_allclose(other[name], p, rtol=1e-4, atol=1e-6)
    assert not np.allclose(results[0]["W1"], MLP([784, 24, 10], "relu", rng=0).params["W1"])


def test_full_batch_training_matches_the_dense_computation(mnist):
    """fit() trains on chunks of the blocked input; the weights end up where dense descent puts them."""
    X, y = mnist.train.features(np.float64)[:8000], mnist.train.labels[:8000]
    blocked_model = MLP([784, 16, 10], "tanh", rng=1, dtype="float64")
    fit(blocked_model, SGD(0.5), X, y, epochs=20, batch_size=None)
    dense_model = MLP([784, 16, 10], "tanh", rng=1, dtype="float64")
    for _ in range(20):  # the same steps by hand, on the dense matrix
        dense_gradient(dense_model, X, y)
        SGD(0.5).step(dense_model.params, dense_model.grads)
    for name, p in dense_model.params.items():
        np.testing.assert_allclose(blocked_model.params[name], p, rtol=1e-9, atol=1e-12)
