"""The training config: every setting of a run, with its type, range and help, in one place.

:class:`TrainConfig` is the single source of truth for what a setting may be. The
command line's flags (:mod:`digitnet.app.cli`), TOML config files and recipes are all
checked by :func:`check_setting`, so a bad value gets the same message wherever it
comes from, naming the setting and what was expected.
"""

from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass, field, fields

from ..data.augment import Augment
from ..errors import UsageError
from ..nn.initializers import INITIALIZERS
from ..nn.layers import ACTIVATIONS
from ..nn.model import DESKEW, DTYPES, check_deskew
from ..nn.optim import OPTIMIZERS
from ..nn.schedules import SCHEDULES


def setting(default, help: str, kind=None, *, label: str | None = None, min=None, above=None, below=None,
            max=None, choices=None, flag: bool = True, group: str = "training"):
    """A config field with what checks and documents it (kept in the field's ``metadata``).

    ``kind``: int, float, str, bool, "sizes" (tuple of ints), "batch" (int or None for full),
    "pairs" ((epoch, lr) pairs). ``min``/``max`` are inclusive bounds, ``above``/``below`` strict.
    """
    kind = kind or type(default)
    return field(default=default, metadata={"help": help, "kind": kind, "label": label, "min": min, "above": above,
                                            "below": below, "max": max, "choices": choices, "flag": flag, "group": group})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Stored, resolved, in the model's metadata."""

    hidden: tuple[int, ...] = setting((256, 256), "hidden layer sizes, e.g. 256,256 or 16,16", "sizes",
                                      label="layer sizes", min=1, max=1 << 16)
    activation: str = setting("relu", "hidden activation", choices=tuple(ACTIVATIONS))
    init: str = setting("auto", "weight initialization", choices=("auto", *INITIALIZERS))
    dtype: str = setting("float32", "floating-point precision", choices=tuple(DTYPES))
    epochs: int = setting(10, "passes over the training set", min=1, max=1_000_000)
    batch_size: int | None = setting(128, "samples per step, or 'full' for full-batch", "batch",
                                     label="batch size", min=1)
    optimizer: str = setting("adam", "update rule", choices=tuple(OPTIMIZERS))
    lr: float = setting(1e-3, "(peak) learning rate", float, label="learning rate", above=0)
    momentum: float = setting(0.9, "momentum for momentum/nesterov", min=0, below=1)
    weight_decay: float = setting(0.0, "L2 (sgd/adam) or decoupled (adamw)", label="weight decay", min=0, max=1e3)
    schedule: str = setting("constant", "learning-rate schedule", choices=tuple(SCHEDULES))
    lr_steps: tuple[tuple[int, float], ...] = setting((), "step schedule: (epoch, lr) pairs", "pairs", flag=False)
    warmup_epochs: float = setting(0.0, "linear warm-up (cosine schedule)", label="warm-up", min=0, max=1_000_000)
    dropout: float = setting(0.0, "dropout probability on hidden units", min=0, below=1)
    deskew: str = setting("off", "deskew the images the network reads (their slant removed, their centre of mass "
                          "centred): off; on; or both, each image read as it is and deskewed, the two answers "
                          "averaged (it trains on both views of every row). Part of the model, so reading, "
                          "evaluation and the exports do it too", "deskew", choices=DESKEW)
    label_smoothing: float = setting(0.0, "label smoothing ε", label="label smoothing", min=0, below=1)
    validation: float = setting(0.0, "fraction of the training set held out for validation",
                                label="validation fraction", min=0, below=1)
    patience: int = setting(0, "early stopping patience in epochs (0: off)", min=0)
    seed: int = setting(0, "random seed (weights, shuffling, dropout)", min=0, max=2**63 - 1)
    log_every: int = setting(1, "log every N epochs", label="log interval", min=1)
    tutorial_cost: bool = setting(False, "also report the tutorial's cost convention", flag=False)
    shift: float = setting(0.0, "max shift, pixels", min=0, max=14, group="augmentation")
    rotate: float = setting(0.0, "max rotation, degrees", label="rotation", min=0, max=180, group="augmentation")
    scale: float = setting(0.0, "max zoom per axis (0.1: 0.9x-1.1x)", min=0, below=1, group="augmentation")
    shear: float = setting(0.0, "max shear, degrees", min=0, max=60, group="augmentation")
    elastic_alpha: float = setting(0.0, "elastic distortion strength, pixels (Simard et al. 2003; 0: off)",
                                   label="elastic alpha", min=0, max=100, group="augmentation")
    elastic_sigma: float = setting(5.0, "elastic distortion smoothness, pixels", label="elastic sigma",
                                   above=0, max=28, group="augmentation")
    thickness: float = setting(0.0, "max change of stroke thickness (0 to 1: up to a one-pixel dilation or erosion)",
                               min=0, max=1, group="augmentation")
    augmented_copies: int = setting(0, "instead of distorting every batch, train on this many distorted copies of "
                                    "the training set, made once before training (cheaper)", label="augmented copies",
                                    min=0, max=10, group="augmentation")
    synthetic_digits: int = setting(0, "digits made by code (typeset, and drawn by a shaky hand) added to training "
                                    "(digit data only: left out for other classes)",
                                    label="synthetic digits", min=0, max=1_000_000)
    outliers: int = setting(0, "non-digits mixed into training with a uniform target (outlier exposure; 0: off)",
                            min=0, max=1_000_000)
    low_resolution: int = setting(0, "training digits also seen as low-resolution scans show them (8-16 px, blurred, "
                                  "binarized, JPEG, uneven ink), read as a user's picture is", label="low-resolution digits",
                                  min=0, max=1_000_000)
    restyled_digits: int = setting(0, "training 0s, 1s and 7s also seen as other hands write them (a flag or base on the "
                                   "1, a bar across the 7, a slash through the 0, added to the writer's own strokes; "
                                   "digit data only)",
                                   label="restyled digits", min=0, max=1_000_000)
    synthetic_draw: int = setting(0, "which random draw of the made-up digits and non-digits (0: the standard one)",
                                  label="synthetic draw", min=0, max=1_000_000)
    data: str = setting("mnist", "dataset name (mnist) or a directory with the four IDX files")
    description: str = setting("", "what the recipe is for", flag=False)

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, check_setting(f.name, getattr(self, f.name)))
        if self.patience and not self.validation:
            raise UsageError("patience: early stopping needs a validation split (validation > 0)")

    def augmentation(self) -> Augment:
        return Augment(self.shift, self.rotate, self.scale, self.shear, self.elastic_alpha, self.elastic_sigma,
                       self.thickness)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"], d["lr_steps"] = list(self.hidden), [list(p) for p in self.lr_steps]
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """From JSON or TOML values: unknown names and wrong types are refused, each named."""
        unknown = sorted(set(data) - set(SETTINGS))
        if unknown:
            raise UsageError(f"unknown setting(s) {', '.join(unknown)} (expected some of: {', '.join(sorted(SETTINGS))})")
        return cls(**data)

    def updated(self, **changes) -> TrainConfig:
        return self.from_dict({**self.to_dict(), **changes})


SETTINGS = {f.name: f.metadata for f in fields(TrainConfig)}


def check_setting(name: str, value):
    """``value`` converted to the setting's type and checked; UsageError naming ``name`` otherwise."""
    spec = SETTINGS[name]
    kind, label = spec["kind"], spec["label"] or name.replace("_", " ")
    try:
        value = _typed(kind, value, label, spec)
    except UsageError as exc:
        raise UsageError(f"{name}: {exc}") from None
    return value


def _typed(kind, value, label, spec):
    if kind == "sizes":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise UsageError(f"expected a list of layer sizes, got {value!r}")
        sizes = tuple(_number(int, v, label, spec) for v in value)
        if not sizes:
            raise UsageError("expected at least one hidden layer size, got none")
        return sizes
    if kind == "batch":
        return None if value is None or value == "full" else _number(int, value, label, spec)
    if kind == "pairs":
        try:
            return tuple((_number(int, e, "epoch", {"min": 0}), _number(float, v, "learning rate", {"above": 0}))
                         for e, v in value)
        except (TypeError, ValueError):
            raise UsageError(f"expected (epoch, learning rate) pairs, got {value!r}") from None
    if kind == "deskew":  # true and false (model files written before "both") mean on and off
        return check_deskew(value)
    if kind is str:
        if not isinstance(value, str):
            raise UsageError(f"expected a string, got {value!r}")
        if spec["choices"] and value not in spec["choices"]:
            raise UsageError(f"unknown {label} {value!r} (expected one of {', '.join(spec['choices'])})")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise UsageError(f"expected true or false, got {value!r}")
        return value
    return _number(kind, value, label, spec)


def _number(kind, value, label, spec):
    """An int (integral values only) or a finite float, within the spec's bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{label} must be a{'n integer' if kind is int else ' number'}, got {value!r}")
    if kind is int and (isinstance(value, float) and not value.is_integer()):
        raise UsageError(f"{label} must be an integer, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{label} must be a finite number, got {value!r}")
    value = kind(value)
    for key, ok, word in (("min", operator.ge, ">="), ("above", operator.gt, ">"),
                          ("below", operator.lt, "<"), ("max", operator.le, "<=")):
        bound = spec.get(key)
        if bound is not None and not ok(value, bound):
            raise UsageError(f"{label} must be {word} {bound:g}, got {value:g}")
    return value
