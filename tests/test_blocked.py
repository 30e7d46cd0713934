"""The blocked sparse input gives the same products as the dense matrix, and full-batch training uses it."""

import numpy as np

from digitnet import MLP, SGD, fit
from digitnet.blocked import BlockedRows


def test_blocked_products_equal_dense_products(mnist, rng):
    X = mnist.train.features(np.float64)[:5000]
    blocked = BlockedRows(X, block_rows=512)
    assert blocked.density < 0.6
    np.testing.assert_array_equal(blocked.to_dense(), X)
    Xs = X[blocked.order]
    WT = rng.normal(size=(7, 784))
    np.testing.assert_allclose(blocked.wt_xt(WT, np.empty((7, 5000))), WT @ Xs.T, rtol=1e-12, atol=1e-12)
    DT = rng.normal(size=(7, 5000))
    np.testing.assert_allclose(blocked.dt_x(DT, np.empty((7, 784))), DT @ Xs, rtol=1e-12, atol=1e-10)


def test_full_batch_training_matches_the_dense_computation(mnist):
    """fit() stores the input blocked; the weights end up where dense full-batch descent puts them."""
    X, y = mnist.train.features(np.float64)[:8000], mnist.train.labels[:8000]
    blocked_model = MLP([784, 16, 10], "tanh", rng=1, dtype="float64")
    fit(blocked_model, SGD(0.5), X, y, epochs=20, batch_size=None)
    dense_model = MLP([784, 16, 10], "tanh", rng=1, dtype="float64")
    for _ in range(20):  # the same steps by hand, on the dense matrix
        from digitnet import softmax_cross_entropy

        _, d = softmax_cross_entropy(dense_model.forward(X), y)
        dense_model.backward(d)
        SGD(0.5).step(dense_model.params, dense_model.grads)
    for name, p in dense_model.params.items():
        np.testing.assert_allclose(blocked_model.params[name], p, rtol=1e-9, atol=1e-12)
