"""Checkpoints: everything needed to continue a training run exactly where it stopped.

A checkpoint is one safetensors file (written atomically: temp file, fsync,
rename) holding the model's parameters (``model/W1``...), the optimizer's state
(``optim/W1.m``...), the interrupted epoch's permutation (``order``), any callback
state (``callback0/...``), and JSON metadata: step count, epoch and position in
it, the epoch's running sums, the random generator's exact state, the history,
and the caller's own metadata (the training config). The newest ``keep`` files
are kept. A run killed at any moment and resumed from its newest checkpoint ends
with weights bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from ..errors import ModelFileError, UsageError
from ..fileio import atomic_write_bytes
from ..nn.model import MLP
from ..nn.optim import Optimizer
from ..training.fit import History, Resume
from .config import TrainConfig
from .modelfile import FORMAT_VERSION, encode, read_file
from .schema import parse_json

FORMAT = "digitnet-checkpoint"
PATTERN = "ckpt-*.safetensors"
BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "Philox": np.random.Philox,
                  "SFC64": np.random.SFC64, "MT19937": np.random.MT19937}


class Checkpointer:
    """Writes a checkpoint into ``directory`` at the end of every epoch and every ``every_steps``
    optimizer steps (0: epochs only), keeping the newest ``keep``."""

    def __init__(self, directory: str | Path, *, every_steps: int = 0, keep: int = 3, metadata: dict | None = None):
        if keep < 1 or every_steps < 0:
            raise UsageError(f"checkpoints need keep >= 1 and every_steps >= 0, got keep={keep}, every_steps={every_steps}")
        self.directory, self.every_steps, self.keep = Path(directory), every_steps, keep
        self.metadata = metadata or {}
        self._lock: FileLock | None = _lock(self.directory)

    def close(self) -> None:
        """Let another run use the directory."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def due(self, step: int) -> bool:
        """Whether a mid-epoch checkpoint is due after optimizer step ``step``."""
        return bool(self.every_steps) and step % self.every_steps == 0

    def save(self, model: MLP, optimizer: Optimizer, rng: np.random.Generator, callbacks, resume: Resume) -> Path:
        tensors = {f"model/{k}": v for k, v in model.params.items()}
        opt_arrays, opt_scalars = optimizer.state_dict()
        tensors.update({f"optim/{k}": v for k, v in opt_arrays.items()})
        if resume.order is not None:
            tensors["order"] = resume.order
        callback_scalars = {}
        for i, cb in enumerate(callbacks):
            arrays, scalars = cb.state_dict()
            tensors.update({f"callback{i}/{k}": v for k, v in arrays.items()})
            if scalars:
                callback_scalars[str(i)] = scalars
        state = {"epoch": resume.epoch, "step_in_epoch": resume.step_in_epoch, "totals": resume.totals,
                 "seconds": resume.seconds, "optimizer": opt_scalars, "rng": rng.bit_generator.state,
                 "callbacks": callback_scalars, "history": resume.history.to_dict()}
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "model": json.dumps(model.config()),
                "state": json.dumps(state), "digitnet": json.dumps(self.metadata)}
        path = self.directory / f"ckpt-{optimizer.t:010d}.safetensors"
        atomic_write_bytes(path, encode(tensors, meta))
        for old in sorted(self.directory.glob(PATTERN))[:-self.keep]:
            old.unlink(missing_ok=True)
        return path


def _lock(directory: Path) -> FileLock:
    """An exclusive lock on ``directory/.lock`` for the life of a run: two runs never share checkpoints
    (``filelock``: an OS lock on Linux, macOS and Windows alike, released if the process dies)."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = (directory / ".lock.owner").read_text().strip()
        except OSError:
            owner = ""
        raise UsageError(f"{directory}: another run is writing checkpoints here"
                         + (f" (process {owner})" if owner else "") + "; wait for it, or choose another directory") from None
    (directory / ".lock.owner").write_text(str(os.getpid()))
    return lock


def checkpoints(directory: str | Path) -> list[Path]:
    """The checkpoint files in ``directory``, oldest first (half-written temp files are never listed)."""
    return sorted(Path(directory).glob(PATTERN))


def read(path: str | Path) -> tuple[dict[str, np.ndarray], dict, dict, dict]:
    """(tensors, model config, training state, caller metadata) of a checkpoint file, checked."""
    path = Path(path)
    tensors, metadata = read_file(path, FORMAT)
    try:
        config, state, extra = (parse_json(metadata[k], k) for k in ("model", "state", "digitnet"))
    except KeyError as exc:
        raise ModelFileError(f"{path}: checkpoint metadata has no {exc} entry") from None
    except ValueError as exc:
        raise ModelFileError(f"{path}: checkpoint metadata is not acceptable JSON ({exc})") from None
    if not all(isinstance(v, dict) for v in (config, state, extra)):
        raise ModelFileError(f"{path}: checkpoint metadata must be JSON objects")
    if "config" in extra or "recipe" in extra:  # written by `digitnet train`: its config resumes the run
        try:
            TrainConfig.from_dict(extra["config"])
        except KeyError:
            raise ModelFileError(f"{path}: checkpoint has no training config to resume with") from None
        except (UsageError, TypeError) as exc:
            raise ModelFileError(f"{path}: checkpoint's training config is invalid ({exc})") from None
    return tensors, config, state, extra


def latest(directory: str | Path, *, skipped: list | None = None) -> Path:
    """The newest checkpoint in ``directory`` that reads back whole (an older one when the newest is
    damaged: each one passed over is appended to ``skipped`` as (path, reason)); a UsageError if none."""
    found = checkpoints(directory)
    if not found:
        raise UsageError(f"{directory}: no checkpoints (ckpt-*.safetensors) to resume from")
    for path in reversed(found):
        try:
            read(path)
            return path
        except ModelFileError as exc:
            if skipped is not None:
                skipped.append((path, str(exc)))
    raise ModelFileError(f"{directory}: none of its {len(found)} checkpoints can be read (the newest: "
                         f"{skipped[0][1] if skipped else 'damaged'})")


def restore(path: str | Path, model: MLP, optimizer: Optimizer, callbacks=()) -> tuple[Resume, np.random.Generator]:
    """Load a checkpoint's state into ``model``, ``optimizer`` and ``callbacks``; returns what
    :func:`digitnet.training.fit` needs to continue (``resume=``, ``rng=``)."""
    path = Path(path)
    tensors, config, state, _ = read(path)
    try:
        params = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("model/")}
        if config.get("sizes") != model.sizes or set(params) != set(model.params):
            raise ModelFileError(f"{path}: checkpoint is of a {config.get('sizes')} network, not {model.sizes}")
        for name, value in params.items():
            if value.shape != model.params[name].shape or value.dtype != model.dtype:
                raise ModelFileError(f"{path}: {name} is {value.dtype} {value.shape}, expected "
                                     f"{model.dtype} {model.params[name].shape}")
        model.set_params(params)
        optimizer.load_state_dict({k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("optim/")},
                                  state["optimizer"])
        for i, cb in enumerate(callbacks):
            prefix = f"callback{i}/"
            scalars = state["callbacks"].get(str(i))
            if scalars is not None:
                cb.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, scalars)
        rng_state = state["rng"]
        rng = np.random.Generator(BIT_GENERATORS[rng_state["bit_generator"]]())
        rng.bit_generator.state = rng_state
        resume = Resume(epoch=int(state["epoch"]), step_in_epoch=int(state["step_in_epoch"]), order=tensors.get("order"),
                        totals=dict(state["totals"]), seconds=float(state["seconds"]),
                        history=History.from_dict(state["history"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: checkpoint state is incomplete or invalid ({exc.__class__.__name__}: {exc})") from None
    return resume, rng


@dataclass(frozen=True)
class ResumePlan:
    """How an interrupted run continues: from its newest usable checkpoint, with the settings it was started
    with (its config and recipe name, where its model goes, how many checkpoints it keeps and how often it
    writes them mid-epoch). ``skipped``: damaged newer checkpoints passed over, with why."""

    path: Path
    config: TrainConfig
    recipe: str
    out: Path | None
    keep: int
    checkpoint_every: int
    skipped: tuple[tuple[Path, str], ...] = ()


def resume_plan(directory: str | Path, *, keep: int | None = None, checkpoint_every: int | None = None) -> ResumePlan:
    """The plan for continuing the run whose checkpoints are in ``directory``. Its own settings are kept: only
    ``keep`` and ``checkpoint_every`` may be changed (None: as the run had them)."""
    skipped: list = []
    path = latest(directory, skipped=skipped)
    _, _, _, saved = read(path)
    out = saved.get("out")
    return ResumePlan(path, TrainConfig.from_dict(saved["config"]), saved.get("recipe", "default"),
                      Path(out) if out else None, keep or saved.get("keep") or 3,
                      checkpoint_every or saved.get("checkpoint_every", 0), tuple(skipped))
