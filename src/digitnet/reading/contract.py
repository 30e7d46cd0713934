"""The reading contract: what the reader takes and what it answers, in one place.

The server, the CLI, the exports (``digitnet.js``'s constants are written from here), the model card and the
personal set all read these names instead of restating them:

- the input: MNIST-style pictures of :data:`SIDE` x :data:`SIDE` = :data:`PIXELS` values in [0, 1];
- the verdicts (:data:`VERDICTS`) and the reasons a picture is not read as a digit (:data:`REASONS`),
  with their words (:data:`REASON_WORDS`);
- :class:`Calibration`: how a model's logits become a verdict (a temperature and thresholds), and
  :class:`Reading`: what a reading says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

from ..data.registry import DIGITS
from ..errors import UsageError

SIDE = 28  # the network reads SIDE x SIDE pictures, like MNIST's
PIXELS = SIDE * SIDE

Verdict = Literal["digit", "unsure", "not_a_digit"]
#: why a picture is not read as a digit: no ink; a dot (or a brush too big for the digit); two marks side by side;
#: a shape no digit has (the geometry's rules); or one the network finds unlike every digit it knows
Reason = Literal["blank", "too_small", "several_marks", "not_digit_like", "unfamiliar"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
REASONS: tuple[str, ...] = get_args(Reason)
#: the words for each reason a picture is not read as a digit
REASON_WORDS = {"blank": "nothing drawn", "too_small": "too small to read: draw it bigger",
                "several_marks": "several marks: one digit at a time, please",
                "not_digit_like": "that doesn't look like a digit",
                "unfamiliar": "I don't recognise this as a digit"}
#: which step gave each reason: the geometry of the ink, or the network
REASON_SOURCE = {"blank": "geometry", "too_small": "geometry", "several_marks": "geometry",
                 "not_digit_like": "geometry", "unfamiliar": "network"}


def check_reads_pictures(model, what: str = "reading pictures") -> None:
    """UsageError unless ``model`` takes :data:`PIXELS` inputs (an MNIST-style picture)."""
    if model.sizes[0] != PIXELS:
        raise UsageError(f"{what} needs a model of {SIDE}x{SIDE} = {PIXELS} inputs; this one takes {model.sizes[0]}")


def class_names(model) -> list[str]:
    """The names of the model's classes: its metadata's, or its output numbers."""
    return [str(c) for c in model.metadata.get("classes") or [str(k) for k in range(model.sizes[-1])]]


def reads_digits(model) -> bool:
    """Whether ``model``'s classes are the ten digits 0-9 (only then do the digit geometry's rules and the
    personal set, which holds handwritten digits, apply to it)."""
    return tuple(class_names(model)) == DIGITS


@dataclass(frozen=True)
class Calibration:
    """How a model's logits become a verdict: a temperature and three thresholds."""

    temperature: float = 1.0
    threshold: float = 0.6  # top calibrated probability needed for "digit"
    pair_threshold: float = 0.9  # mass of the top two needed for "unsure" (below: not a digit)
    energy_threshold: float | None = None  # log Σ exp(logit / T) needed at all (None: no such test)
    fitted: bool = False  # False: these defaults, not fitted on a validation split

    @classmethod
    def of(cls, model) -> Calibration:
        data = model.metadata.get("calibration")
        if not isinstance(data, dict):
            return cls()
        known = {k: data[k] for k in ("temperature", "threshold", "pair_threshold", "energy_threshold") if k in data}
        return cls(**known, fitted=True)


@dataclass(frozen=True)
class Reading:
    """What :func:`read` saw in a picture."""

    verdict: str
    label: int | None  # the digit (also the likelier one when unsure); None when not a digit
    confidence: float  # calibrated probability of the top class
    probabilities: np.ndarray = field(repr=False)  # (classes,) calibrated
    reason: str | None = None  # why not a digit
    candidates: tuple[int, ...] = ()  # the top two, when unsure
    image: np.ndarray | None = field(default=None, repr=False)  # the 28x28 the network saw

    def to_dict(self, source: str | None = None) -> dict:
        """The JSON form: ``source, verdict, label, confidence, probabilities, reason, candidates``."""
        return {"source": source, "verdict": self.verdict, "label": self.label, "confidence": round(self.confidence, 6),
                "probabilities": [round(float(p), 6) for p in self.probabilities], "reason": self.reason,
                "candidates": list(self.candidates)}

    def describe(self, classes=None) -> str:
        """The verdict in words."""
        name = (lambda k: str(classes[k])) if classes is not None else str
        if self.verdict == "digit":
            return f"a {name(self.label)} ({_percent(self.confidence)} sure)"
        if self.verdict == "unsure":
            a, b = self.candidates
            return f"not sure: {name(a)} or {name(b)}? ({_percent(self.confidence)} for {name(a)})"
        if self.reason == "unfamiliar" and classes is not None and tuple(map(str, classes)) != DIGITS:
            return "I don't recognise this as any of its classes"  # a model of clothes, letters...: not "a digit"
        return REASON_WORDS[self.reason or "unfamiliar"]


def _percent(p: float) -> str:
    return "> 99.9%" if p > 0.999 else f"{p * 100:.1f}%"


def energy_score(logits: np.ndarray) -> np.ndarray:
    """log Σ_k exp(logit_k) per row (the negative of Liu et al.'s energy): high for what looks like a class."""
    top = logits.max(axis=1)
    return top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
