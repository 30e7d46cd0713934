"""A single self-contained HTML report of a model: its card and every plot, images embedded."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from ..fileio import atomic_write_bytes
from ..nn.metrics import Evaluation, evaluate
from ..training.fit import History
from . import plots
from .card import model_card, picture_refusals

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:1em 0}
td,th{border-bottom:1px solid #ddd;padding:.35em .8em;text-align:left;vertical-align:top}
th{color:#555;font-weight:600;white-space:nowrap} code{font-size:.9em;word-break:break-all}
figure{margin:2em 0} img{max-width:100%;height:auto} figcaption{color:#555;font-size:.92em}
.big{font-size:1.6em;font-weight:700}
"""

CAPTIONS = {
    "learning_curves": "Training and validation loss and accuracy per epoch, and the learning rate.",
    "confusion_matrix": "Rows are true classes, columns predictions; off-diagonal cells are the mistakes.",
    "per_class_accuracy": "Accuracy of each class on the test set; the weakest class is in red.",
    "worst_misclassified": "The test images the model got wrong with the most confidence.",
    "first_layer_weights": "Incoming weights of first-layer hidden units, as images: "
                           "blue pixels excite the unit, red inhibit it.",
    "reliability": "Calibration: when the model says p%, is it right p% of the time? Bars on the diagonal are perfect.",
}


def build_report(model, dataset, *, model_path: str = "", result: Evaluation | None = None) -> bytes:
    """The HTML bytes of the report for ``model`` evaluated on ``dataset`` (``result``: that evaluation, if done)."""
    meta = model.metadata
    result = result or evaluate(model, dataset.test, dataset.num_classes)
    correct, total = result.correct, result.total
    low, high = result.interval
    figures = {}
    history = History.from_dict(meta.get("history", {}))
    if len(history):
        figures["learning_curves"] = plots.learning_curves(history)
    figures.update(plots.evaluation_figures(model, dataset, result))
    config = meta.get("config", {})
    rows = [
        ("Test accuracy", f'<span class="big">{correct / total * 100:.2f}%</span> ({correct:,} / {total:,}; '
                          f"95% Wilson interval {low * 100:.2f}% – {high * 100:.2f}%)"),
        ("Architecture", f"{'-'.join(map(str, model.sizes))} MLP, {model.activation} hidden units, softmax output, "
                         f"{model.dtype.name}"),
        ("Parameters", f"{model.n_params:,}"),
        ("Recipe", html.escape(str(meta.get("recipe", "—")))),
        ("Training time", f"{meta['train_seconds']:.1f} s" if "train_seconds" in meta else "—"),
        ("Seed", html.escape(str(meta.get("seed", "—")))),
        ("Dataset", f"{html.escape(dataset.name)} ({len(dataset.train):,} train / {total:,} test images)"),
        ("Dataset SHA-256", "<br>".join(f"{html.escape(k)}: <code>{html.escape(v)}</code>"
                                        for k, v in (meta.get("dataset_sha256") or dataset.sha256).items()) or "—"),
        ("Config", f"<code>{html.escape(json.dumps(config, sort_keys=True))}</code>" if config else "—"),
        ("Model file", f"<code>{html.escape(model_path)}</code>" if model_path else "—"),
    ]
    body = [f"<h1>digitnet model report</h1><p class=sub>{html.escape(Path(model_path).name or 'model')}</p>",
            "<h2>Model card</h2><p>The full card, with intended use, refusals and limitations: "
            "<a href=README.md>README.md</a>.</p><table>",
            *(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows), "</table>"]
    for name, fig in figures.items():
        data = base64.b64encode(plots.png_bytes(fig)).decode()
        body.append(f'<figure id="{name}"><img alt="{name.replace("_", " ")}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{CAPTIONS[name]}</figcaption></figure>")
    page = ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>digitnet report</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>")
    return page.encode()


def write_report(model, dataset, out_dir: str | Path, *, model_path: str = "") -> Path:
    """Write ``out_dir/index.html`` and the model card ``out_dir/README.md`` atomically; returns the page's path."""
    result = evaluate(model, dataset.test, dataset.num_classes)
    refusals = picture_refusals(model, dataset.test)
    card = model_card(model, evaluation=result, refusals=refusals, model_path=model_path)
    atomic_write_bytes(Path(out_dir) / "README.md", card.encode())
    path = Path(out_dir) / "index.html"
    atomic_write_bytes(path, build_report(model, dataset, model_path=model_path, result=result))
    return path
