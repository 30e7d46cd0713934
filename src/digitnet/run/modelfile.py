"""Model files: safetensors tensors + JSON metadata, written atomically, loaded strictly. No pickle.

Metadata (string values, as safetensors requires):

``format``          "digitnet-model"
``format_version``  "2"
``model``           JSON: ``MLP.config()`` (sizes, activation, dropout, dtype, deskew)
``sha256``          SHA-256 over every tensor's name, dtype, shape and bytes, then every other
                    metadata entry: a file changed in any way after it was written fails
``digitnet``        JSON: anything else (recipe, config, seed, metrics, training time, dataset),
                    validated on load against :mod:`digitnet.run.schema`

Version 1 files (``tensors_sha256``, over the tensors only) still load; their metadata is
validated all the same.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import safetensors.numpy

from ..errors import ModelFileError, UsageError
from ..fileio import atomic_write_bytes, read_input
from ..nn.layers import ACTIVATIONS
from ..nn.model import DESKEW, DTYPES, MLP
from .schema import check_metadata, parse_json

FORMAT = "digitnet-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = ("1", "2")
CHECKSUMS = ("sha256", "tensors_sha256")
MAX_FILE_BYTES = 1 << 32
MAX_HEADER_BYTES = 16 << 20


def tensors_digest(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> str:
    """SHA-256 of the tensors (name, dtype, shape, bytes), then of ``metadata`` (sorted, checksums left out)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    if metadata is not None:
        digest.update(json.dumps({k: v for k, v in metadata.items() if k not in CHECKSUMS}, sort_keys=True).encode())
    return digest.hexdigest()


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    metadata = {k: v for k, v in metadata.items() if k not in CHECKSUMS}
    return safetensors.numpy.save(tensors, metadata={**metadata, "sha256": tensors_digest(tensors, metadata)})


def save_model(path: str | Path, model: MLP, metadata: dict | None = None) -> Path:
    """Write ``model`` to ``path`` (a ``.safetensors`` file) atomically; returns the path.

    ``metadata``: what to record beside the weights (default: ``model.metadata``)."""
    path = Path(path)
    metadata = model.metadata if metadata is None else metadata
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "model": json.dumps(model.config()),
            "digitnet": json.dumps(metadata or {}, default=_jsonable)}
    atomic_write_bytes(path, encode(model.params, meta))
    return path


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in model metadata")


def read_file(path: str | Path, expected_format: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a digitnet safetensors file, checked for format, version and checksum."""
    path = Path(path)
    data = read_input(path, limit=MAX_FILE_BYTES, expected="a digitnet .safetensors model", error=ModelFileError)
    metadata = _header_metadata(data, path)
    kind = metadata.get("format")
    if kind != expected_format:
        raise ModelFileError(f"{path}: format is {kind!r}, expected {expected_format!r}")
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(f"{path}: unknown format version {version!r} "
                             f"(this digitnet reads versions {' and '.join(READABLE_VERSIONS)})")
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as exc:  # safetensors raises its own error type, and others on odd input
        raise ModelFileError(f"{path}: not a valid safetensors file ({exc})") from None
    if version == "1":
        ok = metadata.get("tensors_sha256") == tensors_digest(tensors)
    else:
        ok = metadata.get("sha256") == tensors_digest(tensors, metadata)
    if not ok:
        raise ModelFileError(f"{path}: checksum mismatch: the file was modified or corrupted after it was written")
    return tensors, metadata


def _header_metadata(data: bytes, path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise ModelFileError(f"{path}: truncated: {len(data)} bytes, not a safetensors file "
                             "(expected an 8-byte header length first)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        raise ModelFileError(f"{path}: safetensors header of {n:,} bytes is larger than the {MAX_HEADER_BYTES:,} allowed")
    if n > len(data) - 8:
        raise ModelFileError(f"{path}: truncated or not safetensors: header claims {n:,} bytes, "
                             f"file has {len(data) - 8:,} after it")
    try:
        header = parse_json(data[8:8 + n].decode(), "safetensors header")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: safetensors header is not valid JSON ({exc})") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFileError(f"{path}: no digitnet metadata in the safetensors header (expected a digitnet model file)")
    return metadata


def _json_field(metadata: dict, key: str, path: Path):
    try:
        return parse_json(metadata.get(key, "{}"), f"metadata field {key!r}")
    except ValueError as exc:  # json.JSONDecodeError is one
        raise ModelFileError(f"{path}: metadata field {key!r} is not acceptable JSON ({exc})") from None


def load_model(path: str | Path) -> MLP:
    """Rebuild the model saved at ``path``; its metadata is in ``model.metadata``.

    Strict: the architecture must be valid, the tensors exactly ``W1, b1, ...`` with
    the shapes that chain the layer sizes and the saved dtype, finite, and matching
    the checksum. Any failure raises :class:`~digitnet.errors.ModelFileError`.
    """
    path = Path(path)
    tensors, metadata = read_file(path, FORMAT)
    model = model_from(_json_field(metadata, "model", path), tensors, path)
    try:
        model.metadata = check_metadata(_json_field(metadata, "digitnet", path), model.sizes[-1])
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    return model


def model_from(config, tensors: dict[str, np.ndarray], path: Path) -> MLP:
    """Build an MLP from its config and named tensors, checking every one."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: model config must be a JSON object, got {type(config).__name__}")
    sizes, activation, dtype = config.get("sizes"), config.get("activation"), config.get("dtype")
    dropout = config.get("dropout", 0.0)
    if (not isinstance(sizes, list) or len(sizes) < 2 or len(sizes) > 64
            or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 1 << 20 for s in sizes)):
        raise ModelFileError(f"{path}: layer sizes {sizes!r} are invalid (expected a list of 2 to 64 integers >= 1)")
    if activation not in ACTIVATIONS:
        raise ModelFileError(f"{path}: unknown activation {activation!r} (expected one of {', '.join(ACTIVATIONS)})")
    if dtype not in DTYPES:
        raise ModelFileError(f"{path}: unsupported dtype {dtype!r} (expected float32 or float64)")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ModelFileError(f"{path}: dropout {dropout!r} is invalid (expected 0 <= p < 1)")
    deskew = config.get("deskew", "off")  # files written before deskewing existed do not say; true/false: on/off
    if not isinstance(deskew, bool) and deskew not in DESKEW:
        raise ModelFileError(f"{path}: deskew {deskew!r} is invalid (expected one of {', '.join(DESKEW)})")
    expected: dict[str, tuple[int, ...]] = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), 1):
        expected[f"W{i}"], expected[f"b{i}"] = (fan_in, fan_out), (fan_out,)
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{path}: tensors do not match layer sizes {sizes}: "
                             f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    for name, shape in expected.items():
        t = tensors[name]
        if t.shape != shape:
            raise ModelFileError(f"{path}: {name} has shape {t.shape}, expected {shape} for layer sizes {sizes}")
        if t.dtype != np.dtype(dtype):
            raise ModelFileError(f"{path}: {name} is {t.dtype}, expected {dtype}")
        if not np.isfinite(t).all():
            raise ModelFileError(f"{path}: {name} contains NaN or infinite values")
    try:
        model = MLP(sizes, activation, dropout=float(dropout), dtype=dtype, rng=0, deskew=deskew)
    except UsageError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    model.set_params(tensors)
    return model
