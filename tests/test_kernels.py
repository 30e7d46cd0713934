"""The compiled kernels (digitnet.nn.kernels) against their NumPy references, bit for bit, and the switch between them.

Every kernel performs the reference's IEEE operations in the reference's order and precision, so every
comparison here is exact (``np.array_equal`` on the bits, NaN included), not a tolerance.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from digitnet import MLP, Adam, AdamW, compiled, fit, softmax_cross_entropy
from digitnet.errors import UsageError
from digitnet.nn import kernels
from digitnet.nn.layers import ACTIVATIONS, Activation

numba_only = pytest.mark.skipif(compiled.numba() is None, reason=compiled.status())
DTYPES = [np.float32, np.float64]


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def on_path(path: str, function, monkeypatch):
    """``function()`` with DIGITNET_KERNELS=path."""
    monkeypatch.setenv("DIGITNET_KERNELS", path)
    return function()


def layer_output(a):
    """``a`` (samples, features) laid out as a Dense layer leaves it: features x samples in memory."""
    return np.ascontiguousarray(a.T).T


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decay", ["none", "l2", "l2-anchor", "adamw", "adamw-anchor"])
@pytest.mark.parametrize("shape", [(7, 5), (784, 700)])  # the second is cut over the cores
def test_adam_is_its_reference_bit_for_bit(dtype, decay, shape, monkeypatch):
    rng = np.random.default_rng(0)
    p0 = np.asfortranarray(rng.normal(size=shape)).astype(dtype)
    grads = [np.asfortranarray(rng.normal(size=shape) * 10.0 ** -e).astype(dtype) for e in range(4)]
    anchor = {"W1": p0 + dtype(0.01)} if decay.endswith("anchor") else None
    wd = 0.0 if decay == "none" else 0.05
    kind = AdamW if decay.startswith("adamw") else Adam

    def steps():
        opt = kind(3e-3, weight_decay=wd, anchor=anchor)
        p = {"W1": p0.copy(order="K")}
        for g in grads:
            opt.step(p, {"W1": g})
        return p["W1"], opt.state["W1"]["m"], opt.state["W1"]["v"]

    fast, reference = on_path("numba", steps, monkeypatch), on_path("numpy", steps, monkeypatch)
    for a, b in zip(fast, reference):
        assert same_bits(a, b)
    assert not same_bits(fast[0], p0)  # it did move


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_bias_and_activation_forward_and_backward_are_their_references(dtype, name, monkeypatch):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(33, 17)) * 3
    z[0, :6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30]  # special values go through as NumPy's do
    bias = rng.normal(size=17).astype(dtype)
    upstream = rng.normal(size=z.shape).astype(dtype)
    upstream[1, :3] = [np.nan, -0.0, np.inf]

    def both():
        layer = Activation(name)
        y = layer.forward(layer_output(z.astype(dtype)), training=True, bias=bias).copy(order="K")
        dz = layer.backward(layer_output(upstream).copy(order="K"))
        return y, dz

    (y, dz), (y_ref, dz_ref) = on_path("numba", both, monkeypatch), on_path("numpy", both, monkeypatch)
    assert same_bits(y, y_ref) and same_bits(dz, dz_ref)


@numba_only
def test_the_kernels_run_where_they_should_and_decline_elsewhere(monkeypatch):
    monkeypatch.setenv("DIGITNET_KERNELS", "numba")
    x = layer_output(np.ones((4, 3), np.float32))
    assert kernels.bias_activation("relu", x, np.zeros(3, np.float32))
    assert not kernels.bias_activation("tanh", x, np.zeros(3, np.float32))  # NumPy's tanh: numba's differs in the last bit
    assert not kernels.bias_activation("relu", np.ones((4, 3), np.float32), np.zeros(3, np.float32))  # samples x features
    assert not kernels.bias_activation("relu", x, np.zeros(3, np.float64))  # mixed dtypes
    assert not kernels.activation_backward("relu", np.ones((4, 3), np.float32), np.ones((3, 4), np.float32).T)
    assert not kernels.activation_backward("relu", np.ones(5, np.int64), np.ones(5, np.int64))
    assert kernels.softmax_cross_entropy(np.ones((4, 3)), np.zeros(4, int), 0.0, 0.25) is None  # samples x classes in memory
    monkeypatch.setenv("DIGITNET_KERNELS", "numpy")
    assert kernels.kernel("_adam_loop") is None and not kernels.bias_activation("relu", x, np.zeros(3, np.float32))


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k, smoothing, outliers, batch_size", [
    (128, 10, 0.0, 0, None), (128, 10, 0.1, 0, None), (256, 10, 0.0, 40, None), (256, 10, 0.05, 40, 1024),
    (2, 2, 0.0, 0, None), (1000, 37, 0.2, 1, None), (64, 10, 0.0, 64, None)])
def test_softmax_cross_entropy_is_its_reference_bit_for_bit(dtype, n, k, smoothing, outliers, batch_size, monkeypatch):
    rng = np.random.default_rng(n + k)
    logits = (rng.normal(size=(n, k)) * 6).astype(dtype)
    logits[0, 0] = 80  # exp would overflow without the shift by the row's max
    labels = rng.integers(0, k, n)
    labels[rng.permutation(n)[:outliers]] = -1

    def loss():
        z = layer_output(logits)
        value, d = softmax_cross_entropy(z, labels, label_smoothing=smoothing, out=z, batch_size=batch_size)
        return value, d.copy(order="K")

    (value, d), (value_ref, d_ref) = on_path("numba", loss, monkeypatch), on_path("numpy", loss, monkeypatch)
    assert value == value_ref and same_bits(d, d_ref)
    assert np.isfinite(value) and np.isfinite(d).all()


@numba_only
def test_the_compiled_loss_keeps_the_references_nan_and_its_index_error(monkeypatch):
    def loss(labels, nan=False):
        z = layer_output(np.arange(12, dtype=np.float32).reshape(4, 3))
        if nan:
            z[2, 1] = np.nan
        value, d = softmax_cross_entropy(z, np.array(labels), out=z)
        return value, d.copy(order="K")

    for path in ("numba", "numpy"):
        monkeypatch.setenv("DIGITNET_KERNELS", path)
        with pytest.raises(IndexError):
            loss([0, 1, 3, 2])  # label 3 of 3 classes
    fast, reference = on_path("numba", lambda: loss([0, 1, 2, -1], nan=True), monkeypatch), \
        on_path("numpy", lambda: loss([0, 1, 2, -1], nan=True), monkeypatch)
    assert np.isnan(fast[0]) and np.isnan(reference[0]) and same_bits(fast[1], reference[1])


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
def test_unit_float_is_pixels_over_255(dtype, monkeypatch):
    pixels = np.random.default_rng(2).integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    pixels[0, 0, :3] = [0, 255, 128]
    fast = on_path("numba", lambda: kernels.unit_float(pixels, dtype), monkeypatch)
    assert same_bits(fast, pixels / np.dtype(dtype).type(255))
    assert same_bits(on_path("numpy", lambda: kernels.unit_float(pixels, dtype), monkeypatch), fast)


@numba_only
@pytest.mark.parametrize("dtype", DTYPES)
def test_deskew_is_its_reference_bit_for_bit(dtype, mnist, monkeypatch):
    """Digits, a blank picture, ink at the very edge, and a flat dash (its slant clipped)."""
    from digitnet.data.deskew import deskew
    from digitnet.nn.model import deskewed

    X = mnist.train.features(dtype)[:300].copy()
    X[0] = 0
    X[1] = 0
    X[1, :28] = 1  # the top row only
    X[2] = 0
    X[2, 14 * 28 + 3:14 * 28 + 25] = 1  # a dash
    fast = on_path("numba", lambda: deskewed(X), monkeypatch)
    assert same_bits(fast, deskew(X))
    assert same_bits(on_path("numpy", lambda: deskewed(X), monkeypatch), fast)
    monkeypatch.setenv("DIGITNET_KERNELS", "numba")
    assert kernels.deskew(X[:10]) is None and kernels.deskew(X[:64]) is not None  # a handful (the server's one) stays NumPy's


@numba_only
@pytest.mark.parametrize("activation, dropout, optimizer, batch", [
    ("relu", 0.0, "adam", 32), ("leaky_relu", 0.2, "adamw", 32), ("tanh", 0.0, "adam", None), ("sigmoid", 0.1, "adamw", 50)])
def test_training_on_either_path_gives_the_same_network(activation, dropout, optimizer, batch, monkeypatch):
    """A few epochs of fit (mini-batches, dropout, outliers, label smoothing; or full batch, on several threads):
    the same weights to the last bit on the compiled kernels and on the NumPy reference."""
    rng = np.random.default_rng(3)
    X = rng.random((400, 30)).astype(np.float32)
    X[X < 0.5] = 0  # sparse, like pixels
    y = rng.integers(0, 10, 400)
    y[:40] = -1

    def train():
        model = MLP([30, 24, 16, 10], activation, rng=4, dropout=dropout)
        opt = (Adam if optimizer == "adam" else AdamW)(1e-2, weight_decay=0.01)
        history = fit(model, opt, X, y, epochs=3, batch_size=batch, label_smoothing=0.1, rng=np.random.default_rng(5))
        return model.params, history["loss"]

    (params, losses), (params_ref, losses_ref) = on_path("numba", train, monkeypatch), on_path("numpy", train, monkeypatch)
    assert losses == losses_ref
    assert all(same_bits(params[name], params_ref[name]) for name in params)


def test_the_mode_switch(monkeypatch):
    monkeypatch.setenv("DIGITNET_KERNELS", "numpy")
    assert compiled.mode() == "numpy" and compiled.numba() is None and compiled.status() == "numpy (DIGITNET_KERNELS=numpy)"
    monkeypatch.setenv("DIGITNET_KERNELS", "fortran")
    with pytest.raises(UsageError, match="DIGITNET_KERNELS='fortran' is not a kernel mode: expected one of numba, numpy"):
        compiled.mode()
    monkeypatch.delenv("DIGITNET_KERNELS")
    assert compiled.requested() == "numba"


def test_without_numba_the_reference_path_trains(monkeypatch):
    """numba missing (or broken): the NumPy path, with the reason, never an error."""
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.setattr(compiled, "_loaded", None)
    monkeypatch.setenv("DIGITNET_KERNELS", "numba")
    assert compiled.mode() == "numpy" and compiled.status().startswith("numpy (numba unavailable: ModuleNotFoundError")
    assert kernels.kernel("_adam_loop") is None
    model = MLP([6, 5, 3], "relu", rng=0)
    fit(model, Adam(1e-2), np.random.default_rng(0).random((20, 6)), np.arange(20) % 3, epochs=1, batch_size=8)
    assert np.isfinite(model.params["W1"]).all()


@numba_only
def test_compiled_code_is_cached_in_the_users_cache_unless_numba_is_told_otherwise(tmp_path):
    """A fresh process: NUMBA_CACHE_DIR set under digitnet's cache directory before numba loads (so a read-only
    site-packages still caches), the kernel's compiled code written there; a NUMBA_CACHE_DIR you set is kept."""
    script = ("import os, sys, numpy as np; from digitnet.nn import kernels; "
              "x = np.ones(4, np.float32); assert kernels.activation_backward('relu', x, x); "
              "print(os.environ['NUMBA_CACHE_DIR']); print(sys.modules['numba'].config.CACHE_DIR)")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "DIGITNET_KERNELS")}
    env["DIGITNET_CACHE"] = str(tmp_path / "cache")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "cache" / "numba")] * 2
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi")), "nothing cached"
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "mine")] * 2 and list((tmp_path / "mine").rglob("*.nbi"))
