"""The draw page as a folder that needs no server: ``digitnet export MODEL --web DIR``.

The folder holds the page the server serves (``index.html``, ``style.css``, ``app.js``), the
browser's copy of the preparation, geometry rules, network and verdict (``digitnet.js``), and
``model.js``: the architecture, calibration, class names, the rules' constants (taken from
:mod:`digitnet.reading.verdict` and :mod:`digitnet.reading.preprocess` here, so both sides use the same
numbers) and the weights. The weights are one little-endian float32 buffer (``W1`` as
(fan_in, fan_out) row-major, ``b1``, ``W2``, ...), base64-encoded inside the script: browsers
refuse ``fetch`` from ``file://`` pages, but do run a script beside the page. It opens from
``file://`` or any static host, and asks nothing of any other origin.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

import numpy as np

from ...data.deskew import MAX_SLANT
from ...fileio import atomic_write_bytes
from ...reading import preprocess
from ...reading.contract import REASON_WORDS, Calibration, check_reads_pictures
from ...reading.geometry import GEOMETRY

PAGE_FILES = ("style.css", "app.js", "digitnet.js", "favicon.svg")


def check_model(model) -> None:
    """Refuse a model the page cannot run (UsageError)."""
    check_reads_pictures(model, "the draw page")


def model_script(model) -> str:
    """``model.js``: ``window.DIGITNET_MODEL = {...}``."""
    check_model(model)
    weights = b"".join(np.ascontiguousarray(p, dtype="<f4").tobytes() for p in model.params.values())
    cal = Calibration.of(model)
    meta = model.metadata
    classes = [str(c) for c in meta.get("classes", [str(i) for i in range(model.sizes[-1])])]
    spec = {
        "sizes": model.sizes, "activation": model.activation, "deskew": model.deskew, "classes": classes,
        "calibration": {"temperature": cal.temperature, "threshold": cal.threshold, "pair_threshold": cal.pair_threshold,
                        "energy_threshold": cal.energy_threshold},
        "constants": {"INK_THRESHOLD": preprocess.INK_THRESHOLD, "WORK": preprocess.WORK,
                      "MNIST_STROKE": preprocess.MNIST_STROKE, "MAX_SLANT": MAX_SLANT, **GEOMETRY},
        "reasonWords": REASON_WORDS,
        "card": {"classes": classes, "sizes": model.sizes, "activation": model.activation, "dtype": model.dtype.name,
                 "parameters": model.n_params, "test_accuracy": meta.get("test_accuracy"), "recipe": meta.get("recipe"),
                 "dataset": meta.get("dataset", "mnist"), "train_seconds": meta.get("train_seconds")},
        "weights": base64.b64encode(weights).decode(),
    }
    return "// digitnet model: written by `digitnet export --web`\nwindow.DIGITNET_MODEL = " + json.dumps(spec) + ";\n"


def page_html() -> str:
    """The served page's HTML with paths relative to its folder and the in-browser reader loaded."""
    html = (resources.files("digitnet.app.serve") / "static" / "index.html").read_text()
    html = html.replace('href="/static/', 'href="').replace('src="/static/', 'src="')
    if '<script src="app.js"></script>' not in html:
        raise RuntimeError("the page's HTML no longer loads app.js where export expects it")
    return html.replace('<script src="app.js"></script>',
                        '<script src="model.js"></script>\n  <script src="digitnet.js"></script>\n'
                        '  <script src="app.js"></script>')


def export_web(model, directory: str | Path) -> int:
    """Write the page's folder into ``directory`` (created if needed); returns its size in bytes."""
    static = resources.files("digitnet.app.serve") / "static"
    files = {"index.html": page_html().encode(), "model.js": model_script(model).encode(),
             **{name: (static / name).read_bytes() for name in PAGE_FILES}}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(directory / name, data)
    return sum(len(data) for data in files.values())
