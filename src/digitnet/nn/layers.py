"""Layers: each holds its whole math, ``forward(x) -> y`` and ``backward(dy) -> dx``.

Rows are samples everywhere in the API: ``x`` is (n_samples, n_features).
In memory, the outputs of ``Dense`` are stored the tutorial's way round
(features x samples, C order) and handed on as transposed views: OpenBLAS is
up to 1.6x faster on the tutorial's skinny layers when the long batch dimension
is the last one of the GEMM's output (``benchmarks/`` has the numbers). The
values are the same; only the memory order differs.

Every layer has the same two methods, ``forward(x, *, training, rng)`` and
``backward(dy, *, accumulate=False)``, and reuses its output buffers from step to
step, so what ``forward`` returns is valid until the next call with the same batch
size (training's contract). ``apply(x)`` is inference: new arrays, no state, safe to
call from several threads at once.

The two products that touch a layer's input go through :func:`input_product` and
:func:`input_gradient`. They take plain arrays; another kind of input (the blocked
sparse rows of full-batch training) registers its own versions in its own module
(:mod:`digitnet.training.blocked`), so no layer knows about it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError
from . import kernels


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


@functools.singledispatch
def input_product(x, WT: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Yᵀ = Wᵀ Xᵀ into ``out`` (fan_out, n): the batch as the long output dimension."""
    return np.matmul(WT, x.T, out=out)


@functools.singledispatch
def input_gradient(x, dyT: np.ndarray, dWT: np.ndarray, *, accumulate: bool) -> None:
    """dWᵀ = dYᵀ X into ``dWT`` (fan_out, fan_in), or added to it with ``accumulate``."""
    if accumulate:
        dWT += dyT @ x
    else:
        np.matmul(dyT, x, out=dWT)


class Dense:
    """Fully connected layer.

    Forward:   Y = X W + b          (tutorial: Z = W X + b, columns as samples)
    Backward:  dW = Xᵀ dY           (tutorial: dW = dZ Aᵀ)
               db = Σ_rows dY       (tutorial: db = Σ_columns dZ)
               dX = dY Wᵀ           (tutorial: dA = Wᵀ dZ)

    The 1/m of the tutorial's gradients is already inside ``dY`` (see
    :func:`digitnet.nn.losses.softmax_cross_entropy`).

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
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False, rng=None, bias: bool = True) -> np.ndarray:
        """Y = X W + b; without ``bias``, X W (an :class:`Activation` after it adds b, fused with its function)."""
        W, b = self.params["W"], self.params["b"]
        self._x = x
        yT = input_product(x, W.T, self._buffers.get("y", (W.shape[1], x.shape[0]), W.dtype))
        if bias:
            yT += b[:, None]
        return yT.T

    def apply(self, x: np.ndarray) -> np.ndarray:
        return x @ self.params["W"] + self.params["b"]

    def __getstate__(self) -> dict:
        """What a saved or copied layer keeps (skops saves estimators through this, scikit-learn's parallel tools
        pickle them): the parameters, not the last batch's input, the gradients or the buffers (caches of the
        last step, rebuilt by the next)."""
        return {"params": self.params, "input_grad": self.input_grad}

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(self, state["params"]["W"], state["params"]["b"], input_grad=state["input_grad"])

    def backward(self, dy: np.ndarray, *, accumulate: bool = False) -> np.ndarray | None:
        """dX, after storing dW and db in ``grads`` (added to them if ``accumulate``)."""
        W, db = self.params["W"], self.grads["b"]
        input_gradient(self._x, dy.T, self.grads["W"].T, accumulate=accumulate)
        if accumulate:
            db += dy.sum(axis=0)
        else:
            np.sum(dy, axis=0, out=db)
        if not self.input_grad:
            return None
        dxT = self._buffers.get("dx", (W.shape[0], dy.shape[0]), W.dtype)
        np.matmul(W, dy.T, out=dxT)  # dXᵀ = W dYᵀ
        return dxT.T



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


@dataclass(frozen=True)
class ActivationSpec:
    """Everything digitnet knows about an activation, in one place: its math (in place), the weight
    initialization that suits it, its ONNX operator and its name in scikit-learn."""

    forward: Callable[[np.ndarray], np.ndarray]  # z -> f(z), in place
    backward: Callable[[np.ndarray, np.ndarray], None]  # (dA, A) -> dZ in dA, from the output
    init: str  # the initializer "auto" picks (digitnet.nn.initializers)
    onnx: str  # the ONNX operator (opset 17)
    onnx_attributes: dict = field(default_factory=dict)
    sklearn: str = ""  # scikit-learn's name for it (MLPClassifier's ``activation``)


#: name (the ``activation`` setting) -> what it is
ACTIVATIONS: dict[str, ActivationSpec] = {
    "tanh": ActivationSpec(_tanh, _tanh_backward, "glorot", "Tanh", sklearn="tanh"),
    "relu": ActivationSpec(_relu, _relu_backward, "he", "Relu", sklearn="relu"),
    "leaky_relu": ActivationSpec(_leaky_relu, _leaky_relu_backward, "he", "LeakyRelu", {"alpha": LEAKY_SLOPE},
                                 sklearn="leaky_relu"),
    "sigmoid": ActivationSpec(_sigmoid, _sigmoid_backward, "glorot", "Sigmoid", sklearn="logistic"),
    "identity": ActivationSpec(_identity, _identity_backward, "glorot", "Identity", sklearn="identity"),
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise UsageError(f"unknown activation {name!r}: expected one of {', '.join(ACTIVATIONS)}")
    return name


class Activation:
    """An elementwise nonlinearity, applied in place: A = f(Z);  dZ = dA * f'(Z).

    Both directions first offer the work to a fused compiled kernel (:mod:`digitnet.nn.kernels`: the same
    result in one pass), and run the NumPy functions above when it declines.
    """

    def __init__(self, name: str):
        self.name = check_activation(name)
        self._f, self._backward = ACTIVATIONS[name].forward, ACTIVATIONS[name].backward
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False, rng=None, bias: np.ndarray | None = None) -> np.ndarray:
        """f(x), in place; with ``bias`` (left out by the :class:`Dense` layer before), f(x + bias)."""
        if bias is None or not kernels.bias_activation(self.name, x, bias, LEAKY_SLOPE):
            if bias is not None:
                x += bias
            x = self._f(x)
        self._y = x
        return x

    def backward(self, dy: np.ndarray, *, accumulate: bool = False) -> np.ndarray:
        y = self._y
        if y is None:
            raise UsageError("backward before forward")
        if not kernels.activation_backward(self.name, dy, y, LEAKY_SLOPE):
            self._backward(dy, y)
        return dy

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self._f(x)  # in place: x is the caller's own new array

    def __getstate__(self) -> dict:
        return {"name": self.name}  # not the last batch's output

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(self, state["name"])



class Dropout:
    """Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

    Training: Y = X * M / (1 - p), M ~ Bernoulli(1 - p) per element; dX = dY * M / (1 - p).
    Inference: Y = X. The expectation of Y equals X in both.
    """

    def __init__(self, p: float):
        if not 0 <= p < 1:
            raise UsageError(f"dropout probability {p} is out of range (expected 0 <= p < 1)")
        self.p = p
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
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

    def backward(self, dy: np.ndarray, *, accumulate: bool = False) -> np.ndarray:
        if self._mask is not None:
            dy *= self._mask
        return dy

    def apply(self, x: np.ndarray) -> np.ndarray:
        return x

    def __getstate__(self) -> dict:
        return {"p": self.p}  # not the last batch's mask

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(self, state["p"])
