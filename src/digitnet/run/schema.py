"""What a model file's metadata may hold: pydantic models, checked on every load.

A model file's JSON is input like any other: a file can be edited, and the checksum
only says it was not changed after it was written. So every field digitnet reads is
typed (strictly: no numbers as strings), bounded and checked against the architecture;
unknown fields are kept but must be plain JSON of bounded size and depth.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import TrainConfig

MAX_JSON_BYTES = 8 << 20  # all the metadata of one file
MAX_DEPTH = 32

Name = Annotated[str, Field(max_length=200)]
Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Calibration(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    temperature: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
    threshold: Unit
    pair_threshold: Unit = 0.9
    energy_threshold: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)] | None = None


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
    config: dict | None = None
    history: dict | None = None
    calibration: Calibration | None = None

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
