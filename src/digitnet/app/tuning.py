"""What ``digitnet tune`` shows and writes around :mod:`digitnet.run.tune`: a line (or a JSON object) per
finished trial under a rich progress bar, N local worker processes on one study, and the results: the
best settings as TOML, the best model with its card, and Optuna's matplotlib plots.

Worker processes are ``digitnet tune --worker`` itself, joining the study through its storage (given
in the environment, so a password never shows in a process list); this process watches the storage
and reports each trial as it ends. On Ctrl+C (or SIGTERM) this process tells each worker once to stop
as Ctrl+C would: each fails its running trial and exits, so the study holds no trial left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import paths
from ..errors import DataError, UsageError
from ..fileio import atomic_write_bytes
from ..nn.metrics import evaluate
from ..run import tune
from ..run.modelfile import save_model

#: the environment variable that gives the study's storage URL (to workers, and to anyone who sets it)
STORAGE_ENV = "DIGITNET_TUNE_STORAGE"
PLOTS = {"optimization_history": "plot_optimization_history", "param_importances": "plot_param_importances",
         "slice": "plot_slice"}


def trial_record(trial) -> dict:
    """A finished trial as one JSON-able object: number, state, validation accuracy, time, settings, why pruned."""
    return {"trial": trial.number, "state": trial.state.name.lower(), "validation_accuracy": trial.value,
            "train_seconds": trial.user_attrs.get("train_seconds"), "epochs_run": trial.user_attrs.get("epochs_run"),
            "params": trial.params, **({"pruned_because": trial.user_attrs["pruned_because"]}
                                        if "pruned_because" in trial.user_attrs else {})}


def trial_line(record: dict, best: float | None) -> str:
    """One plain line for a finished trial; ``best``: the best validation accuracy so far."""
    value = record["validation_accuracy"]
    figure = f"val {value * 100:6.2f}%" if value is not None else f"{record['state']:>11}"
    seconds = f"{record['train_seconds']:6.1f} s" if record.get("train_seconds") is not None else " " * 8
    params = "  ".join(f"{k}={_short(v)}" for k, v in record["params"].items())
    mark = "  best so far" if value is not None and best is not None and value >= best else ""
    why = f"  ({record['pruned_because']})" if record.get("pruned_because") else ""
    return f"trial {record['trial']:>4}  {figure}  {seconds}  {params}{mark}{why}"


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class TrialLog:
    """Reports finished trials: JSON lines on ``out`` (``as_json``), or plain lines on ``messages`` under a
    progress bar over the ``total`` trials of this run (when ``messages`` is a terminal)."""

    def __init__(self, messages: Console, *, total: int | None, as_json: bool, quiet: bool, best: float | None,
                 out: IO[str]):
        self.messages, self.as_json, self.quiet, self.best, self.out = messages, as_json, quiet, best, out
        self.progress: Progress | None = None
        if not as_json and not quiet and messages.is_terminal:
            self.progress = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=messages)
            self.task = self.progress.add_task("trials", total=total, stats="")
            self.progress.start()

    def __call__(self, trial) -> None:
        record = trial_record(trial)
        value = record["validation_accuracy"]
        if value is not None and (self.best is None or value > self.best):
            self.best = value
        if self.as_json:
            self.out.write(json.dumps(record) + "\n")
            self.out.flush()
        elif not self.quiet:
            (self.progress.console if self.progress else self.messages).print(trial_line(record, self.best), markup=False)
        if self.progress is not None:
            best = f"best val {self.best * 100:.2f}%" if self.best is not None else ""
            self.progress.update(self.task, advance=1, stats=best)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_workers(study, *, workers: int, storage_url: str, n_trials: int | None, timeout: float | None,
                threads: int | None, data: str | None, on_trial: Callable[[Any], None]) -> None:
    """``workers`` processes (``digitnet tune --worker``) running ``n_trials`` trials of ``study`` between them
    (exactly that many: each its share) or until ``timeout``; ``on_trial`` for each trial as it ends.
    Ctrl+C or SIGTERM: the workers are told to stop (each fails its running trial) and are waited for."""
    shares = [None] * workers if n_trials is None else [n_trials // workers + (i < n_trials % workers)
                                                        for i in range(workers)]
    known = {t.number for t in tune.finished(study)}  # reported: those that end from now on, whoever ran them
    started = time.monotonic()
    env = {**os.environ, STORAGE_ENV: storage_url}
    procs: list[tuple[subprocess.Popen, IO[bytes]]] = []
    try:
        for share in shares:
            if share == 0:
                continue
            command = [sys.executable, "-m", "digitnet", "tune", "--worker", "--study", study.study_name,
                       *(["--threads", str(threads)] if threads else []), *(["--data", data] if data else []),
                       *(["--trials", str(share)] if share is not None else []),
                       *(["--timeout", str(max(timeout - (time.monotonic() - started), 1.0))] if timeout else [])]
            log: IO[bytes] = tempfile.TemporaryFile()
            procs.append((subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                           env=env, start_new_session=True), log))  # Ctrl+C: told once, by _stop
        _watch(study, [p for p, _ in procs], known, on_trial)
    except BaseException:
        _stop(study, [p for p, _ in procs])
        raise
    finally:
        failures = [(i, p.returncode, _last_line(log)) for i, (p, log) in enumerate(procs, 1)
                    if p.returncode not in (0, None)]
        for _, log in procs:
            log.close()
    for i, code, message in failures:
        raise (UsageError if code == 2 else DataError)(f"worker {i} of {len(procs)} stopped: {message}")


def _watch(study, procs: list[subprocess.Popen], known: set[int], on_trial: Callable[[Any], None]) -> None:
    """Report each trial that ends, until every worker has exited."""
    while True:
        running = any(p.poll() is None for p in procs)
        for trial in tune.finished(study):
            if trial.number not in known:
                known.add(trial.number)
                on_trial(trial)
        if not running:
            return
        time.sleep(0.5)


def _stop(study, procs: list[subprocess.Popen], grace: float = 60.0) -> None:
    """Ask each running worker to stop as Ctrl+C would (it fails its trial), wait, kill what still runs, and
    mark failed any trial a worker left running (killed, or its last write to the storage failed)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    import sqlalchemy.exc
    from optuna.exceptions import OptunaError

    try:
        tune.fail_abandoned(study, [p.pid for p in procs])
    except (OptunaError, sqlalchemy.exc.SQLAlchemyError):  # the storage is unreachable: the heartbeat does it later
        pass


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [line for line in log.read()[-4096:].decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].removeprefix("digitnet tune: error: ") if lines else "no message"


def write_results(study, search: tune.Search, dataset, out: Path, say: Callable[[str], None]) -> dict:
    """Into ``out``: ``best.toml`` (the best trial's settings, for ``digitnet train --config``), ``best.safetensors``
    (those settings trained again) with its card ``README.md``, and the study's plots; what was written."""
    from .card import model_card, picture_refusals

    best = tune.best_trial(study)
    config = search.config_from(best.params)
    header = (f"The best settings of study {study.study_name!r} (trial {best.number}, validation accuracy "
              f"{(best.value or 0) * 100:.2f}%), found by digitnet tune from recipe {search.recipe!r}.\n"
              f"Train with them: digitnet train --config {out / 'best.toml'}")
    atomic_write_bytes(out / "best.toml", tune.config_toml(config, header).encode())
    say(f"training trial {best.number}'s settings again for the model file")
    result = tune.train_best(study, search, dataset)
    model_path = save_model(out / "best.safetensors", result.model)
    try:
        paths.remember_latest(model_path)
    except OSError as exc:  # a convenience: the model itself is saved
        say(f"warning: could not record {model_path} as the latest model ({exc.strerror})")
    evaluation = evaluate(result.model, dataset.test, dataset.num_classes)
    card = model_card(result.model, evaluation=evaluation, refusals=picture_refusals(result.model, dataset.test),
                      model_path=str(model_path))
    atomic_write_bytes(out / "README.md", card.encode())
    plots, skipped = tuning_plots(study, out)
    return {"config": str(out / "best.toml"), "model": str(model_path), "card": str(out / "README.md"),
            "plots": plots, "plots_skipped": skipped, "test_accuracy": evaluation.accuracy,
            "validation_accuracy": result.model.metadata["tuning"]["retrained_validation_accuracy"],
            "train_seconds": result.model.metadata["train_seconds"]}


def tuning_plots(study, out: Path) -> tuple[list[str], dict[str, str]]:
    """Optuna's optimization history, parameter importances and slice plots as PNGs in ``out``; (the files
    written, {plot: why not} for those the study cannot draw yet, e.g. importances before two complete trials)."""
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    from . import plots

    written, skipped = [], {}
    for name, function in PLOTS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = getattr(optuna_plots, function)(study)
        except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
            skipped[name] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            continue
        figure = getattr(axes, "figure", None) or axes.ravel()[0].figure
        if not figure.axes or not any(ax.has_data() for ax in figure.axes):
            skipped[name] = "nothing to draw yet"
        else:
            written.append(str(plots.save(figure, out / f"{name}.png")))
        plt.close(figure)
    return written, skipped
