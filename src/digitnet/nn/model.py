"""The multi-layer perceptron: Dense -> activation -> ... -> Dense -> (softmax in the loss)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.deskew import deskew as deskew_images
from ..errors import UsageError
from . import initializers, kernels
from .layers import Activation, Dense, Dropout, check_activation
from .losses import softmax

DTYPES = {"float32": np.float32, "float64": np.float64}


def check_dtype(dtype) -> np.dtype:
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in DTYPES:
        raise UsageError(f"unsupported dtype {dtype!r}: expected float32 or float64")
    return np.dtype(DTYPES[name])


class MLP:
    """A multi-layer perceptron built from a list of layer sizes.

    ``MLP([784, 16, 16, 10], "tanh")`` is the tutorial's network: two hidden
    layers of 16 tanh units and 10 outputs, whose softmax lives in the loss
    (:func:`digitnet.nn.losses.softmax_cross_entropy`) and in :meth:`predict_proba`.

    Parameters are named as in the tutorial: ``W1, b1, W2, b2, ...``, with
    ``W{l}`` of shape (fan_in, fan_out) and ``b{l}`` of shape (fan_out,).

    Parameters
    ----------
    sizes : input size, hidden sizes..., number of classes (at least two entries).
    activation : name of the hidden activation (see :data:`digitnet.nn.layers.ACTIVATIONS`).
    init : ``"auto"`` (Glorot for tanh/sigmoid/identity, He for ReLUs), ``"tutorial"``,
        ``"glorot"``, ``"lecun"`` or ``"he"``.
    rng : an int seed, a ``numpy.random.Generator``, or (for the tutorial's exact
        numbers) a ``numpy.random.RandomState``. An int with ``init="tutorial"``
        seeds a RandomState, as ``np.random.seed`` does, without touching global state.
    dropout : probability of dropping each hidden unit while training.
    dtype : float32 (default) or float64.
    deskew : how the network reads its pixels (:data:`DESKEW`): ``"off"``, as they are;
        ``"on"``, deskewed (:func:`digitnet.data.deskew.deskew`); ``"both"``, as they are and
        deskewed, its answer the mean of the two logits. These are the model's :meth:`views`;
        the inference methods take them themselves. ``True``/``False`` mean ``"on"``/``"off"``.

    ``metadata`` is a dict of facts about the model that a model file records (the
    training config, dataset, test accuracy...); empty for a new model.

    Training uses :meth:`forward` and :meth:`backward` on prepared inputs (:meth:`prepare`: every
    view of every row; :func:`~digitnet.training.fit` prepares them), which reuse buffers (a result is
    valid until the next call). Inference (:meth:`predict_proba`, :meth:`predict`) computes
    into new arrays and keeps no state, so several threads may call it at once.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", *, init: str = "auto", rng=0,
                 dropout: float = 0.0, dtype="float32", deskew: str | bool = "off"):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise UsageError(f"layer sizes {sizes} are invalid: expected at least an input and an output size, all >= 1")
        self.sizes = sizes
        self.activation = check_activation(activation)
        self.dropout = float(dropout)
        self.dtype = check_dtype(dtype)
        self.deskew = check_deskew(deskew)
        if self.deskew != "off" and round(sizes[0] ** 0.5) ** 2 != sizes[0]:
            raise UsageError(f"deskew needs square images as input, {sizes[0]} is not a square number of pixels")
        self.init = initializers.resolve(init, activation)
        self.metadata: dict = {}
        rng = _generator(rng, self.init)
        draw = initializers.INITIALIZERS[self.init]
        self.layers: list = []
        self.dense: list[Dense] = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
            W = np.asarray(draw(fan_in, fan_out, rng), dtype=self.dtype)
            layer = Dense(W, np.zeros(fan_out, self.dtype), input_grad=i > 0)
            self.dense.append(layer)
            self.layers.append(layer)
            if i < len(sizes) - 2:
                self.layers.append(Activation(activation))
                if self.dropout:
                    self.layers.append(Dropout(self.dropout))

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Parameters by name (``W1, b1, ...``); the arrays themselves, updated in place by optimizers."""
        return {f"{k}{i}": v for i, layer in enumerate(self.dense, 1) for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the last :meth:`backward`, with the same names as :attr:`params`."""
        return {f"{k}{i}": v for i, layer in enumerate(self.dense, 1) for k, v in layer.grads.items()}

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters (names and shapes must match)."""
        own = self.params
        if set(params) != set(own):
            raise UsageError(f"parameter names {sorted(params)} do not match the model's {sorted(own)}")
        for name, value in params.items():
            if np.shape(value) != own[name].shape:
                raise UsageError(f"{name} has shape {np.shape(value)}, expected {own[name].shape}")
            own[name][...] = value

    def forward(self, x: np.ndarray, *, training: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
        """Logits of shape (n_samples, n_classes) for ``x`` of shape (n_samples, n_inputs).

        ``x`` must already have the model's dtype. The result is a reused buffer:
        valid until the next call with the same batch size. A Dense layer followed by an activation
        leaves its bias to the activation, which adds it and applies itself in one pass.
        """
        bias = None
        for layer, following in zip(self.layers, [*self.layers[1:], None]):
            if bias is not None:  # the activation after a Dense layer: f(x + b)
                x, bias = layer.forward(x, training=training, rng=rng, bias=bias), None
            elif isinstance(layer, Dense) and isinstance(following, Activation):
                x, bias = layer.forward(x, training=training, rng=rng, bias=False), layer.params["b"]
            else:
                x = layer.forward(x, training=training, rng=rng)
        return x

    def backward(self, dlogits: np.ndarray, *, accumulate: bool = False) -> None:
        """Fill :attr:`grads` from dL/dlogits (the first layer returns no input gradient).

        With ``accumulate``, add to the gradients already there (a batch computed in chunks).
        """
        d = dlogits
        for layer in reversed(self.layers):
            d = layer.backward(d, accumulate=accumulate)

    @property
    def preparations(self) -> tuple:
        """One function per view the network reads (None: the pixels as they are), in order."""
        return VIEWS[self.deskew]

    def views(self, X: np.ndarray) -> list[np.ndarray]:
        """The network's inputs from pixels (n_samples, n_inputs): one array per view."""
        return [X if f is None else f(X) for f in self.preparations]

    def prepare(self, X: np.ndarray, views: np.ndarray | None = None) -> np.ndarray:
        """Training rows from pixels: every view of ``X`` stacked, view after view (n_views * n_samples
        rows; the labels of ``X`` repeat once per view: ``np.tile(y, len(model.preparations))``), or
        with ``views`` (an index into :attr:`preparations` per row) each row in its own view."""
        if views is None or len(self.preparations) == 1:
            prepared = self.views(X)
            return prepared[0] if len(prepared) == 1 else np.concatenate(prepared)
        out = np.array(X, copy=True)
        for k, f in enumerate(self.preparations):
            if f is not None and np.any(views == k):
                out[views == k] = f(X[views == k])
        return out

    def logits(self, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
        """Logits (n_samples, n_classes) in a new array, computed in batches without touching
        the training buffers: safe from several threads at once. With two views, their mean."""
        X = self._check_input(X)
        out = np.empty((len(X), self.sizes[-1]), self.dtype)
        for start in range(0, len(X), batch_size):
            out[start:start + batch_size] = self.mean_logits(self.views(X[start:start + batch_size]))
        return out

    def mean_logits(self, views: list[np.ndarray]) -> np.ndarray:
        """The network's logits on each view of the same rows (:meth:`views`), averaged, in a new array."""
        total: np.ndarray | None = None
        for x in views:
            for layer in self.layers:
                x = layer.apply(x)
            total = x if total is None else total + x
        if total is None:
            raise UsageError("mean_logits needs at least one view")
        return total if len(views) == 1 else total / len(views)

    def predict_proba(self, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), in a new array (see :meth:`logits`)."""
        z = self.logits(X, batch_size=batch_size)
        return softmax(z, out=z)

    def predict(self, X: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
        """Predicted class of each row: argmax of the logits, shape (n_samples,)."""
        return self.logits(X, batch_size=batch_size).argmax(axis=1)

    def _check_input(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise UsageError(f"input has shape {X.shape}, expected (n_samples, {self.sizes[0]})")
        return np.ascontiguousarray(X, dtype=self.dtype)

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.params.values())

    def config(self) -> dict:
        """What rebuilds this architecture: ``MLP(**model.config())``."""
        return {"sizes": self.sizes, "activation": self.activation, "dropout": self.dropout, "dtype": self.dtype.name,
                "deskew": self.deskew}

    def __repr__(self) -> str:
        return f"MLP({self.sizes}, {self.activation!r}, dtype={self.dtype.name})"


def deskewed(X: np.ndarray) -> np.ndarray:
    """The deskewed view (:func:`digitnet.data.deskew.deskew`); a batch of them in one compiled pass when the
    kernels are on (:func:`digitnet.nn.kernels.deskew`, the same numbers)."""
    out = kernels.deskew(X)
    return deskew_images(X) if out is None else out


#: deskew mode -> the preparation of each view the network reads (None: the pixels as they are)
VIEWS = {"off": (None,), "on": (deskewed,), "both": (None, deskewed)}
DESKEW = tuple(VIEWS)


def check_deskew(mode) -> str:
    """``mode`` as one of :data:`DESKEW` (``True``/``False``: ``"on"``/``"off"``); UsageError otherwise."""
    if isinstance(mode, (bool, np.bool_)):
        return "on" if mode else "off"
    if not isinstance(mode, str) or mode not in VIEWS:
        raise UsageError(f"unknown deskew mode {mode!r} (expected one of {', '.join(DESKEW)})")
    return mode


def _generator(rng, init: str):
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.RandomState(int(rng)) if init == "tutorial" else np.random.default_rng(int(rng))
    raise UsageError(f"rng must be an int seed or a numpy random generator, got {type(rng).__name__}")
