"""Every place digitnet keeps things for the user.

- models: ``$DIGITNET_HOME/models`` (default: the platform's user data directory), with a
  ``latest`` pointer that commands use when no model is given;
- downloaded datasets: ``$DIGITNET_CACHE/datasets`` (default: the platform's user cache directory), and
  beside them what is made once and kept: ``synthetic`` (training sets made by code), ``geometry`` (the
  geometry rules' answers for a large set of pictures) and ``numba`` (compiled kernels).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import platformdirs

from .errors import UsageError
from .fileio import atomic_write_bytes


def home() -> Path:
    env = os.environ.get("DIGITNET_HOME")
    if env:
        return Path(env)
    return platformdirs.user_data_path("digitnet")


def cache_dir() -> Path:
    """``$DIGITNET_CACHE``, or the platform's user cache directory for digitnet."""
    env = os.environ.get("DIGITNET_CACHE")
    return Path(env) if env else platformdirs.user_cache_path("digitnet")


def models_dir() -> Path:
    return home() / "models"


def new_model_path(kind: str) -> Path:
    """Where a new model of ``kind`` (its recipe's name, or ``personal``) goes: ``KIND-YYYYmmdd-HHMMSS.safetensors``
    in the user's model directory (the one place this pattern is written)."""
    return models_dir() / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"


def remember_latest(path: Path) -> None:
    """Record ``path`` as the model that commands use when none is given."""
    atomic_write_bytes(models_dir() / "latest", str(Path(path).resolve()).encode())


def latest_model() -> Path:
    """The last model ``digitnet train`` saved, or a UsageError that says how to make one."""
    marker = models_dir() / "latest"
    if marker.is_file():
        path = Path(marker.read_text().strip())
        if path.is_file():
            return path
        raise UsageError(f"no model given, and the last model trained, {path}, no longer exists: "
                         "run `digitnet train` again, or pass a MODEL.safetensors path")
    raise UsageError(f"no model given and none saved yet in {models_dir()}: "
                     "run `make demo` or `digitnet train` first, or pass a MODEL.safetensors path")
