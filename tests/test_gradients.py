"""Central-difference gradient checks in float64: every activation, Dense, the fused loss, whole networks."""

import numpy as np
import pytest

from digitnet import MLP, softmax_cross_entropy
from digitnet.nn.layers import ACTIVATIONS, Activation, Dense

pytestmark = pytest.mark.usefixtures("kernel_path")  # every test on both paths of the math


def numeric_grad(f, x, eps=1e-6):
    """∂f/∂x by central differences, one element at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient(name, rng):
    z = rng.normal(size=(5, 7))
    z[np.abs(z) < 1e-3] = 0.5  # keep away from the ReLU kink
    upstream = rng.normal(size=z.shape)
    layer = Activation(name)

    def f():
        return float(np.sum(layer.forward(z.copy()) * upstream))

    layer.forward(z.copy())
    analytic = layer.backward(upstream.copy())
    np.testing.assert_allclose(analytic, numeric_grad(f, z), rtol=1e-6, atol=1e-8)


def test_dense_gradients(rng):
    x = rng.normal(size=(6, 4))
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    upstream = rng.normal(size=(6, 3))
    layer = Dense(W, b)

    def f():
        return float(np.sum(layer.forward(x) * upstream))

    layer.forward(x)
    dx = layer.backward(upstream).copy()
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-6)
    np.testing.assert_allclose(layer.grads["W"], numeric_grad(f, layer.params["W"]), rtol=1e-6)
    np.testing.assert_allclose(layer.grads["b"], numeric_grad(f, layer.params["b"]), rtol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_fused_loss_gradient(smoothing, rng):
    logits = np.ascontiguousarray(rng.normal(size=(10, 8)) * 3).T  # as a Dense layer leaves it: the compiled loss's input
    labels = rng.integers(0, 10, size=8)

    def f():
        return softmax_cross_entropy(logits, labels, label_smoothing=smoothing)[0]

    _, dlogits = softmax_cross_entropy(logits, labels, label_smoothing=smoothing)
    np.testing.assert_allclose(dlogits, numeric_grad(f, logits), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_outlier_rows_have_a_uniform_target(smoothing, rng):
    """Label -1 (outlier exposure): loss = cross-entropy to uniform, gradient (p - 1/K)/n; other rows unchanged."""
    logits = np.ascontiguousarray(rng.normal(size=(10, 8)) * 3).T
    labels = rng.integers(0, 10, size=8)
    labels[[1, 5]] = -1

    def f():
        return softmax_cross_entropy(logits, labels, label_smoothing=smoothing)[0]

    loss, dlogits = softmax_cross_entropy(logits, labels, label_smoothing=smoothing)
    np.testing.assert_allclose(dlogits, numeric_grad(f, logits), rtol=1e-6, atol=1e-9)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(dlogits[1], (p[1] - 0.1) / 8, rtol=1e-9)
    inliers = labels >= 0
    _, plain = softmax_cross_entropy(logits[inliers], labels[inliers], label_smoothing=smoothing)
    np.testing.assert_allclose(dlogits[inliers], plain * inliers.sum() / 8, rtol=1e-9)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_whole_network_gradient(activation, rng):
    """A 3-layer network (two hidden layers), every parameter, through the fused loss."""
    model = MLP([5, 4, 3, 3], activation, dtype="float64", rng=7)
    for name, p in model.params.items():
        if name.startswith("b"):  # non-zero biases keep pre-activations off the ReLU kink at exactly 0
            p[...] = rng.normal(size=p.shape) * 0.5
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 3, size=6)

    def f():
        return softmax_cross_entropy(model.forward(x), y)[0]

    _, d = softmax_cross_entropy(model.forward(x), y)
    model.backward(d)
    analytic = {k: v.copy() for k, v in model.grads.items()}
    for name, param in model.params.items():
        np.testing.assert_allclose(analytic[name], numeric_grad(f, param), rtol=1e-5, atol=1e-8, err_msg=name)


def test_hand_worked_example():
    """One tiny network with every number written out by hand.

    x = [1, 2], W1 = [[1, 0], [0, 1]] (identity), b1 = [0, 0], identity activation,
    W2 = [[1, -1], [0, 1]], b2 = [0, 0]  ->  logits = [1, -1 + 2] = [1, 1].
    softmax = [0.5, 0.5]; label 0: loss = -log 0.5 = log 2; dlogits = [0.5 - 1, 0.5] = [-0.5, 0.5].
    dW2 = h^T dlogits = [[1*-0.5, 1*0.5], [2*-0.5, 2*0.5]] = [[-0.5, 0.5], [-1, 1]];  db2 = [-0.5, 0.5].
    dh = dlogits W2^T = [-0.5*1 + 0.5*-1, -0.5*0 + 0.5*1] = [-1, 0.5];  dW1 = x^T dh = [[-1, 0.5], [-2, 1]].
    """
    model = MLP([2, 2, 2], "identity", dtype="float64")
    model.set_params({"W1": np.eye(2), "b1": np.zeros(2), "W2": np.array([[1.0, -1.0], [0.0, 1.0]]), "b2": np.zeros(2)})
    logits = model.forward(np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(logits, [[1.0, 1.0]])
    loss, d = softmax_cross_entropy(logits, np.array([0]))
    assert loss == pytest.approx(np.log(2))
    np.testing.assert_allclose(d, [[-0.5, 0.5]])
    model.backward(d)
    g = model.grads
    np.testing.assert_allclose(g["W2"], [[-0.5, 0.5], [-1.0, 1.0]])
    np.testing.assert_allclose(g["b2"], [-0.5, 0.5])
    np.testing.assert_allclose(g["W1"], [[-1.0, 0.5], [-2.0, 1.0]])
    np.testing.assert_allclose(g["b1"], [-1.0, 0.5])
