"""What ``digitnet train`` shows while it trains: the CLI's callbacks (the library itself never prints).

On a terminal: a rich progress bar per epoch (per run for full-batch training) with
loss, accuracy, learning rate, samples/s and ETA. Otherwise: one plain line per
logged epoch, no escape codes. The ``seed`` recipe prints the tutorial's own lines.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..errors import OutputError
from ..training.fit import Callback


def tutorial_line(record: dict) -> str:
    """``Cost after iteration i: C Accuracy: A`` as the tutorial prints it, then the usual cross-entropy.

    C is the tutorial's cost convention, ``-mean(Y * log(A + 1e-8))`` over samples *and*
    classes (about the per-sample cross-entropy / 10).
    """
    line = "Cost after iteration %i: %f Accuracy: %f" % (record["epoch"], record["cost"], record["accuracy"] * 100)
    return f"{line}  | cross-entropy {record['loss']:.6f}"


def epoch_line(record: dict, epochs: int) -> str:
    val = (f"  val loss {record['val_loss']:.4f}  val acc {record['val_accuracy'] * 100:.2f}%"
           if "val_loss" in record else "")
    return (f"epoch {record['epoch'] + 1:>3}/{epochs}  loss {record['loss']:.4f}  acc {record['accuracy'] * 100:.2f}%"
            f"{val}  lr {record['lr']:.3g}  {record['seconds']:.1f} s")


class LineLog(Callback):
    """Plain lines, one per logged epoch (the tutorial's format when ``tutorial``)."""

    def __init__(self, console, *, tutorial: bool = False):
        self.console, self.tutorial = console, tutorial

    def on_epoch_end(self, state, record):
        if record is not None:
            self.console.print(tutorial_line(record) if self.tutorial else epoch_line(record, state.epochs), markup=False)


class ProgressBars(LineLog):
    """Live progress bars on a terminal; the logged lines are printed above them."""

    def on_train_begin(self, state):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeRemainingColumn(elapsed_when_finished=True),
                                 console=self.console)
        self.progress.start()
        self.full_batch = state.steps_per_epoch == 1
        self.batch_size = None
        self.task = None
        if self.full_batch:
            self.task = self.progress.add_task("iterations", total=state.epochs, completed=state.epoch, stats="")
        self.started = time.perf_counter()

    def _epoch_task(self, state):
        self.started = time.perf_counter()
        self.loss_sum, self.steps = 0.0, 0
        return self.progress.add_task(f"epoch {state.epoch + 1}/{state.epochs}", total=state.steps_per_epoch, stats="")

    def on_batch_end(self, state):
        if self.full_batch:
            return
        if self.task is None or state.step_in_epoch == 0:
            self.task = self._epoch_task(state)
        self.loss_sum += state.batch_loss
        self.steps += 1
        if self.steps % 10 == 0 or state.step_in_epoch == state.steps_per_epoch - 1:
            rate = self.steps * state.batch_size / max(time.perf_counter() - self.started, 1e-9)
            stats = f"loss {self.loss_sum / self.steps:.4f}  lr {state.optimizer.lr:.3g}  {rate:,.0f} samples/s"
            self.progress.update(self.task, completed=state.step_in_epoch + 1, stats=stats)

    def on_epoch_end(self, state, record):
        if self.full_batch and self.task is not None:
            rate = state.n_samples * (state.epoch + 1) / max(state.seconds, 1e-9)
            stats = f"loss {state.batch_loss:.4f}  lr {state.optimizer.lr:.3g}  {rate:,.0f} samples/s"
            self.progress.update(self.task, completed=state.epoch + 1, stats=stats)
        elif record is not None and self.task is not None:
            val = f"  val acc {record['val_accuracy'] * 100:.2f}%" if "val_accuracy" in record else ""
            self.progress.update(self.task, stats=f"loss {record['loss']:.4f}  acc {record['accuracy'] * 100:.2f}%{val}")
        if record is not None and self.tutorial:
            self.progress.console.print(tutorial_line(record), markup=False)

    def on_train_end(self, state):
        self.progress.stop()


class JsonlLog(Callback):
    """One JSON object per logged epoch, appended and flushed as it happens."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "w", encoding="utf-8")

    def on_epoch_end(self, state, record):
        if record is not None:
            try:
                self.file.write(json.dumps(record) + "\n")
                self.file.flush()
            except OSError as exc:  # a full disk: say which file
                raise OutputError(f"--log {self.path}: cannot be written ({exc.strerror})") from None

    def on_train_end(self, state):
        self.file.close()


def summary_table(history, metadata: dict, n_train: int) -> Table:
    last = history.last
    table = Table(title="training summary", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    epochs = metadata.get("epochs_run", last.get("epoch", -1) + 1)
    table.add_row("epochs", str(epochs))
    table.add_row("train loss / accuracy", f"{last.get('loss', float('nan')):.4f} / {last.get('accuracy', 0) * 100:.2f}%")
    if "val_loss" in last:
        table.add_row("validation loss / accuracy", f"{last['val_loss']:.4f} / {last['val_accuracy'] * 100:.2f}%")
    table.add_row("test accuracy", f"{metadata['test_accuracy'] * 100:.2f}%")
    seconds = metadata.get("train_seconds", 0.0)
    table.add_row("training time", f"{seconds:.1f} s")
    if seconds:
        table.add_row("throughput", f"{n_train * epochs / seconds:,.0f} samples/s")
    return table
