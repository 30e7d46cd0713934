"""What a model file's metadata may hold: pydantic models, checked on every load.

A model file's JSON is input like any other: a file can be edited, and the checksum
only says it was not changed after it was written. So every field digitnet reads is
typed (strictly: no numbers as strings), bounded and checked against the architecture;
unknown fields are kept but must be plain JSON of bounded size and depth.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import TrainConfig

MAX_JSON_BYTES = 8 << 20  # all the metadata of one file
MAX_DEPTH = 32

Name = Annotated[str, Field(max_length=200)]
Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
#: a recipe's name (a key of digitnet.run.recipes.RECIPES, which sits above this module), then what was done to the
#: model after it, e.g. ``default+personal``: letters, digits, ``-``, ``_`` and ``.`` only, so no name can carry
#: shell syntax or Markdown into a model card. (The card also quotes it, and names only known recipes in a command.)
RECIPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(\+[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,8}")


class Calibration(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    temperature: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
    threshold: Unit
    pair_threshold: Unit = 0.9
    energy_threshold: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)] | None = None
    validation_samples: Count | None = None
    ece_before: Unit | None = None
    ece_after: Unit | None = None


class Machine(BaseModel):
    """Where a model was trained (:func:`digitnet.machine.describe`), as the model card prints it."""

    model_config = ConfigDict(strict=True, extra="allow")

    cpu: Name | None = None
    cores: Count | None = None
    numpy: Name | None = None
    blas: list[Annotated[str, Field(max_length=1000)]] | None = Field(None, max_length=100)


class Record(BaseModel):
    """One logged epoch of :class:`digitnet.training.fit.History`, as the report's learning curves plot it."""

    model_config = ConfigDict(strict=True, extra="allow")

    epoch: Count
    lr: Finite
    loss: Finite
    accuracy: Finite
    seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    val_loss: Finite | None = None
    val_accuracy: Finite | None = None


class History(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    records: list[Record] = Field(default_factory=list, max_length=1_000_000)


class ModelMetadata(BaseModel):
    """The ``digitnet`` entry of a model file (all optional: a model saved by hand has none)."""

    model_config = ConfigDict(strict=True, extra="allow")

    classes: list[Name] | None = Field(None, max_length=100_000)
    recipe: Name | None = None
    seed: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    dataset: Annotated[str, Field(max_length=4096)] | None = None
    dataset_source: Annotated[str, Field(max_length=4096)] | None = None
    dataset_sha256: dict[Name, Name] | None = None
    test_accuracy: Unit | None = None
    test_samples: Annotated[int, Field(ge=0)] | None = None
    train_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    epochs_run: Annotated[int, Field(ge=0)] | None = None
    digitnet_version: Name | None = None
    config: dict | None = None
    history: History | None = None
    calibration: Calibration | None = None
    machine: Machine | None = None

    @field_validator("recipe")
    @classmethod
    def _recipe(cls, value):
        if value is not None and not RECIPE_NAME.fullmatch(value):
            raise ValueError("a recipe's name is letters, digits, '-', '_' and '.', then '+' and what was done after "
                             f"it (e.g. default+personal); no recipe is called {value[:80]!r}")
        return value

    @field_validator("config")
    @classmethod
    def _config(cls, value):
        if value is not None:
            TrainConfig.from_dict(value)  # a UsageError (a ValueError) names the setting
        return value


def parse_json(text: str, what: str):
    """JSON with bounded size and nesting: too large or too deep is a ValueError, never a RecursionError."""
    if len(text) > MAX_JSON_BYTES:
        raise ValueError(f"{what} is {len(text):,} bytes of JSON, more than the {MAX_JSON_BYTES:,} allowed")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"{what} is nested more than {MAX_DEPTH} levels deep") from None
    level, depth = [value], 0
    while level:  # breadth first, one level at a time: no recursion of our own either
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"{what} is nested more than {MAX_DEPTH} levels deep")
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
    return value


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def check_metadata(metadata, n_classes: int) -> dict:
    """The metadata, validated; ValueError (with the field named) when it is not acceptable."""
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a JSON object, got {type(metadata).__name__}")
    try:
        checked = ModelMetadata.model_validate(metadata)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"metadata field {where!r}: {first['msg']}") from None
    if checked.classes is not None and len(checked.classes) != n_classes:
        raise ValueError(f"metadata field 'classes' names {len(checked.classes)} classes, but the network has "
                         f"{n_classes} outputs")
    return metadata
