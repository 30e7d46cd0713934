import numpy as np
import pytest

from digitnet import MLP, softmax, softmax_cross_entropy, tutorial_cost

pytestmark = pytest.mark.usefixtures("kernel_path")  # every test on both paths of the math


def layer_output(a):
    """``a`` laid out as a Dense layer leaves its output (classes x samples in memory): the compiled loss's input."""
    return np.ascontiguousarray(np.asarray(a).T).T


def test_softmax_rows_sum_to_one_and_huge_logits_are_finite():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, 1.0, 0.2]])
    p = softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_logits_of_1e4(dtype):
    z = layer_output(np.array([[1e4, -1e4], [-1e4, 1e4]], dtype))
    loss, d = softmax_cross_entropy(z, np.array([1, 1]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert loss == pytest.approx(1e4, rel=1e-6)  # first row: log(1 + e^(2e4)) - (-1e4) ≈ 2e4, mean with 0
    assert d.dtype == dtype


def test_loss_matches_the_textbook_formula(rng):
    z = layer_output(rng.normal(size=(7, 10)))
    y = rng.integers(0, 10, size=7)
    onehot = np.eye(10)[y]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss, d = softmax_cross_entropy(z, y)
    assert loss == pytest.approx(-np.mean(np.sum(onehot * np.log(p), axis=1)))
    np.testing.assert_allclose(d, (p - onehot) / 7)  # the tutorial's A - Y, with its 1/m


def test_label_smoothing_targets(rng):
    z = layer_output(rng.normal(size=(4, 10)))
    y = rng.integers(0, 10, size=4)
    eps = 0.1
    t = (1 - eps) * np.eye(10)[y] + eps / 10
    p = softmax(z)
    loss, d = softmax_cross_entropy(z, y, label_smoothing=eps)
    assert loss == pytest.approx(-np.mean(np.sum(t * np.log(p), axis=1)))
    np.testing.assert_allclose(d, (p - t) / 4)


def test_in_place_gradient_overwrites_logits(rng):
    z = layer_output(rng.normal(size=(3, 10)))
    expected = softmax_cross_entropy(z.copy(order="K"), np.array([1, 2, 3]))[1]
    _, d = softmax_cross_entropy(z, np.array([1, 2, 3]), out=z)
    assert d is z
    np.testing.assert_allclose(z, expected)


def test_tutorial_cost_is_the_mean_over_samples_and_classes(rng):
    z = rng.normal(size=(5, 10))
    y = rng.integers(0, 10, size=5)
    a = softmax(z)
    onehot = np.eye(10)[y]
    assert tutorial_cost(z, y) == pytest.approx(-np.mean(onehot * np.log(a + 1e-8)), rel=1e-12)


def test_predict_proba_is_a_distribution(rng):
    model = MLP([6, 5, 4], "tanh", rng=3)
    p = model.predict_proba(rng.normal(size=(9, 6)))
    assert p.shape == (9, 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(rng.normal(size=(9, 6))).shape, (9,))


def test_dropout_keeps_the_expectation_and_masks_the_gradient():
    from digitnet.nn.layers import Dropout

    layer = Dropout(0.3)
    x = np.full((400, 500), 2.0, np.float32)
    y = layer.forward(x.copy(), training=True, rng=np.random.default_rng(0))
    assert abs(y.mean() - 2.0) < 0.02  # inverted dropout: E[y] = x
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 2.0 / 0.7, rtol=1e-6)
    dy = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dy != 0, kept)  # the gradient flows only where units were kept
    np.testing.assert_array_equal(layer.forward(x.copy(), training=False), x)  # inference: identity
