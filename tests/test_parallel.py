"""The elementwise split over threads: bit-identical to one piece, whatever the layout."""

import os
import subprocess
import sys

import numpy as np
import pytest

from digitnet import Adam, parallel


def adam_steps(params, grads, steps=3):
    opt = Adam(0.01)
    for _ in range(steps):
        opt.step(params, grads)
    return params, opt


@pytest.mark.parametrize("order", ["C", "F"])
def test_split_adam_equals_one_piece(rng, monkeypatch, order):
    shape = (700, 300)  # 210,000 elements: three pieces of at least MIN_PIECE
    p0 = np.asarray(rng.normal(size=shape).astype(np.float32), order=order)
    g = np.asarray(rng.normal(size=shape).astype(np.float32), order=order)
    monkeypatch.setattr(parallel, "cores", lambda: 3)
    split, opt = adam_steps({"W1": p0.copy(order="K")}, {"W1": g})
    assert split["W1"].flags.f_contiguous == (order == "F")
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    whole, _ = adam_steps({"W1": p0.copy(order="K")}, {"W1": g})
    assert np.array_equal(split["W1"], whole["W1"]) and not np.array_equal(whole["W1"], p0)
    assert opt.state["W1"]["m"].strides == p0.strides  # slots keep the parameter's layout


def test_pieces_cover_every_element_once(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 4)
    a = np.zeros(4 * parallel.MIN_PIECE + 7, np.float32)
    seen = []

    def kernel(x):
        seen.append(x.size)
        x += 1

    parallel.elementwise(kernel, a)
    assert len(seen) == 4 and sum(seen) == a.size and np.all(a == 1)


def test_mixed_layouts_run_in_one_piece(monkeypatch):
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    c = np.ones((600, 300), np.float32)
    f = np.asfortranarray(np.full((600, 300), 2, np.float32))
    calls = []

    def kernel(x, y):
        calls.append(x.shape)
        x += y

    parallel.elementwise(kernel, c, f)
    assert calls == [(600, 300)] and np.all(c == 3)


def test_restored_slots_take_the_parameter_layout(rng):
    p = np.asfortranarray(rng.normal(size=(300, 400)).astype(np.float32))
    opt = Adam(0.01)
    opt.load_state_dict({"W1.m": np.ones((300, 400), np.float32), "W1.v": np.ones((300, 400), np.float32)}, {"t": 5})
    opt.step({"W1": p}, {"W1": np.ones_like(p)})
    m = opt.state["W1"]["m"]
    assert m.flags.f_contiguous and np.allclose(m, 1)  # 0.9 * 1 + 0.1 * 1, converted, not reset


def test_import_sets_openblas_idle_timeout_unless_set():
    code = "import os, digitnet; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "16"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OPENBLAS_THREAD_TIMEOUT": "28"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "28"
