"""Every picture is produced, at the right size, and is not blank; the report is self-contained."""

import io
import json
import re

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import background
from digitnet import MLP, Adam, fit
from digitnet.app import plots
from digitnet.app.report import build_report
from quick import PLAIN


@pytest.fixture(scope="module")
def trained(mnist):
    model = MLP([784, 32, 10], "relu", rng=0)
    Xv, yv = mnist.train.features()[50000:], mnist.train.labels[50000:]
    history = fit(model, Adam(2e-3), mnist.train.features()[:20000], mnist.train.labels[:20000], epochs=3,
                  batch_size=128, validation=(Xv, yv))
    model.metadata = {"history": history.to_dict(), "recipe": "test", "train_seconds": 1.0, "seed": 0}
    return model, history


def pixels(fig: Figure) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(plots.png_bytes(fig))).convert("L"), dtype=float)


def check(fig: Figure, min_size):
    assert isinstance(fig, Figure)
    image = pixels(fig)
    h, w = image.shape
    assert w >= min_size[0] and h >= min_size[1], (w, h)
    assert image.std() > 10  # not blank
    return image


def test_learning_curves(trained):
    _, history = trained
    check(plots.learning_curves(history), (1000, 300))


def test_evaluation_figures(trained, mnist):
    model, _ = trained
    figures = plots.evaluation_figures(model, mnist)
    assert set(figures) == {"confusion_matrix", "worst_misclassified", "per_class_accuracy",
                            "first_layer_weights", "reliability"}
    sizes = {"confusion_matrix": (600, 500), "worst_misclassified": (900, 300), "per_class_accuracy": (600, 300),
             "first_layer_weights": (700, 400), "reliability": (800, 300)}
    for name, fig in figures.items():
        check(fig, sizes[name])


def test_confusion_heatmap_annotates_counts():
    cm = np.array([[5, 1], [0, 7]])
    fig = plots.confusion_heatmap(cm, ("a", "b"))
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert texts == {"5", "1", "7"}  # zero cells are left empty


def test_reliability_of_a_perfectly_calibrated_model_has_tiny_ece():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 20000)
    labels = (rng.uniform(size=20000) > conf).astype(int)  # class 0 is right with probability conf
    proba = np.stack([conf, 1 - conf], axis=1)
    fig = plots.reliability_diagram(proba, labels)
    ece = float(re.search(r"ECE ([0-9.]+)%", fig.axes[0].get_title()).group(1))
    assert ece < 1.5


def test_plotting_leaves_matplotlib_settings_alone(trained):
    import matplotlib

    before = dict(matplotlib.rcParams)
    plots.learning_curves(trained[1])
    assert dict(matplotlib.rcParams) == before


def test_report_is_self_contained(trained, mnist):
    model, _ = trained
    page = build_report(model, mnist, model_path="m.safetensors").decode()
    assert page.count("<img") == 6
    assert re.findall(r'src="(?!data:image/png;base64,)', page) == []
    assert not re.search(r"https?://|<link|<script|@import|url\(", page)
    assert "95% Wilson interval" in page and "784-32-10" in page


#: training through the command as a user runs it (not a terminal), with plots and a log; and again, quiet
PLOTTED = background.digitnet("plots-train", "train", "--hidden", "32", "--epochs", "2", *PLAIN, "--validation", "0.1",
                              "--out", "{folder}/m.safetensors", "--plots", "{folder}/plots", "--log", "{folder}/log.jsonl")
QUIET = background.digitnet("quiet-train", "train", "--hidden", "8", "--epochs", "1", *PLAIN,
                            "--out", "{folder}/m.safetensors", "--quiet")


@pytest.mark.background(PLOTTED)
@pytest.mark.background(QUIET)
def test_cli_plots_log_and_quiet(ran, tmp_path):
    """Through the command as a user runs it (train in a process of its own: not a terminal); evaluate and
    report in this one."""
    from digitnet.app.cli import main

    run = ran(PLOTTED)
    plots_dir, log = run.folder / "plots", run.folder / "log.jsonl"
    assert run.returncode == 0, run.stderr
    assert "\x1b[" not in run.stdout + run.stderr  # not a terminal: plain lines
    assert "epoch   1/2" in run.stderr and "training summary" in run.stdout  # progress on stderr, results on stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1] and all("val_accuracy" in r for r in records)
    assert (plots_dir / "learning_curves.png").stat().st_size > 10_000
    quiet = ran(QUIET)
    assert quiet.returncode == 0 and len(quiet.stdout.strip().splitlines()) == 1
    assert quiet.stdout.startswith("test accuracy:")
    out = quiet.folder / "m.safetensors"
    assert main(["evaluate", str(out), "--plots", str(plots_dir)]) == 0
    assert {p.name for p in plots_dir.iterdir()} == {
        "learning_curves.png", "confusion_matrix.png", "worst_misclassified.png", "per_class_accuracy.png",
        "first_layer_weights.png", "reliability.png"}
    assert main(["report", str(out), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "index.html").is_file()


def test_progress_bars_on_a_terminal(mnist):
    from rich.console import Console

    from digitnet.app.display import ProgressBars
    from digitnet.run.recipes import TrainConfig, train

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=140)
    train(TrainConfig(hidden=(16,), epochs=2), mnist, callbacks=[ProgressBars(console)])
    out = buffer.getvalue()
    assert "epoch 2/2" in out and "samples/s" in out and "acc" in out
    assert "\x1b[" in out  # a terminal gets the live display


def test_tutorial_lines_survive_the_progress_display(mnist):
    from rich.console import Console

    from digitnet.app.display import LineLog

    buffer = io.StringIO()
    record = {"epoch": 10, "cost": 0.204155, "accuracy": 0.40781667, "loss": 2.04}
    LineLog(Console(file=buffer), tutorial=True).on_epoch_end(None, record)
    assert buffer.getvalue().startswith("Cost after iteration 10: 0.204155 Accuracy: 40.781667  | cross-entropy 2.040000")
