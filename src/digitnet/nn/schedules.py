"""Learning-rate schedules: callables from the optimizer's step count (0, 1, ...) to a learning rate.

Each is a small frozen dataclass; :data:`SCHEDULES` names them for configs.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ..errors import UsageError


def _positive(name, value):
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class Constant:
    lr: float

    def __post_init__(self):
        _positive("learning rate", self.lr)

    def __call__(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class Step:
    """Piecewise constant: ``lr`` until the first boundary, then ``values[i]`` from ``boundaries[i]`` on.

    The tutorial's schedule is ``Step(0.5, boundaries=(76,), values=(0.1,))``
    (``if i > 75: learning_rate = 0.1``).
    """

    lr: float
    boundaries: tuple[int, ...] = ()
    values: tuple[float, ...] = ()

    def __post_init__(self):
        _positive("learning rate", self.lr)
        for v in self.values:
            _positive("learning rate", v)
        if len(self.boundaries) != len(self.values) or list(self.boundaries) != sorted(self.boundaries):
            raise UsageError(f"step schedule needs increasing boundaries, one value each: {self.boundaries}, {self.values}")
        object.__setattr__(self, "boundaries", tuple(self.boundaries))
        object.__setattr__(self, "values", tuple(self.values))

    def __call__(self, step: int) -> float:
        i = bisect.bisect_right(self.boundaries, step)
        return self.lr if i == 0 else self.values[i - 1]


@dataclass(frozen=True)
class Cosine:
    """Linear warm-up from 0 over ``warmup`` steps, then cosine decay from ``lr`` to ``final`` at ``total`` steps
    (Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983; warm-up: Goyal et al. 2017)."""

    lr: float
    total: int
    warmup: int = 0
    final: float = 0.0

    def __post_init__(self):
        _positive("learning rate", self.lr)
        if self.total < 1 or not 0 <= self.warmup < max(self.total, 1) or self.final < 0:
            raise UsageError(f"cosine schedule needs total >= 1, 0 <= warmup < total, final >= 0: got {self}")

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        t = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.final + (self.lr - self.final) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass(frozen=True)
class OneCycle:
    """One-cycle (Smith & Topin 2017, https://arxiv.org/abs/1708.07120): cosine rise from
    ``lr / div`` to ``lr`` over the first ``pct`` of ``total`` steps, then cosine fall to ``lr / final_div``."""

    lr: float
    total: int
    pct: float = 0.3
    div: float = 25.0
    final_div: float = 1e4

    def __post_init__(self):
        _positive("learning rate", self.lr)
        if self.total < 2 or not 0 < self.pct < 1:
            raise UsageError(f"one-cycle schedule needs total >= 2 and 0 < pct < 1: got {self}")

    def __call__(self, step: int) -> float:
        up = max(1, round(self.pct * self.total))
        start, end = self.lr / self.div, self.lr / self.final_div
        if step < up:
            return _cos(start, self.lr, step / up)
        return _cos(self.lr, end, min(1.0, (step - up) / max(1, self.total - 1 - up)))


def _cos(a: float, b: float, t: float) -> float:
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))


#: schedule name (the ``schedule`` setting) -> its class
SCHEDULES = {"constant": Constant, "step": Step, "cosine": Cosine, "onecycle": OneCycle}


def build(name: str, lr: float, *, epochs: int, steps_per_epoch: int, lr_steps: tuple[tuple[int, float], ...] = (),
          warmup_epochs: float = 0.0):
    """The schedule ``name`` for a run of ``epochs`` epochs of ``steps_per_epoch`` steps (settings in epochs
    become steps here): ``lr_steps`` are (epoch, lr) pairs for ``step``, ``warmup_epochs`` is ``cosine``'s warm-up."""
    total = epochs * steps_per_epoch
    if name == "constant":
        return Constant(lr)
    if name == "step":
        return Step(lr, tuple(e * steps_per_epoch for e, _ in lr_steps), tuple(v for _, v in lr_steps))
    if name == "cosine":
        return Cosine(lr, total, warmup=min(int(warmup_epochs * steps_per_epoch), total - 1))
    if name == "onecycle":
        return OneCycle(lr, max(total, 2))
    raise UsageError(f"unknown schedule {name!r}: expected one of {', '.join(SCHEDULES)}")

