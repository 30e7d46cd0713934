"""Weight initializations by name. Biases start at zero.

Each returns W of shape (fan_in, fan_out).
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .layers import ACTIVATIONS


def tutorial(fan_in, fan_out, rng):
    """The tutorial's ``np.random.randn(fan_out, fan_in) * 0.1``, drawn in its order and transposed.

    With a ``numpy.random.RandomState`` seeded as the tutorial seeds the global
    one (``np.random.seed(2)``), the numbers are exactly the tutorial's.
    """
    if isinstance(rng, np.random.RandomState):
        w = rng.randn(fan_out, fan_in)
    else:
        w = rng.standard_normal((fan_out, fan_in))
    return w.T * 0.1


def glorot(fan_in, fan_out, rng):
    """Glorot & Bengio 2010: U(±sqrt(6 / (fan_in + fan_out))). Suits tanh, sigmoid, identity."""
    limit = np.sqrt(6 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


def lecun(fan_in, fan_out, rng):
    """LeCun et al. 1998: N(0, 1 / fan_in)."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(1 / fan_in)


def he(fan_in, fan_out, rng):
    """He et al. 2015: N(0, 2 / fan_in). Suits relu and leaky_relu."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)


INITIALIZERS = {"tutorial": tutorial, "glorot": glorot, "lecun": lecun, "he": he}


def resolve(init: str, activation: str) -> str:
    """The initializer's name: ``"auto"`` picks the one that suits ``activation``."""
    name = ACTIVATIONS[activation].init if init == "auto" else init
    if name not in INITIALIZERS:
        raise UsageError(f"unknown initialization {init!r}: expected auto or one of {', '.join(INITIALIZERS)}")
    return name
