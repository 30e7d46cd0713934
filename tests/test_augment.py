"""Augmentation: labels unchanged, shapes and range kept, zero strength is the identity, seeded runs repeat."""

import numpy as np
import pytest

from digitnet import UsageError
from digitnet.data.augment import Augment, gaussian_matrix

FULL = Augment(shift=2, rotate=10, scale=0.1, shear=5, elastic_alpha=30, elastic_sigma=5)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.train.features()[:64], mnist.train.labels[:64]


def test_shapes_dtype_and_range_are_kept(digits):
    X, _ = digits
    for augment in (FULL, Augment(shift=3), Augment(rotate=30), Augment(elastic_alpha=34, elastic_sigma=4)):
        out = augment(X, np.random.default_rng(0))
        assert out.shape == X.shape and out.dtype == X.dtype
        assert out.min() >= 0 and out.max() <= 1 + 1e-6
        assert not np.array_equal(out, X)


def test_zero_strength_is_the_identity(digits):
    X, _ = digits
    np.testing.assert_array_equal(Augment()(X, np.random.default_rng(0)), X)
    # the sampling path itself is exact at integer coordinates
    np.testing.assert_array_equal(Augment(shift=1e-12)(X, np.random.default_rng(0)), X)


def test_seeded_runs_repeat_exactly(digits):
    X, _ = digits
    a = FULL(X, np.random.default_rng(7))
    b = FULL(X, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, FULL(X, np.random.default_rng(8)))


def test_integer_shift_moves_the_ink(digits):
    """A shift of exactly +1 px down and right moves every pixel by one (nothing else changes)."""
    X, _ = digits
    out = Augment(shift=1)(X[:1], _Constant(1.0))
    np.testing.assert_allclose(out.reshape(28, 28)[1:, 1:], X[0].reshape(28, 28)[:-1, :-1], atol=1e-6)


class _Constant:
    """A stand-in generator whose uniform draws are all at the upper bound."""

    def __init__(self, value):
        self.value = value

    def uniform(self, low, high, size=None):
        return np.full(size, high if self.value > 0 else low, dtype=np.float64) if size is not None else high

    def random(self, size, dtype=np.float64):
        return np.full(size, 0.5, dtype)


def test_elastic_displacement_has_the_expected_size():
    """Smoothed uniform noise times alpha: a few pixels, not tens (Simard et al.'s regime)."""
    rng = np.random.default_rng(0)
    g = gaussian_matrix(28, 5.0)
    field = rng.uniform(-1, 1, (200, 28, 28))
    displacement = 30 * (g @ field @ g.T)
    assert 0.3 < np.abs(displacement).mean() < 3


def test_labels_survive_training_with_augmentation(mnist):
    """Augmented batches keep their labels (misaligned ones would leave it near 10%)."""
    from digitnet import MLP, Adam, fit

    model = MLP([784, 64, 10], "relu", rng=0)
    fit(model, Adam(2e-3), mnist.train.features()[:20000], mnist.train.labels[:20000], epochs=2, batch_size=128, augment=FULL)
    assert np.mean(model.predict(mnist.test.features()) == mnist.test.labels) > 0.90


def test_nonsense_settings_are_refused():
    with pytest.raises(UsageError, match="rotate must be a finite number >= 0"):
        Augment(rotate=-1)
    with pytest.raises(UsageError, match="scale < 1"):
        Augment(scale=1.5)
