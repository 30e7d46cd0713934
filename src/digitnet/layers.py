"""Layers: each holds its whole math, ``forward(x) -> y`` and ``backward(dy) -> dx``.

Rows are samples everywhere in the API: ``x`` is (n_samples, n_features).
In memory, the outputs of ``Dense`` are stored the tutorial's way round
(features x samples, C order) and handed on as transposed views: OpenBLAS is
up to 1.6x faster on the tutorial's skinny layers when the long batch dimension
is the last one of the GEMM's output (``benchmarks/`` has the numbers). The
values are the same; only the memory order differs.

Every layer reuses its output buffers from step to step, so what ``forward``
returns is valid until the next call with the same batch size.
"""

from __future__ import annotations

import numpy as np

from .blocked import ColumnBlock
from .errors import UsageError


class Buffers:
    """Preallocated arrays, reused while the shape and dtype stay the same."""

    def __init__(self):
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        key = (name, shape, np.dtype(dtype))
        array = self._arrays.get(key)
        if array is None:
            if len(self._arrays) > 16:  # e.g. many evaluation batch sizes: keep memory bounded
                self._arrays.clear()
            array = self._arrays[key] = np.empty(shape, dtype)
        return array


class Dense:
    """Fully connected layer.

    Forward:   Y = X W + b          (tutorial: Z = W X + b, columns as samples)
    Backward:  dW = Xᵀ dY           (tutorial: dW = dZ Aᵀ)
               db = Σ_rows dY       (tutorial: db = Σ_columns dZ)
               dX = dY Wᵀ           (tutorial: dA = Wᵀ dZ)

    The 1/m of the tutorial's gradients is already inside ``dY`` (see
    :func:`digitnet.losses.softmax_cross_entropy`).

    Parameters
    ----------
    W : ndarray of shape (fan_in, fan_out), stored in Fortran order (its memory
        is the tutorial's (fan_out, fan_in) matrix).
    b : ndarray of shape (fan_out,)
    input_grad : bool
        Whether ``backward`` returns dX; the first layer's input is the data,
        whose gradient nobody needs.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, *, input_grad: bool = True):
        self.params = {"W": np.asfortranarray(W), "b": np.ascontiguousarray(b)}
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.input_grad = input_grad
        self._buffers = Buffers()
        self._x = None

    def forward(self, x: np.ndarray, *, training: bool = False, rng=None) -> np.ndarray:
        W, b = self.params["W"], self.params["b"]
        self._x = x
        yT = self._buffers.get("y", (W.shape[1], x.shape[0]), W.dtype)
        if isinstance(x, ColumnBlock):  # rows of a sparse input without their all-zero columns
            np.matmul(W.T[:, x.used], x.values.T, out=yT)
        else:
            np.matmul(W.T, x.T, out=yT)  # Yᵀ = Wᵀ Xᵀ: the same product, batch as the long output dimension
        yT += b[:, None]
        return yT.T

    def backward(self, dy: np.ndarray, *, accumulate: bool = False) -> np.ndarray | None:
        """dX, after storing dW and db in ``grads`` (added to them if ``accumulate``)."""
        W, x = self.params["W"], self._x
        dWT, db = self.grads["W"].T, self.grads["b"]
        if isinstance(x, ColumnBlock):
            if not accumulate:
                dWT[...] = 0
            dWT[:, x.used] += dy.T @ x.values  # the other columns of x are zero
        elif accumulate:
            dWT += dy.T @ x
        else:
            np.matmul(dy.T, x, out=dWT)  # dWᵀ = dYᵀ X
        if accumulate:
            db += dy.sum(axis=0)
        else:
            np.sum(dy, axis=0, out=db)
        if not self.input_grad:
            return None
        dxT = self._buffers.get("dx", (W.shape[0], dy.shape[0]), W.dtype)
        np.matmul(W, dy.T, out=dxT)  # dXᵀ = W dYᵀ
        return dxT.T

    def replica(self) -> Dense:
        """A layer with the same parameter arrays and its own buffers and gradients."""
        twin = Dense(self.params["W"], self.params["b"], input_grad=self.input_grad)
        twin.params = self.params  # the very same arrays
        return twin


# Activations, in place. Each derivative is written from the output y where that
# is cheaper (tanh: 1 - y², as the tutorial derives). The backward functions may
# overwrite y: it is not needed once the gradient has passed through.

def _tanh(z):
    return np.tanh(z, out=z)


def _tanh_backward(dy, y):  # dZ = dA * (1 - A²)
    np.multiply(y, y, out=y)
    np.subtract(1, y, out=y)
    dy *= y


def _relu(z):
    return np.maximum(z, 0, out=z)


def _relu_backward(dy, y):  # dZ = dA * [A > 0]
    dy *= y > 0


LEAKY_SLOPE = 0.01


def _leaky_relu(z):
    return np.maximum(z, LEAKY_SLOPE * z, out=z)  # max(z, a z) for 0 < a < 1


def _leaky_relu_backward(dy, y):  # dZ = dA * (1 if A > 0 else a)
    slope = (y > 0).astype(dy.dtype)
    slope *= 1 - LEAKY_SLOPE
    slope += LEAKY_SLOPE
    dy *= slope


def _sigmoid(z):  # σ(z) = (1 + tanh(z/2)) / 2: no overflow for large |z|
    z *= 0.5
    np.tanh(z, out=z)
    z += 1
    z *= 0.5
    return z


def _sigmoid_backward(dy, y):  # dZ = dA * A (1 - A)
    dy *= y
    np.subtract(1, y, out=y)
    dy *= y


def _identity(z):
    return z


def _identity_backward(dy, y):
    pass


#: name -> (forward in place, backward in place from the output)
ACTIVATIONS = {
    "tanh": (_tanh, _tanh_backward),
    "relu": (_relu, _relu_backward),
    "leaky_relu": (_leaky_relu, _leaky_relu_backward),
    "sigmoid": (_sigmoid, _sigmoid_backward),
    "identity": (_identity, _identity_backward),
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise UsageError(f"unknown activation {name!r}: expected one of {', '.join(ACTIVATIONS)}")
    return name


class Activation:
    """An elementwise nonlinearity, applied in place: A = f(Z);  dZ = dA * f'(Z)."""

    def __init__(self, name: str):
        self.name = check_activation(name)
        self._f, self._backward = ACTIVATIONS[name]
        self.params, self.grads = {}, {}
        self._y = None

    def forward(self, x: np.ndarray, *, training: bool = False, rng=None) -> np.ndarray:
        self._y = self._f(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._backward(dy, self._y)
        return dy

    def replica(self) -> Activation:
        return Activation(self.name)


class Dropout:
    """Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

    Training: Y = X * M / (1 - p), M ~ Bernoulli(1 - p) per element; dX = dY * M / (1 - p).
    Inference: Y = X. The expectation of Y equals X in both.
    """

    def __init__(self, p: float):
        if not 0 <= p < 1:
            raise UsageError(f"dropout probability {p} is out of range (expected 0 <= p < 1)")
        self.p = p
        self.params, self.grads = {}, {}
        self._mask = None
        self._buffers = Buffers()

    def forward(self, x: np.ndarray, *, training: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        if not training or self.p == 0:
            self._mask = None
            return x
        if rng is None:
            raise UsageError("dropout needs a numpy.random.Generator while training")
        # Drawn into a C-ordered buffer of xᵀ's shape: the same memory order as x (a transposed view).
        mask = self._buffers.get("mask", x.T.shape, x.dtype).T
        rng.random(out=mask.T, dtype=x.dtype)
        keep = mask >= self.p
        np.multiply(keep, 1 / (1 - self.p), out=mask, casting="unsafe")
        x *= mask
        self._mask = mask
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._mask is not None:
            dy *= self._mask
        return dy

    def replica(self) -> Dropout:
        return Dropout(self.p)
