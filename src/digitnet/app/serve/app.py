"""FastAPI app around a trained model: the page, ``/api/predict``, ``/api/model``, ``/api/samples/random``.

Everything a client sends is validated; bad input gets a 4xx with a JSON ``detail``
message, never a 500. Bodies over 2 MB get 413 before they are read.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ...data import datasets
from ...errors import DataError, DigitnetError
from ...reading.contract import PIXELS, REASON_SOURCE, REASON_WORDS, SIDE, Reading, Reason, Verdict, check_reads_pictures
from ...reading.preprocess import open_image
from ...reading.verdict import read
from ...run.modelfile import load_model
from .learning import Learner
from .learning import router as learning_router

MAX_BODY_BYTES = 2 * 1024 * 1024
REQUEST_SECONDS = 10  # the most one image may take to decode and read
IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/gif", "image/webp")


class PixelsIn(BaseModel):
    """A 28x28 image, row by row, white ink on black, each value in [0, 1] (numbers only: not strings, not booleans)."""

    model_config = ConfigDict(strict=True)

    pixels: list[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] = Field(min_length=PIXELS, max_length=PIXELS)
    preprocess: bool = Field(False, description="crop, scale and centre the ink as MNIST was made (for raw drawings)")


class Prediction(BaseModel):
    verdict: Verdict
    label: int | None = Field(description="the digit read (the likelier one when unsure); null when not a digit")
    label_name: str | None = Field(description="the class name of label")
    prediction: int = Field(description="the class with the highest probability, whatever the verdict")
    confidence: float = Field(description="calibrated probability of the top class")
    probabilities: list[float]
    reason: Reason | None = Field(description="why it is not a digit: " + "; ".join(
        f"{reason} ({REASON_SOURCE[reason]}: {words})" for reason, words in REASON_WORDS.items()))
    candidates: list[int] = Field(description="the two likeliest digits when unsure")
    message: str = Field(description="the verdict in words")
    classes: list[str]
    image: list[float] = Field(description="the 784 pixels the network saw, after preprocessing")


class ModelCard(BaseModel):
    sizes: list[int]
    activation: str
    parameters: int
    dtype: str
    test_accuracy: float | None
    recipe: str | None
    dataset: str
    classes: list[str]
    train_seconds: float | None
    using: Literal["base", "personal"] = Field("base", description="which model reads: the original or the personal one")


class Sample(BaseModel):
    index: int
    label: int
    label_name: str
    pixels: list[float]


class Problem(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {413: {"model": Problem, "description": "body larger than 2 MB"},
                                           415: {"model": Problem, "description": "not JSON, multipart or PNG/JPEG"},
                                           422: {"model": Problem, "description": "invalid pixels or image, or no digit drawn"}}

PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": PixelsIn.model_json_schema()},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    },
}


class BodyLimit:
    """ASGI middleware: 413 for a declared or actual body over ``limit`` bytes, without reading the rest."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _problem(400, "Content-Length is not a number")(scope, receive, send)
            if int(declared) > self.limit:
                return await _problem(413, f"request body of {int(declared):,} bytes is over the "
                                           f"{self.limit:,}-byte limit")(scope, receive, send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, f"request body is over the {self.limit:,}-byte limit")
            return message

        await self.app(scope, limited, send)


#: on every response: only this origin's scripts, styles, images and requests; no framing; no sniffing.
#: /docs is the exception that needs Swagger UI's assets from its CDN (served locally: a later change).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; "
                                 b"base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


#: Swagger UI (/docs) styles its elements inline: its page alone may use inline styles
DOCS_CSP = (b"content-security-policy", b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response (/docs with :data:`DOCS_CSP`)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = SECURITY_HEADERS
        if scope.get("path", "") == "/docs":
            headers = [DOCS_CSP, *SECURITY_HEADERS[1:]]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in headers if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _describe(errors) -> str:
    parts = []
    for e in errors[:5]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def create_app(model_path: str | Path, *, learning: bool = True) -> FastAPI:
    """The app for the model saved at ``model_path``; ``learning``: fine-tuning a personal model
    in this process (one worker) is allowed."""
    model_path = Path(model_path)
    model = load_model(model_path)
    check_reads_pictures(model, "serving the draw page")  # a UsageError now, not a 500 on every reading
    meta = model.metadata
    classes = [str(c) for c in meta.get("classes", [str(i) for i in range(model.sizes[-1])])]
    samples: dict = {}

    def test_split():
        if "split" not in samples:
            try:
                samples["split"] = datasets.load_for(meta).test
            except DigitnetError as exc:
                raise HTTPException(503, f"the model's test images are not available here: {exc}") from None
        return samples["split"]

    app = FastAPI(title="digitnet", version="1", description="Draw a digit and watch a from-scratch NumPy network read it.",
                  docs_url=None, redoc_url=None)  # /docs is served below from local files (fastapi-offline's), no CDN
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    learner = Learner(model, enabled=learning)
    app.include_router(learning_router(learner))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return _problem(422, _describe(exc.errors()))

    @app.exception_handler(DataError)
    async def bad_data(request, exc):
        return _problem(422, str(exc))

    @app.exception_handler(ClientDisconnect)
    async def gone(request, exc):  # the client left mid-upload: nobody to answer, nothing to log
        return _problem(400, "the client disconnected before the body was complete")

    workers = anyio.CapacityLimiter(max(1, os.cpu_count() or 1))

    async def off_loop(work):
        """Decoding and reading run on a bounded thread pool, never on the event loop (which keeps
        answering /healthz and other requests meanwhile), and for at most REQUEST_SECONDS."""
        try:
            with anyio.fail_after(REQUEST_SECONDS):
                return await anyio.to_thread.run_sync(work, limiter=workers, abandon_on_cancel=True)
        except TimeoutError:
            return _problem(503, f"reading the image took longer than {REQUEST_SECONDS} s; try a smaller picture")

    def answer(reading: Reading) -> Prediction:
        if reading.image is None:  # read() always keeps the 28x28 it gave the network
            raise RuntimeError("a reading without the image the network saw")
        fields = reading.to_dict()
        del fields["source"]
        return Prediction(**fields, prediction=int(np.argmax(reading.probabilities)), message=reading.describe(classes),
                          label_name=None if reading.label is None else classes[reading.label], classes=classes,
                          image=np.round(reading.image.ravel().astype(np.float64), 4).tolist())

    @app.post("/api/predict", response_model=Prediction, responses=ERRORS, openapi_extra={"requestBody": PREDICT_BODY},
              summary="Classify a 28x28 image (JSON pixels) or a picture (PNG/JPEG upload or body)")
    async def predict(request: Request) -> Prediction | JSONResponse:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                body = PixelsIn.model_validate_json(await request.body())
            except ValidationError as exc:
                return _problem(422, _describe(exc.errors()))
            pixels = np.asarray(body.pixels, np.float32).reshape(SIDE, SIDE)
            return await off_loop(lambda: answer(read(learner.model, pixels, prepared=not body.preprocess, name="pixels")))
        elif kind == "multipart/form-data":
            try:
                form = await request.form(max_files=1, max_fields=4)
            except StarletteHTTPException as exc:  # Starlette's words for what the parser refused
                if exc.status_code == 413:
                    raise
                if "files" in str(exc.detail).lower():
                    return _problem(422, "the multipart body holds more than one file: send one image file, in the field 'file'")
                return _problem(422, f"malformed multipart body: {exc.detail}")
            except Exception as exc:  # malformed multipart
                return _problem(422, f"malformed multipart body ({exc.__class__.__name__})")
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return _problem(422, "multipart body needs an image file in the field 'file'")
            name, data = upload.filename or "upload", await upload.read()
            return await off_loop(lambda: answer(read(learner.model, open_image(data, name), name=name)))
        elif kind in IMAGE_TYPES:
            data = await request.body()
            return await off_loop(lambda: answer(read(learner.model, open_image(data, "body"), name="body")))
        else:
            return _problem(415, f"unsupported content type {kind or '(none)'!r}: send application/json pixels, "
                                 "multipart/form-data with a 'file', or an image body (PNG, JPEG, BMP, GIF, WebP)")

    @app.get("/api/model", response_model=ModelCard, summary="The model card")
    async def model_card() -> ModelCard:
        now = learner.model.metadata
        return ModelCard(sizes=model.sizes, activation=model.activation, parameters=model.n_params, dtype=model.dtype.name,
                         test_accuracy=now.get("test_accuracy"), recipe=now.get("recipe"),
                         dataset=now.get("dataset", "mnist"), classes=classes, train_seconds=now.get("train_seconds"),
                         using=learner.using)

    @app.get("/api/samples/random", response_model=Sample, responses={422: {"model": Problem}, 503: {"model": Problem}},
             summary="A real test image with its true label")
    async def random_sample(index: Annotated[int | None, Query(ge=0, le=9999,
                                                               description="a given test image instead")] = None,
                            ) -> Sample | JSONResponse:
        split = test_split()
        i = int(np.random.default_rng().integers(len(split))) if index is None else index
        if i >= len(split):
            return _problem(422, f"index {i} is out of range: the test set has {len(split)} images")
        label = int(split.labels[i])
        return Sample(index=i, label=label, label_name=classes[label] if label < len(classes) else str(label),
                      pixels=[round(float(v), 4) for v in split.images[i].ravel() / 255])

    @app.head("/healthz", include_in_schema=False)
    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict:
        return {"status": "ok", "model": model_path.name, "pid": os.getpid()}

    static = Path(str(resources.files("digitnet.app.serve") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")

    app.mount("/docs-assets", StaticFiles(directory=Path(str(resources.files("fastapi_offline") / "static"))),
              name="docs-assets")  # Swagger UI 5, shipped by the fastapi-offline package

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(static / "docs.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():  # browsers ask for it whatever the page says
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page():
        return FileResponse(static / "index.html")

    return app


MODEL_ENV = "DIGITNET_SERVE_MODEL"
PARENT_ENV = "DIGITNET_SERVE_PARENT"  # the pid of the `digitnet serve` process whose workers these are
PARENT_POLL = 0.5  # seconds between a worker's checks that its parent is alive
EXIT_GRACE = 5.0  # seconds a worker whose parent is gone has to stop by itself before it is ended


def app_from_environment() -> FastAPI:
    """The app for the model named by ``$DIGITNET_SERVE_MODEL``: what each of uvicorn's worker
    processes builds (``digitnet serve --workers N``), loading the model once per process. The worker
    ends when its parent does (:func:`die_with_parent`)."""
    die_with_parent(int(os.environ.get(PARENT_ENV) or os.getppid()))
    return create_app(os.environ[MODEL_ENV], learning=False)


def die_with_parent(parent: int) -> None:
    """End this process (SIGTERM: uvicorn's graceful stop, then an exit after :data:`EXIT_GRACE` s) when the process
    ``parent`` is no longer its parent. A `serve --workers N` killed with SIGKILL cannot stop its workers, which would
    go on answering on its port and keep a new server from listening there. On Linux the kernel signals at once
    (prctl PR_SET_PDEATHSIG); everywhere a thread checks the parent's pid every :data:`PARENT_POLL` s."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no libc to ask: the thread below still watches
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="watch-parent").start()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(EXIT_GRACE)
    os._exit(1)
