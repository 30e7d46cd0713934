"""Optimizer steps checked against their formulas written out again; schedules at given steps."""

import math

import numpy as np
import pytest

from digitnet import SGD, Adam, AdamW
from digitnet.nn.schedules import Constant, Cosine, OneCycle, Step

pytestmark = pytest.mark.usefixtures("kernel_path")  # every test on both paths of the math


def run(optimizer, grads, p0):
    p = {"W1": p0.copy()}
    for g in grads:
        optimizer.step(p, {"W1": g})
    return p["W1"]


@pytest.fixture
def data(rng):
    return rng.normal(size=(3, 4)), [rng.normal(size=(3, 4)) for _ in range(4)]


def test_sgd(data):
    p0, gs = data
    expected = p0 - 0.1 * sum(gs)
    np.testing.assert_allclose(run(SGD(0.1), gs, p0), expected)


def test_momentum_and_nesterov(data):
    p0, gs = data
    for nesterov in (False, True):
        p, v = p0.copy(), np.zeros_like(p0)
        for g in gs:
            v = 0.9 * v + g
            p = p - 0.1 * (g + 0.9 * v if nesterov else v)
        np.testing.assert_allclose(run(SGD(0.1, 0.9, nesterov=nesterov), gs, p0), p)


def test_adam(data):
    p0, gs = data
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(gs, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(run(Adam(lr), gs, p0), p, rtol=1e-6)


def test_adamw_decouples_weight_decay(data):
    p0, gs = data
    b1, b2, eps, lr, wd = 0.9, 0.999, 1e-8, 0.01, 0.1
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(gs, 1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(run(AdamW(lr, weight_decay=wd), gs, p0), p, rtol=1e-6)


def test_state_is_keyed_by_parameter_name(data):
    p0, gs = data
    opt = Adam(0.01)
    params = {"W1": p0.copy(), "b1": np.zeros(4)}
    opt.step(params, {"W1": gs[0], "b1": np.ones(4)})
    assert set(opt.state) == {"W1", "b1"}
    arrays, scalars = opt.state_dict()
    assert set(arrays) == {"W1.m", "W1.v", "b1.m", "b1.v"} and scalars == {"t": 1}


def test_schedules_at_given_steps():
    tutorial = Step(0.5, (76,), (0.1,))
    assert [tutorial(i) for i in (0, 75, 76, 149)] == [0.5, 0.5, 0.1, 0.1]
    assert Constant(0.3)(1000) == 0.3
    cos = Cosine(1.0, total=100, warmup=10)
    assert cos(0) == pytest.approx(0.1) and cos(9) == pytest.approx(1.0)
    assert cos(10) == pytest.approx(1.0) and cos(55) == pytest.approx(0.5) and cos(100) == pytest.approx(0.0)
    one = OneCycle(1.0, total=100, pct=0.3)
    assert one(0) == pytest.approx(1 / 25) and one(30) == pytest.approx(1.0)
    assert one(99) == pytest.approx(1e-4) and one(15) == pytest.approx(1 / 25 + (1 - 1 / 25) * 0.5)


def test_bad_schedule_values():
    from digitnet import UsageError

    with pytest.raises(UsageError, match="learning rate must be a positive number"):
        Constant(-1.0)
    with pytest.raises(UsageError, match="learning rate must be a positive number"):
        Constant(math.nan)
