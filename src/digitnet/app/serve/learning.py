"""The page learns your handwriting: corrections are kept, a personal model is fine-tuned from them
in the background, and the server reads with it when asked (and with the original when asked back).

Routes (mounted by :func:`digitnet.app.serve.create_app`):

- ``POST /api/corrections`` ``{"pixels": [784], "label": k}``: keep a prepared image with its true label
  in the personal set (:mod:`digitnet.data.personal`); ``GET /api/corrections``: how many of each digit.
- ``POST /api/finetune``: start fine-tuning (202); ``GET /api/finetune``: its state and progress.
- ``POST /api/model/use`` ``{"model": "personal" | "base"}``: read with the personal model or the original.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal

import anyio.to_thread
import numpy as np
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ...data import datasets
from ...reading.contract import PIXELS, SIDE
from ...run import personal
from ... import paths
from ...errors import DigitnetError
from ...run.finetune import MIN_SAMPLES, finetune
from ...run.modelfile import save_model
from ...training.fit import Callback



class CorrectionIn(BaseModel):
    """A prepared 28x28 image (what /api/predict answered in ``image``) and the digit it really is."""

    model_config = ConfigDict(strict=True)

    pixels: list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(min_length=PIXELS, max_length=PIXELS)
    label: int = Field(ge=0, le=9, description="the digit it really is")


class UseIn(BaseModel):
    model_config = ConfigDict(strict=True)

    model: Literal["base", "personal"]


class Counts(BaseModel):
    count: int
    counts: list[int] = Field(description="samples of each digit")


class Job(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
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
    """The model the server reads with: the one it started with, or the personal one fine-tuned from it."""

    def __init__(self, model, *, enabled: bool = True):
        self.base, self.personal, self.using, self.enabled = model, None, "base", enabled
        self.job = {"state": "idle", "progress": 0.0, "message": "no fine-tuning yet"}
        self._lock = threading.Lock()

    @property
    def model(self):
        return self.personal if self.using == "personal" and self.personal is not None else self.base

    def status(self) -> Job:
        return Job(**self.job, using=self.using, personal_available=self.personal is not None)

    def start(self) -> tuple[int, dict]:
        if not self.enabled:
            return 409, {"detail": "fine-tuning needs `digitnet serve` with one worker process (it keeps the "
                                   "personal model in memory)"}
        with self._lock:
            if self.job["state"] == "running":
                return 409, {"detail": "a fine-tuning run is already going: GET /api/finetune follows it"}
            images, labels = personal.load()
            if len(images) < MIN_SAMPLES:
                return 422, {"detail": f"fine-tuning needs at least {MIN_SAMPLES} corrected or confirmed digits; "
                                       f"the personal set holds {len(images)}"}
            self.job = {"state": "running", "progress": 0.0, "message": f"learning from {len(images)} samples"}
        threading.Thread(target=self._run, args=(images, labels), daemon=True, name="finetune").start()
        return 202, self.status().model_dump()

    def _run(self, images, labels) -> None:
        try:
            dataset = datasets.load_for(self.base.metadata)
            result = finetune(self.base, images, labels, dataset, callbacks=[_Progress(self.job)])
            path = paths.new_model_path("personal")
            save_model(path, result.model)
            self.personal = result.model
            self.job = {"state": "done", "progress": 1.0, "samples": result.samples,
                        "message": f"a personal model from {result.samples} samples is ready ({path.name})",
                        "test_accuracy_before": result.test_accuracy_before, "test_accuracy_after": result.test_accuracy_after}
        except (DigitnetError, OSError) as exc:
            self.job = {"state": "failed", "progress": 0.0, "message": str(exc)}


def router(learner: Learner) -> APIRouter:
    api = APIRouter()

    @api.post("/api/corrections", response_model=Counts, summary="Keep a corrected (or confirmed) digit")
    async def add_correction(body: CorrectionIn) -> Counts:
        classes = learner.base.sizes[-1]
        if body.label >= classes:
            return JSONResponse({"detail": f"label must be below {classes}"}, status_code=422)
        image = np.asarray(body.pixels, np.float64).reshape(SIDE, SIDE)
        try:
            count = await anyio.to_thread.run_sync(lambda: personal.add(image, body.label, n_classes=classes))
        except OSError as exc:  # a full disk, a read-only home: the set keeps what it had
            return JSONResponse({"detail": f"the correction could not be saved ({exc.strerror or exc}); "
                                           "the personal set is unchanged"}, status_code=507)
        except DigitnetError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return Counts(count=count, counts=await anyio.to_thread.run_sync(personal.counts))

    @api.get("/api/corrections", response_model=Counts, summary="How many digits the personal set holds")
    async def corrections() -> Counts:
        counts = await anyio.to_thread.run_sync(personal.counts)
        return Counts(count=sum(counts), counts=counts)

    @api.post("/api/finetune", response_model=Job, status_code=202, summary="Fine-tune a personal model (background)")
    async def start_finetune():
        status, body = learner.start()
        return JSONResponse(body, status_code=status)

    @api.get("/api/finetune", response_model=Job, summary="The fine-tuning run's state and progress")
    async def finetune_status() -> Job:
        return learner.status()

    @api.post("/api/model/use", response_model=Job, summary="Read with the personal model, or the original")
    async def use(body: UseIn):
        if body.model == "personal" and learner.personal is None:
            return JSONResponse({"detail": "there is no personal model yet: POST /api/finetune first"}, status_code=409)
        learner.using = body.model
        return learner.status()

    return api
