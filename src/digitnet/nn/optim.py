"""Optimizers. The model owns the weights; at every step it hands over ``(name, param, grad)``,
and each optimizer keeps its per-parameter state under that name. Updates are in place.

``lr`` is a number or a schedule (a callable of the step count, :mod:`digitnet.nn.schedules`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import UsageError
from ..parallel import elementwise
from . import kernels
from .schedules import Constant


class Optimizer:
    """Shared machinery: the step count ``t``, the schedule, and per-parameter state by name."""

    hyperparameters: tuple[str, ...] = ()
    weight_decay: float  # set by every subclass: L2 weight decay λ (0: none)

    def __init__(self, lr, anchor: dict[str, np.ndarray] | None = None):
        self.schedule = lr if callable(lr) else Constant(lr)
        # weight decay pulls toward these values instead of zero (L2-SP, Li, Grandvalet & Davoine 2018,
        # https://arxiv.org/abs/1802.01483): a fine-tuning stays near the weights it started from
        self.anchor = {name: np.array(value, copy=True) for name, value in (anchor or {}).items()}
        self.t = 0  # steps taken
        self.state: dict[str, dict[str, np.ndarray]] = {}  # what a checkpoint keeps
        self._scratch: dict[str, np.ndarray] = {}  # working memory, not state

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        return self.schedule(self.t)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> float:
        """Update every parameter from its gradient; returns the learning rate used."""
        lr = self.lr
        self.t += 1
        for name, param in params.items():
            self.update(name, param, grads[name], lr)
        return lr

    def update(self, name: str, param: np.ndarray, grad: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _decayed(self, name: str, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """g + λ p (L2 weight decay), or g + λ (p - p₀) for a parameter with an anchor p₀ (L2-SP)."""
        if not self.weight_decay:
            return grad
        anchor = self.anchor.get(name)
        return grad + self.weight_decay * (param if anchor is None else param - anchor)

    def _slot(self, name: str, slot: str, like: np.ndarray) -> np.ndarray:
        state = self.state.setdefault(name, {})
        array = state.get(slot)
        if array is None or array.strides != like.strides:  # new, or restored in another memory order
            fresh = np.zeros_like(like)
            if array is not None:
                fresh[...] = array
            state[slot] = array = fresh
        return array

    def _scratch_like(self, name: str, like: np.ndarray) -> np.ndarray:
        array = self._scratch.get(name)
        if array is None or array.strides != like.strides:
            array = self._scratch[name] = np.empty_like(like)
        return array

    def __getstate__(self) -> dict:
        """Pickled without its scratch memory (working arrays of the last step, not state)."""
        return {k: v for k, v in self.__dict__.items() if k != "_scratch"} | {"_scratch": {}}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays ``"{param}.{slot}"``, scalars) — everything needed to resume exactly."""
        arrays = {f"{name}.{slot}": a for name, slots in self.state.items() for slot, a in slots.items()}
        return arrays, {"t": self.t}

    def load_state_dict(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        self.t = int(scalars["t"])
        self.state = {}
        for key, value in arrays.items():
            name, slot = key.rsplit(".", 1)
            self.state.setdefault(name, {})[slot] = np.array(value, order="K")

    def config(self) -> dict:
        return {"name": type(self).__name__.lower(), **{h: getattr(self, h) for h in self.hyperparameters}}


class SGD(Optimizer):
    """Gradient descent, with optional momentum (Polyak 1964) or Nesterov momentum
    (Sutskever et al. 2013, https://proceedings.mlr.press/v28/sutskever13.html), and L2 weight decay.

    Plain:     p = p - lr g                                   (the tutorial's update)
    Momentum:  v = μ v + g;   p = p - lr v
    Nesterov:  v = μ v + g;   p = p - lr (g + μ v)
    with g = grad + λ p when ``weight_decay`` λ > 0 (λ (p - p₀) for a parameter with an ``anchor`` p₀).
    """

    hyperparameters = ("momentum", "nesterov", "weight_decay")

    def __init__(self, lr, momentum: float = 0.0, *, nesterov: bool = False, weight_decay: float = 0.0,
                 anchor: dict[str, np.ndarray] | None = None):
        super().__init__(lr, anchor)
        if not 0 <= momentum < 1 or weight_decay < 0 or (nesterov and momentum == 0):
            raise UsageError(f"SGD needs 0 <= momentum < 1 (> 0 for Nesterov) and weight_decay >= 0, "
                             f"got momentum={momentum}, weight_decay={weight_decay}")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay

    def update(self, name, param, grad, lr):
        grad = self._decayed(name, param, grad)
        if not self.momentum:
            param -= lr * grad
            return
        v = self._slot(name, "velocity", param)
        v *= self.momentum
        v += grad  # v = μ v + g
        if self.nesterov:
            param -= lr * (grad + self.momentum * v)
        else:
            param -= lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980), with optional L2 ``weight_decay``
    added to the gradient (coupled; see :class:`AdamW` for the decoupled kind).

    m = β1 m + (1 - β1) g                 # first moment estimate
    v = β2 v + (1 - β2) g²                # second moment estimate
    p = p - lr m̂ / (sqrt(v̂) + ε),  m̂ = m / (1 - β1ᵗ),  v̂ = v / (1 - β2ᵗ)

    The last line is computed in the paper's cheaper equivalent order (Section 2):
    p = p - lr_t m / (sqrt(v) + ε_t), lr_t = lr sqrt(1 - β2ᵗ) / (1 - β1ᵗ), ε_t = ε sqrt(1 - β2ᵗ).

    Below, the update as 12 NumPy passes over memory (:meth:`_adam`); when numba is there, the same
    arithmetic runs as one compiled pass, weight decay included (:func:`digitnet.nn.kernels.adam`,
    bit for bit the same result).
    """

    hyperparameters = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(self, lr=1e-3, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                 anchor: dict[str, np.ndarray] | None = None):
        super().__init__(lr, anchor)
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1 and eps > 0 and weight_decay >= 0):
            raise UsageError(f"Adam needs 0 <= beta1, beta2 < 1, eps > 0, weight_decay >= 0: "
                             f"got {beta1}, {beta2}, {eps}, {weight_decay}")
        self.beta1, self.beta2, self.eps, self.weight_decay = beta1, beta2, eps, weight_decay

    def update(self, name, param, grad, lr):
        if not self._fused(name, param, grad, lr, decoupled=False):
            self._adam(name, param, self._decayed(name, param, grad), lr)

    def _fused(self, name, param, grad, lr, *, decoupled: bool) -> bool:
        """The whole update, weight decay included, as one compiled pass, if the kernels are on."""
        lr_t, eps_t = self._corrected(lr)
        return kernels.adam(param, grad, self._slot(name, "m", param), self._slot(name, "v", param), beta1=self.beta1,
                            beta2=self.beta2, lr=lr, lr_t=lr_t, eps_t=eps_t, weight_decay=self.weight_decay,
                            decoupled=decoupled, anchor=self.anchor.get(name))

    def _corrected(self, lr: float) -> tuple[float, float]:
        """(lr_t, ε_t): the bias corrections of step t folded into the step size and ε."""
        correction = math.sqrt(1 - self.beta2 ** self.t)
        return lr * correction / (1 - self.beta1 ** self.t), self.eps * correction

    def _adam(self, name, param, grad, lr):
        b1, b2 = self.beta1, self.beta2
        lr_t, eps_t = self._corrected(lr)

        def kernel(param, grad, m, v, tmp):
            m *= b1
            np.multiply(grad, 1 - b1, out=tmp)
            m += tmp                               # m = β1 m + (1 - β1) g
            v *= b2
            np.multiply(grad, grad, out=tmp)
            tmp *= 1 - b2
            v += tmp                               # v = β2 v + (1 - β2) g²
            np.sqrt(v, out=tmp)
            tmp += eps_t                           # sqrt(v) + ε_t
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t                            # lr_t m / (sqrt(v) + ε_t)
            param -= tmp

        m, v = self._slot(name, "m", param), self._slot(name, "v", param)
        elementwise(kernel, param, grad, m, v, self._scratch_like(name, param))  # split over the cores: 12 memory-bound passes


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101): Adam with decoupled weight decay.

    p = p - lr λ p, then the Adam step on the plain gradient (as PyTorch's AdamW);
    p = p - lr λ (p - p₀) for a parameter with an ``anchor`` p₀ (L2-SP, decoupled).
    """

    def __init__(self, lr=1e-3, *, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay: float = 0.01,
                 anchor: dict[str, np.ndarray] | None = None):
        super().__init__(lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, anchor=anchor)

    def update(self, name, param, grad, lr):
        if self._fused(name, param, grad, lr, decoupled=True):
            return
        anchor = self.anchor.get(name)
        if self.weight_decay and anchor is None:
            param *= 1 - lr * self.weight_decay
        elif self.weight_decay:  # toward the anchor: p = p - lr λ (p - p₀)
            param -= lr * self.weight_decay * (param - anchor)
        self._adam(name, param, grad, lr)


#: optimizer name (the ``optimizer`` setting) -> a builder from the learning rate (a number or a schedule)
#: and the settings an optimizer may read (``momentum``, ``weight_decay``); each ignores what it does not use
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": lambda lr, *, momentum, weight_decay: SGD(lr, weight_decay=weight_decay),
    "momentum": lambda lr, *, momentum, weight_decay: SGD(lr, momentum, weight_decay=weight_decay),
    "nesterov": lambda lr, *, momentum, weight_decay: SGD(lr, momentum, nesterov=True, weight_decay=weight_decay),
    "adam": lambda lr, *, momentum, weight_decay: Adam(lr, weight_decay=weight_decay),
    "adamw": lambda lr, *, momentum, weight_decay: AdamW(lr, weight_decay=weight_decay),
}


def build(name: str, lr, *, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """The optimizer ``name`` (see :data:`OPTIMIZERS`)."""
    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](lr, momentum=momentum, weight_decay=weight_decay)
