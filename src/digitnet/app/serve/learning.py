"""The page learns your handwriting: corrections are kept, a personal model is fine-tuned from them
in the background, and the server reads with it when asked (and with the original when asked back).

Routes (mounted by :func:`digitnet.app.serve.create_app`):

- ``POST /api/corrections`` ``{"pixels": [784], "label": k}``: keep a prepared image with its true label
  in the personal set (:mod:`digitnet.run.personal`); ``GET /api/corrections``: how many of each digit.
- ``POST /api/finetune``: start fine-tuning (202); ``GET /api/finetune``: its state and progress (``off`` in a
  server of several worker processes, where a personal model could live in one process only).
- ``POST /api/model/use`` ``{"model": "personal" | "base"}``: read with the personal model or the original.

The :class:`Learner` raises digitnet's exceptions; the routes turn them into HTTP statuses (:func:`problem`):
a damaged personal set 503, what the server's state does not allow (:class:`Conflict`, a model whose classes
are not digits) 409, a file-system failure 507, any other refusal 422. A fine-tuning run that fails in any way
ends in ``failed`` with its message, and the next one may start.

On start, the newest personal model fine-tuned from this very model (its weights' SHA-256 is recorded in the
personal model) is loaded again, and temporary files that a killed write left in the model and personal folders
are removed; after each fine-tuning only the newest :data:`KEEP_PERSONAL_MODELS` personal models of the model
are kept.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ... import paths
from ...data import datasets
from ...errors import DigitnetError, OutputError, UsageError
from ...fileio import check_output_dir, remove_stale_temporaries
from ...nn.model import MLP
from ...reading.contract import PIXELS, SIDE
from ...run import personal
from ...run.finetune import MIN_SAMPLES, finetune
from ...run.modelfile import load_model, save_model
from ...training.fit import Callback

log = logging.getLogger("digitnet.serve")
KEEP_PERSONAL_MODELS = 3  # personal models of one base model kept in the model folder, newest first
STALE_SECONDS = 3600  # a temporary file this old was left by a killed write, not one in progress
OFF = ("fine-tuning is off in this server: it runs several worker processes, and a personal model would live in "
       "one of them only; start `digitnet serve` with one worker (the default) to learn from corrections and switch "
       "models")


class Conflict(DigitnetError):
    """What the server's state does not allow now (HTTP 409): fine-tuning off, already running, no personal model."""


class CorrectionIn(BaseModel):
    """A prepared 28x28 image (what /api/predict answered in ``image``) and the digit it really is."""

    model_config = ConfigDict(strict=True)

    pixels: list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(min_length=PIXELS, max_length=PIXELS)
    label: int = Field(ge=0, le=9, description="the digit it really is (the personal set holds digits 0-9)")


class UseIn(BaseModel):
    model_config = ConfigDict(strict=True)

    model: Literal["base", "personal"]


class Counts(BaseModel):
    count: int
    counts: list[int] = Field(description="samples of each digit")
    needed: int = Field(default=MIN_SAMPLES, description="how many samples fine-tuning needs at least")


class Problem(BaseModel):
    detail: str


class Job(BaseModel):
    state: Literal["idle", "running", "done", "failed", "off"]
    progress: float = Field(description="0 to 1")
    message: str
    using: Literal["base", "personal"]
    personal_available: bool
    test_accuracy_before: float | None = None
    test_accuracy_after: float | None = None
    samples: int | None = None


class _Progress(Callback):
    def __init__(self, job: dict):
        self.job = job

    def on_batch_end(self, state):
        done = state.epoch * state.steps_per_epoch + state.step_in_epoch + 1
        self.job["progress"] = round(0.95 * done / (state.epochs * state.steps_per_epoch), 3)  # calibration: the rest


class Learner:
    """The model the server reads with: the one it started with, or the personal one fine-tuned from it.
    ``enabled``: this process may fine-tune (a server of one worker process)."""

    def __init__(self, model, *, enabled: bool = True):
        self.base, self.enabled = model, enabled
        self.personal: MLP | None = None
        self.using: Literal["base", "personal"] = "base"
        self.job: dict[str, Any] = ({"state": "idle", "progress": 0.0, "message": "no fine-tuning yet"} if enabled else
                    {"state": "off", "progress": 0.0, "message": OFF})
        self._lock = threading.Lock()
        for folder in (paths.models_dir(), personal.directory()):
            for path in remove_stale_temporaries(folder, STALE_SECONDS):
                log.info("removed %s, left by a write that never finished", path)
        if enabled:
            mine = self._personal_models()
            self.personal = mine[0][1] if mine else None

    @property
    def model(self):
        return self.personal if self.using == "personal" and self.personal is not None else self.base

    def status(self) -> Job:
        return Job(**self.job, using=self.using, personal_available=self.personal is not None)

    def start(self) -> Job:
        """Start fine-tuning in the background; the job as it starts. It reads the personal set: call it off the
        event loop. Raises :class:`Conflict` (off in this server, or a run already going),
        :class:`~digitnet.run.personal.NotDigits`, :class:`~digitnet.run.personal.DamagedSet`, UsageError (too few
        samples) or OutputError (no model folder to save into), before any training."""
        if not self.enabled:
            raise Conflict(OFF)
        personal.check_model(self.base, "fine-tuning on your corrections")
        with self._lock:
            if self.job["state"] == "running":
                raise Conflict("a fine-tuning run is already going: GET /api/finetune follows it")
            check_output_dir(paths.models_dir(), "the personal model's folder")
            images, labels = personal.load()
            if len(images) < MIN_SAMPLES:
                raise UsageError(f"fine-tuning needs at least {MIN_SAMPLES} corrected or confirmed digits; "
                                 f"the personal set holds {len(images)}")
            self.job = {"state": "running", "progress": 0.0, "message": f"learning from {len(images)} samples"}
        threading.Thread(target=self._run, args=(images, labels), daemon=True, name="finetune").start()
        return self.status()

    def use(self, which: Literal["base", "personal"]) -> Job:
        """Read with ``which`` model from now on (:class:`Conflict` when there is no personal model to read with)."""
        if which == "personal" and not self.enabled:
            raise Conflict(OFF)
        if which == "personal" and self.personal is None:
            raise Conflict("there is no personal model yet: POST /api/finetune first")
        self.using = which
        return self.status()

    def _run(self, images, labels) -> None:
        """The background run: whatever it raises ends the job as ``failed`` with its message (never ``running``
        for ever, which would refuse every later run)."""
        try:
            dataset = datasets.load_for(self.base.metadata)
            result = finetune(self.base, images, labels, dataset, callbacks=[_Progress(self.job)])
            personal.mark_base(result.model, self.base)
            path = _unused(paths.new_model_path("personal"))
            save_model(path, result.model)
            self.personal = result.model
            self._prune()
            self.job = {"state": "done", "progress": 1.0, "samples": result.samples,
                        "message": f"a personal model from {result.samples} samples is ready ({path.name})",
                        "test_accuracy_before": result.test_accuracy_before, "test_accuracy_after": result.test_accuracy_after}
        except Exception as exc:  # every failure, a bug's too, must end the job
            if not isinstance(exc, (DigitnetError, OSError)):
                log.exception("fine-tuning failed")
            self.job = {"state": "failed", "progress": 0.0, "message": failure(exc)}

    def _personal_models(self) -> list[tuple[Path, MLP]]:
        """The personal models fine-tuned from this base model in the model folder, newest first (files that
        cannot be read are passed over)."""
        try:
            files = sorted(paths.models_dir().glob("personal-*.safetensors"), key=_modified, reverse=True)
        except OSError:
            return []
        found = []
        for path in files[:MAX_SCANNED]:
            try:
                model = load_model(path)
            except (DigitnetError, OSError):
                continue
            if personal.made_from(model, self.base):
                found.append((path, model))
        return found

    def _prune(self) -> None:
        """Remove this base's personal models but the newest :data:`KEEP_PERSONAL_MODELS`."""
        for path, _ in self._personal_models()[KEEP_PERSONAL_MODELS:]:
            try:
                path.unlink()
            except OSError as exc:  # removed meanwhile, or a read-only folder: it stays, nothing else is wrong
                log.warning("could not remove the old personal model %s (%s)", path, exc.strerror)


MAX_SCANNED = 50  # personal model files looked at (newest first) on start and when pruning


def _modified(path: Path) -> tuple[float, str]:
    try:
        return path.stat().st_mtime, path.name
    except OSError:
        return 0.0, path.name


def _unused(path: Path) -> Path:
    """``path``, or ``NAME-2.EXT``, ``NAME-3.EXT``... when a model was saved there in the same second."""
    candidate, k = path, 1
    while candidate.exists():
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return candidate


def failure(exc: BaseException) -> str:
    """An exception in words for a client: digitnet's own messages as they are, a file-system error with its
    file, anything else with its kind."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    if isinstance(exc, DigitnetError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def problem(exc: Exception) -> JSONResponse:
    """The HTTP answer to an exception of the personal set or the :class:`Learner` (see the module)."""
    if isinstance(exc, personal.DamagedSet):
        status = 503
    elif isinstance(exc, (Conflict, personal.NotDigits)):
        status = 409
    elif isinstance(exc, (OutputError, OSError)):
        status = 507
    else:
        status = 422
    return JSONResponse({"detail": failure(exc)}, status_code=status)


def router(learner: Learner) -> APIRouter:
    api = APIRouter()
    refusals: dict[int | str, dict[str, Any]] = {status: {"model": Problem, "description": words} for status, words in (
        (409, "the server cannot do it now (see the detail)"), (422, "invalid body, or too few samples"),
        (503, "the personal set is damaged: `digitnet datasets repair personal`"), (507, "the disk refused the write"))}

    @api.post("/api/corrections", response_model=Counts, responses=refusals, summary="Keep a corrected (or confirmed) digit")
    async def add_correction(body: CorrectionIn):
        image = np.asarray(body.pixels, np.float64).reshape(SIDE, SIDE)
        try:
            personal.check_model(learner.base, "keeping corrections")
            count, counts = await anyio.to_thread.run_sync(lambda: personal.add_and_count(image, body.label))
        except OSError as exc:  # a full disk, a read-only home: the set keeps what it had
            return JSONResponse({"detail": f"the correction could not be saved ({failure(exc)}); "
                                           "the personal set is unchanged"}, status_code=507)
        except DigitnetError as exc:
            return problem(exc)
        return Counts(count=count, counts=counts)

    @api.get("/api/corrections", response_model=Counts, responses=refusals, summary="How many digits the personal set holds")
    async def corrections():
        try:
            counts = await anyio.to_thread.run_sync(personal.counts)
        except (DigitnetError, OSError) as exc:
            return problem(exc)
        return Counts(count=sum(counts), counts=counts)

    @api.post("/api/finetune", response_model=Job, status_code=202, responses=refusals,
              summary="Fine-tune a personal model (background)")
    async def start_finetune():
        try:  # it reads the personal set (up to 100,000 samples): never on the event loop
            job = await anyio.to_thread.run_sync(learner.start)
        except (DigitnetError, OSError) as exc:
            return problem(exc)
        return JSONResponse(job.model_dump(), status_code=202)

    @api.get("/api/finetune", response_model=Job, summary="The fine-tuning run's state and progress")
    async def finetune_status() -> Job:
        return learner.status()

    @api.post("/api/model/use", response_model=Job, responses=refusals, summary="Read with the personal model, or the original")
    async def use(body: UseIn):
        try:
            return learner.use(body.model)
        except DigitnetError as exc:
            return problem(exc)

    return api
