"""The ``digitnet`` command: train, evaluate, predict. The only module that prints.

Exit status: 0 success, 1 bad data, model file, file-system error or diverged run, 2 usage error,
130 interrupted (Ctrl+C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from .. import paths
from ..data import datasets, download
from ..errors import DataError, DigitnetError, ModelOutputError, ServeError, TrainingDiverged, UsageError
from ..fileio import atomic_write_bytes, check_output_dir, check_output_file, read_input
from ..nn.metrics import evaluate
from ..reading.contract import Reading, check_reads_pictures
from ..reading.preprocess import open_image
from ..reading.verdict import read
from ..run import checkpoint
from ..run.config import SETTINGS, TrainConfig, check_setting
from ..run.modelfile import load_model, save_model
from ..run.recipes import RECIPES, get_recipe, train
from ..run.schema import parse_json
from ..training.fit import Callback
from ..version import __version__
from .display import JsonlLog, LineLog, ProgressBars, summary_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

BLOCKS = " ░▒▓█"
_UNSET = object()  # default of setting flags: not given (a value may legitimately be None)
AUGMENTATION = tuple(name for name, spec in SETTINGS.items() if spec["group"] == "augmentation")


# --- argument types: each turns a bad value into a clear usage error (exit 2) ---

def _number(kind, *, minimum=None, name="value"):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be >= {minimum}, got {text}")
        return value
    return parse


def _setting(name: str):
    """An argparse type for a TrainConfig setting: text -> value, checked by the config itself."""
    kind = SETTINGS[name]["kind"]

    def parse(text):
        try:
            if kind == "sizes":
                try:
                    value = [int(s) for s in text.split(",")] if text.strip() else []
                except ValueError:
                    raise UsageError(f"{text!r} is not a comma-separated list of layer sizes, e.g. 256,256") from None
            elif kind == "batch" and text == "full":
                value = None
            elif kind in (int, "batch", float):
                value = _number(float if kind is float else int, name=name)(text)
            else:
                value = text
            value = check_setting(name, value)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name}: ")) from None
        return value
    parse.__name__ = name  # argparse names the type in some messages
    return parse


def add_setting_flags(parser, names=None, *, default=None) -> None:
    """One flag per TrainConfig setting (or those in ``names``), with its help, choices and checks."""
    groups = {}
    for name, spec in SETTINGS.items():
        if not spec["flag"] or (names is not None and name not in names):
            continue
        if spec["group"] not in groups:
            groups[spec["group"]] = parser if spec["group"] == "training" else parser.add_argument_group(
                "augmentation (random distortions of each training batch)")
        kwargs = {"choices": spec["choices"]} if spec["choices"] else {"type": _setting(name)}
        if spec["kind"] is bool:
            kwargs = {"action": argparse.BooleanOptionalAction}
        elif spec["kind"] == "deskew":  # a bare --deskew (as when it was on/off) means on
            kwargs["nargs"], kwargs["const"] = "?", "on"
        metavar = {"sizes": "SIZES", "batch": "N|full"}.get(spec["kind"])
        groups[spec["group"]].add_argument(f"--{name.replace('_', '-')}", default=default, metavar=metavar,
                                           help=spec["help"], **kwargs)


class Parser(argparse.ArgumentParser):
    """A command's parser that takes options anywhere among its positionals
    (``predict MODEL --json a.png b.png``), as ``parse_intermixed_args`` does; parsers with
    subcommands parse as usual (argparse cannot intermix those)."""

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="digitnet", description="A from-scratch NumPy neural network for handwritten digits.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `digitnet COMMAND --help` for each command's options. Results go to standard output "
               "(--json: one JSON object per line), progress and messages to standard error; NO_COLOR is honoured.\n\n"
               "exit status: 0 done; 1 a data, model-file or file-system error, or a run that diverged;\n"
               "2 a usage error (a bad flag or setting); 130 interrupted (Ctrl+C); 143 terminated (SIGTERM)")
    parser.add_argument("--version", action="version", version=f"digitnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train a model and save it", description=(
        "Train an MLP. Settings come from the recipe (default: 'default'), then --config, then flags. "
        "The test set is only used for the final report, never for choosing anything."))
    t.add_argument("--recipe", nargs="?", const="list", default="default", metavar="NAME",
                   help=f"named recipe: {', '.join(RECIPES)} (no NAME: list them)")
    t.add_argument("--config", type=Path, metavar="FILE.toml", help="TOML file of settings (same names as the flags, with _)")
    add_setting_flags(t, default=_UNSET)
    t.add_argument("--out", type=Path, metavar="FILE.safetensors", help="where to save the model (default: user data dir)")
    t.add_argument("--plots", type=Path, metavar="DIR", help="write the learning curves (PNG) to DIR")
    t.add_argument("--log", type=Path, metavar="FILE.jsonl", help="write one JSON record per logged epoch to FILE")
    t.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    t.add_argument("--checkpoint-dir", type=Path, metavar="DIR", help="write a checkpoint to DIR every epoch (atomically)")
    t.add_argument("--checkpoint-every", type=_number(int, minimum=1, name="checkpoint interval"), default=0, metavar="N",
                   help="also checkpoint every N optimizer steps")
    t.add_argument("--keep", type=_number(int, minimum=1, name="keep"), metavar="K",
                   help="keep the newest K checkpoints (default 3, or what the resumed run kept)")
    t.add_argument("--resume", type=Path, metavar="DIR", help="continue the run whose checkpoints are in DIR "
                   "(its config is used; the result is bit-identical to an uninterrupted run)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="test accuracy, per-class accuracy and confusion matrix",
                       description="Evaluate a saved model on a dataset's test split.")
    e.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model (default: the last one trained)")
    e.add_argument("--data", metavar="NAME|DIR", help="dataset (default: the one the model was trained on)")
    e.add_argument("--plots", type=Path, metavar="DIR", help="write the confusion matrix, worst mistakes, per-class "
                   "accuracy, first-layer weights and reliability diagram (PNG) to DIR")
    e.add_argument("--json", action="store_true", help="one JSON object on stdout: accuracy, interval, per_class, confusion")
    e.set_defaults(func=cmd_evaluate)

    r = sub.add_parser("report", help="a self-contained HTML report of a model",
                       description="Write DIR/index.html: the model card and every plot, images embedded (no network needed).")
    r.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model (default: the last one trained)")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for index.html")
    r.add_argument("--data", metavar="NAME|DIR", help="dataset (default: the one the model was trained on)")
    r.set_defaults(func=cmd_report)

    a = sub.add_parser("augment", help="show what augmented digits look like",
                       description="Write a picture grid: test digits, each followed by random distortions of it.")
    a.add_argument("--show", type=Path, default=Path("augment.png"), metavar="FILE.png", help="where to write the grid")
    a.add_argument("--recipe", default="best", metavar="NAME", help="take the augmentation settings of this recipe")
    add_setting_flags(a, AUGMENTATION, default=_UNSET)
    a.add_argument("--seed", type=_number(int, minimum=0, name="seed"), default=0)
    a.set_defaults(func=cmd_augment)

    s = sub.add_parser("serve", help="the draw-a-digit web page", description=(
        "Serve a page where you draw a digit and watch the model read it, and its JSON API "
        "(documented at /docs). With no MODEL, the last model trained."))
    s.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=_number(int, minimum=1, name="port"), default=8000, help="port (default 8000)")
    s.add_argument("--workers", type=_number(int, minimum=1, name="workers"), default=1, metavar="N",
                   help="worker processes (uvicorn's multi-process mode; default 1)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("datasets", help="list, download or verify datasets",
                       description="Registered datasets: mnist (embedded), fashion-mnist and kmnist (downloaded on first "
                                   "use into the user cache, or $DIGITNET_CACHE).")
    dsub = d.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    dl = dsub.add_parser("list", help="each dataset, and where it is")
    dl.add_argument("--json", action="store_true", help="one JSON object per dataset on stdout")
    dl = dsub.add_parser("download", help="fetch a dataset now (tries each mirror, verifies checksums)")
    dl.add_argument("name", metavar="NAME")
    ver = dsub.add_parser("verify", help="check a dataset's files against their SHA-256 / MD5")
    ver.add_argument("name", metavar="NAME|DIR")
    ex = dsub.add_parser("export", help="copy the personal set (your corrections on the page) into DIR")
    ex.add_argument("name", choices=["personal"], metavar="personal")
    ex.add_argument("dir", type=Path, metavar="DIR")
    rp = dsub.add_parser("repair", help="make a damaged personal set usable again: keep its intact part (the samples "
                                        "before the first bad one), with a copy of the damaged files beside it")
    rp.add_argument("name", choices=["personal"], metavar="personal")
    d.set_defaults(func=cmd_datasets)

    f = sub.add_parser("finetune", help="a personal model, fine-tuned on your own handwriting",
                       description="Train a copy of MODEL further on the personal set (the digits you corrected or "
                                   "confirmed on the page) while replaying MNIST, so it learns your style without "
                                   "forgetting; calibrated again on the model's validation digits.")
    f.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model (default: the last one trained)")
    f.add_argument("--data", default="personal", metavar="personal|DIR",
                   help="the personal set (default), or a DIR holding its two IDX files (from `datasets export`)")
    f.add_argument("--out", type=Path, metavar="FILE.safetensors", help="where to save it (default: user data dir)")
    f.add_argument("--epochs", type=_number(int, minimum=1, name="epochs"), default=4)
    f.add_argument("--seed", type=_number(int, minimum=0, name="seed"), default=0)
    f.set_defaults(func=cmd_finetune)

    x = sub.add_parser("export", help="write a model as ONNX, or as a draw page that needs no server",
                       description="Export a model for use outside digitnet. --onnx: an ONNX graph (needs "
                                   "pip install 'digitnet[onnx]'); input 'pixels' float [N, 784] already prepared "
                                   "like MNIST, outputs 'probabilities' [N, classes] and 'label' [N]. --web: a folder "
                                   "with the draw page, which prepares, reads and judges drawings in the browser.")
    x.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model (default: the last one trained)")
    x.add_argument("--onnx", type=Path, metavar="FILE.onnx", help="write an ONNX model")
    x.add_argument("--dtype", choices=("float32", "float64"), help="number type of the ONNX graph (default: the model's)")
    x.add_argument("--web", type=Path, metavar="DIR", help="write the draw page with the model inside: it runs in the "
                   "browser from file:// or any static host, no server")
    x.set_defaults(func=cmd_export)

    c = sub.add_parser("card", help="a model card (README.md with Hugging Face front matter)",
                       description="Write a model card: intended use, training recipe, measured evaluation "
                                   "(test accuracy, refusals, optionally the handwriting benchmark) and limitations.")
    c.add_argument("model", nargs="?", type=Path, metavar="MODEL", help="a .safetensors model (default: the last one trained)")
    c.add_argument("--out", type=Path, metavar="FILE.md", help="where to write it (default: stdout)")
    c.add_argument("--data", metavar="NAME|DIR", help="dataset to evaluate on (default: the model's)")
    c.add_argument("--handwriting", type=Path, metavar="FILE.json",
                   help="benchmarks/handwriting.py's results, to include the row of the model's recipe")
    c.set_defaults(func=cmd_card)

    p = sub.add_parser("predict", help="classify test images or your own pictures",
                       usage="digitnet predict [MODEL.safetensors] (IMAGE... | --index N) [--data NAME|DIR]",
                       description="Read images: show each as the network sees it, the verdict (a digit, not sure between "
                                   "two, or not a digit and why) and the ten probabilities. "
                                   "MODEL is optional (default: the last model trained); it is recognised by its "
                                   ".safetensors suffix.")
    p.add_argument("paths", nargs="*", type=Path, metavar="MODEL|IMAGE",
                   help="a .safetensors model (optional, first), then PNG/JPEG pictures of digits")
    p.add_argument("--index", type=_number(int, minimum=0, name="index"), metavar="N", help="test image number N instead")
    p.add_argument("--data", metavar="NAME|DIR", help="dataset for --index (default: the model's)")
    p.add_argument("--json", action="store_true", help="one JSON object per image on stdout: source, verdict "
                   "(digit, unsure, not_a_digit), label, confidence, probabilities, reason, candidates")
    p.set_defaults(func=cmd_predict)
    _add_tune_parser(sub)
    return parser


def _add_tune_parser(sub) -> None:
    """``digitnet tune``: its options."""
    u = sub.add_parser("tune", help="search a recipe's settings for your data (Optuna)", description=(
        "Search the training settings (widths, depth, learning rate, schedule, batch, dropout, weight decay, "
        "distortions, epochs) that give the best accuracy on a validation split of the training set (never the "
        "test set), trial after trial, with Optuna. The study is kept in a SQLite file in the user data dir (run "
        "again to continue it) or in the --storage you give (PostgreSQL: many processes or machines on one study). "
        "At the end: the best settings as TOML for `digitnet train --config`, the best model trained again with "
        "its card, and plots. Needs pip install 'digitnet[tune]'."))
    u.add_argument("--data", metavar="NAME|DIR", help="dataset (default: mnist, or the study's)")
    u.add_argument("--recipe", metavar="BASE", help="the recipe whose settings are searched (default: default)")
    u.add_argument("--space", type=Path, metavar="FILE.toml", help="change the default search space: per setting, "
                   "a table (low, high, log, step; or choices) searches it, a plain value fixes it")
    u.add_argument("--trials", type=_number(int, minimum=1, name="trials"), metavar="N",
                   help="trials to run now, in all (default 20, or as many as --timeout allows)")
    u.add_argument("--timeout", type=_number(float, minimum=1, name="timeout"), metavar="S",
                   help="stop starting trials after S seconds")
    u.add_argument("--budget-seconds", type=_number(float, minimum=0.1, name="budget"), metavar="S",
                   help="training seconds a trial may take (a trial that cannot finish in them is pruned)")
    u.add_argument("--study", metavar="NAME", help="the study's name (default: RECIPE-DATA)")
    u.add_argument("--storage", metavar="URL", help="sqlite:///FILE.db, a file path, or postgresql://USER:PASSWORD@"
                   "HOST:PORT/DB (default: $DIGITNET_TUNE_STORAGE, else tune.db in the user data dir)")
    u.add_argument("--workers", type=_number(int, minimum=1, name="workers"), default=1, metavar="N",
                   help="processes running trials side by side on this machine (default 1)")
    u.add_argument("--threads", type=_number(int, minimum=1, name="threads"), metavar="N",
                   help="threads per trial, the BLAS's included (default: every core; 1 with several workers)")
    u.add_argument("--out", type=Path, metavar="DIR", help="where the results go (default: tune/STUDY in the user data dir)")
    u.add_argument("--json", action="store_true", help="one JSON object per finished trial on stdout, then the results")
    u.add_argument("--quiet", "-q", action="store_true", help="print only the results")
    u.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a process of --workers: trials only
    u.set_defaults(func=cmd_tune)


class Terminated(Exception):
    """SIGTERM: ended like Ctrl+C (checkpoints and files are written atomically, so nothing is half done)."""


def _terminate(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None  # SIGTERM ends a command like Ctrl+C (the server handles its own signals)
    if args.command != "serve" and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args) or 0
    except UsageError as exc:
        parser.exit(2, f"digitnet {args.command}: error: {exc}\n")
    except TrainingDiverged as exc:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in exc.settings)
        print(f"digitnet {args.command}: training stopped: {exc}" + (f" ({flags})" if flags else ""), file=sys.stderr)
        return 1
    except DigitnetError as exc:
        print(f"digitnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of stdout went away (`digitnet ... | head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a file-system error no check foresaw (a full disk, a read-only mount)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"digitnet {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _console():
    """Results: standard output."""
    return Console(highlight=False, soft_wrap=True)


def _messages():
    """Progress and messages: standard error, so that standard output holds only results."""
    return Console(highlight=False, soft_wrap=True, stderr=True)


# --- train ---

def resolve_config(args) -> TrainConfig:
    """Recipe, then --config TOML, then flags."""
    config = get_recipe(args.recipe)
    if args.config:
        config = TrainConfig.from_dict({**config.to_dict(), **_read_toml(args.config)})
    return config.updated(**_flags_given(args, SETTINGS))


def _flags_given(args, names) -> dict:
    return {name: getattr(args, name) for name in names
            if getattr(args, name, _UNSET) is not _UNSET and SETTINGS[name]["flag"]}


def _read_toml(path: Path) -> dict:
    data = read_input(path, limit=1 << 20, expected="a TOML config file", error=UsageError)
    try:
        return tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None


def cmd_train(args) -> int:
    console = _console()
    if args.recipe == "list":
        for name, preset in RECIPES.items():
            console.print(f"{name:10} {preset.description}")
        return 0
    resume_from, recipe = None, args.recipe
    if args.resume:
        conflicts = [f"--{name.replace('_', '-')}" for name in _flags_given(args, SETTINGS)]
        conflicts += [flag for flag, given in (("--recipe", args.recipe != "default"), ("--config", args.config),
                                                ("--checkpoint-dir", args.checkpoint_dir not in (None, args.resume)))
                      if given]
        if conflicts:
            raise UsageError(f"--resume continues the run with its own settings; drop {', '.join(conflicts)} "
                             "(or start a new run in another directory)")
        plan = checkpoint.resume_plan(args.resume, keep=args.keep, checkpoint_every=args.checkpoint_every)
        for path, reason in plan.skipped:
            print(f"digitnet train: warning: {path} cannot be used ({reason}); resuming from {plan.path}",
                  file=sys.stderr)
        resume_from, config, recipe = plan.path, plan.config, plan.recipe
        args.out, args.keep, args.checkpoint_every = args.out or plan.out, plan.keep, plan.checkpoint_every
        args.checkpoint_dir = args.resume
    else:
        config = resolve_config(args)
        if args.checkpoint_dir and checkpoint.checkpoints(args.checkpoint_dir):
            raise UsageError(f"{args.checkpoint_dir} already holds checkpoints of a run: continue it with "
                             f"--resume {args.checkpoint_dir}, or choose an empty directory")
    out = check_output_file(args.out or paths.new_model_path(recipe), "--out" if args.out else "model file")
    for flag, path, check in (("--log", args.log, check_output_file), ("--plots", args.plots, check_output_dir),
                              ("--checkpoint-dir", args.checkpoint_dir, check_output_dir)):
        if path is not None:
            check(path, flag)  # before training, not after it
    dataset = datasets.load(config.data)
    messages = _messages()
    say = (lambda *a, **k: None) if args.quiet else messages.print
    say(("resuming " + str(resume_from) + ": " if resume_from else "")
        + f"training {recipe}: {dataset.train.images[0].size}-{'-'.join(map(str, config.hidden))}-{dataset.num_classes} "
        f"{config.activation}, {config.optimizer}, {config.epochs} epochs, "
        f"batch {config.batch_size or 'full'}, {config.dtype}, on {dataset.name}")
    callbacks: list[Callback] = []
    if not args.quiet:
        display = ProgressBars if messages.is_terminal else LineLog
        callbacks.append(display(messages, tutorial=config.tutorial_cost))
    if args.log:
        callbacks.append(JsonlLog(args.log))
    result = train(config, dataset, callbacks=callbacks, checkpoint_dir=args.checkpoint_dir,
                   checkpoint_every=args.checkpoint_every, keep=args.keep or 3, resume_from=resume_from, recipe=recipe,
                   extra_metadata={"out": str(out), "keep": args.keep or 3, "checkpoint_every": args.checkpoint_every})
    model = result.model
    save_model(out, model)
    try:
        paths.remember_latest(out)
    except OSError as exc:  # a convenience: the model itself is saved
        print(f"digitnet train: warning: could not record {out} as the latest model "
              f"({exc.filename or paths.models_dir()}: {exc.strerror})", file=sys.stderr)
    if not args.quiet:
        console.print(summary_table(result.history, model.metadata, len(dataset.train)))
    if args.plots:
        from . import plots

        plots.save(plots.learning_curves(result.history), args.plots / "learning_curves.png")
        say(f"learning curves written to {args.plots / 'learning_curves.png'}")
    console.print(f"test accuracy: {model.metadata['test_accuracy'] * 100:.2f}% on {model.metadata['test_samples']:,} "
                  f"test images ({model.metadata['train_seconds']:.1f} s of training); model saved to {out}")
    return 0


# --- tune ---

def cmd_tune(args) -> int:
    from ..run import tune
    from . import tuning

    tune.require_optuna()
    url = tune.storage_url(args.storage or os.environ.get(tuning.STORAGE_ENV))
    storage = tune.open_storage(url)
    study, search, dataset = _tune_study(args, storage)
    threads = args.threads or (1 if args.workers > 1 else None)
    n_trials = args.trials or (None if args.timeout else 20)
    if args.worker:
        tune.optimize(study, search, dataset, n_trials=n_trials, timeout=args.timeout, threads=threads)
        return 0
    out = check_output_dir(args.out or paths.home() / "tune" / study.study_name, "--out" if args.out else "results")
    messages = _messages()
    say = (lambda text: None) if args.quiet or args.json else (lambda text: messages.print(text, markup=False))
    before = tune.summary(study)
    say(f"study {study.study_name!r} in {tune.redacted(url)}: {len(tune.finished(study))} trials so far; "
        f"searching {', '.join(sorted(search.space.dimensions)) or 'nothing'} of recipe {search.recipe} on "
        f"{search.data['name']}" + (f", {search.budget_seconds:g} s of training per trial" if search.budget_seconds else "")
        + f"; {n_trials or 'as many'} trials now" + (f" on {args.workers} workers" if args.workers > 1 else ""))
    log = tuning.TrialLog(messages, total=n_trials, as_json=args.json, quiet=args.quiet,
                          best=(before["best"] or {}).get("validation_accuracy"), out=sys.stdout)
    try:
        if args.workers > 1:
            tuning.run_workers(study, workers=args.workers, storage_url=url, n_trials=n_trials, timeout=args.timeout,
                               threads=threads, data=args.data, on_trial=log)
        else:
            tune.optimize(study, search, dataset, n_trials=n_trials, timeout=args.timeout, threads=threads, on_trial=log)
    except (KeyboardInterrupt, Terminated):
        log.close()
        print(f"digitnet tune: stopped; study {study.study_name!r} keeps its finished trials (the running ones are "
              "marked failed): run the same command to continue it", file=sys.stderr)
        raise
    log.close()
    results = {**tune.summary(study), "storage": tune.redacted(url), "out": str(out),
               **tuning.write_results(study, search, dataset, out, say)}
    _tune_report(results, args.json)
    return 0


def _tune_study(args, storage):
    """The study to run (created, or joined with what it searches), its search and its data."""
    from ..run import tune

    name = args.study or f"{args.recipe or 'default'}-{Path(args.data or 'mnist').name}"
    stored = tune.stored_search(storage, name)
    dataset = datasets.load(args.data or (stored.base.data if stored else "mnist"))
    if stored is not None and args.recipe is None and args.space is None and args.budget_seconds is None:
        stored.check_data(dataset)
        return tune.open_study(storage, name, stored), stored, dataset
    if args.worker:
        raise UsageError(f"there is no study {name!r} to work on")
    space = _read_toml(args.space) if args.space else None
    search = tune.Search.create(args.recipe or "default", dataset, space, str(args.space or "the search space"),
                                args.budget_seconds)
    return tune.open_study(storage, name, search), search, dataset


def _tune_report(results: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(results), flush=True)
        return
    best, counts = results["best"], results["trials"]
    console = _console()
    console.print(f"study {results['study']}: {sum(counts.values())} trials ("
                  + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) + f"); best: trial {best['number']}, "
                  f"validation accuracy {best['validation_accuracy'] * 100:.2f}%", markup=False)
    console.print(f"trained again: validation {results['validation_accuracy'] * 100:.2f}%, test accuracy "
                  f"{results['test_accuracy'] * 100:.2f}% ({results['train_seconds']:.1f} s of training)", markup=False)
    console.print(f"settings: {results['config']}\nmodel: {results['model']} (card: {results['card']})", markup=False)
    if results["plots"]:
        console.print("plots: " + ", ".join(results["plots"]), markup=False)
    for name, why in results["plots_skipped"].items():
        console.print(f"no {name.replace('_', ' ')} plot: {why}", markup=False)


# --- evaluate ---

def _model_and_data(model_path, data):
    model = load_model(model_path if model_path else paths.latest_model())
    return model, _data_for(model, data)


def _data_for(model, data):
    """The dataset ``data`` names (default: the model's), checked against the model's inputs and classes."""
    dataset = datasets.load(data) if data else datasets.load_for(model.metadata)
    if dataset.train.images[0].size != model.sizes[0] or dataset.num_classes != model.sizes[-1]:
        raise UsageError(f"the model takes {model.sizes[0]} inputs and {model.sizes[-1]} classes, "
                         f"but {dataset.name} has {dataset.train.images[0].size} pixels and {dataset.num_classes} classes")
    return dataset


def cmd_evaluate(args) -> int:
    model, dataset = _model_and_data(args.model, args.data)
    console = _console()
    result = evaluate(model, dataset.test, dataset.num_classes)
    if args.json:
        low, high = result.interval
        print(json.dumps({"dataset": dataset.name, "accuracy": result.accuracy, "correct": result.correct,
                          "total": result.total, "interval": [low, high], "classes": list(dataset.classes),
                          "per_class": [float(a) for a in result.per_class],
                          "confusion": np.asarray(result.confusion).tolist()}))
        if args.plots:
            _evaluation_plots(model, dataset, result, args.plots)
            print(f"plots written to {args.plots}/", file=sys.stderr)
        return 0
    low, high = result.interval
    console.print(f"test accuracy: {result.accuracy * 100:.2f}% ({result.correct:,}/{result.total:,}; "
                  f"95% CI {low * 100:.2f}-{high * 100:.2f}%) on {dataset.name}")
    cm = result.confusion
    table = Table(title="confusion matrix (rows: true class, columns: predicted)")
    table.add_column("true", justify="right")
    for j in range(dataset.num_classes):
        table.add_column(str(j), justify="right")
    table.add_column("acc.", justify="right")
    for i, acc in enumerate(result.per_class):
        cells = [f"[bold]{v}[/]" if i == j else (str(v) if v else "·") for j, v in enumerate(cm[i])]
        table.add_row(f"{i} {dataset.classes[i] if dataset.classes[i] != str(i) else ''}".strip(), *cells, f"{acc * 100:.1f}%")
    console.print(table)
    if args.plots:
        _evaluation_plots(model, dataset, result, args.plots)
        _messages().print(f"plots written to {args.plots}/")
    return 0


def _evaluation_plots(model, dataset, result, directory: Path) -> None:
    from . import plots  # matplotlib: loaded only when needed

    for name, fig in plots.evaluation_figures(model, dataset, result).items():
        plots.save(fig, directory / f"{name}.png")


# --- export, card ---

def cmd_finetune(args) -> int:
    from ..run import personal
    from ..run.finetune import finetune

    model = load_model(args.model or paths.latest_model())
    personal.check_model(model, "fine-tuning on the personal set")  # its classes, before any data is loaded
    folder = _personal_folder(args.data)
    images, labels = personal.load(folder)
    out = check_output_file(args.out or paths.new_model_path("personal"),
                            "--out" if args.out else "model file")
    dataset = _data_for(model, None)
    _messages().print(f"fine-tuning on {len(images)} personal samples from {folder}, replaying {dataset.name}")
    result = finetune(model, images, labels, dataset, epochs=args.epochs, seed=args.seed)
    personal.mark_base(result.model, model)  # so that `digitnet serve` of this model finds it again
    save_model(out, result.model)
    print(f"personal model saved to {out} ({result.seconds:.1f} s); test accuracy on {dataset.name}: "
          f"{result.test_accuracy_before * 100:.2f}% -> {result.test_accuracy_after * 100:.2f}%")
    return 0


def _personal_folder(data: str) -> Path:
    """The folder ``finetune --data`` names: the personal set, or a folder holding its two files."""
    from ..run import personal

    if data == "personal":
        return personal.directory()
    folder, expected = Path(data), (f"expected a folder holding {personal.IMAGES} and {personal.LABELS}, as "
                                    "`digitnet datasets export personal DIR` writes")
    if not folder.exists():
        raise UsageError(f"--data {folder}: no such directory ({expected})")
    if not folder.is_dir():
        raise UsageError(f"--data {folder}: is a file ({expected})")
    missing = [name for name in (personal.IMAGES, personal.LABELS) if not (folder / name).is_file()]
    if missing:
        raise UsageError(f"--data {folder}: holds no {' and no '.join(missing)} ({expected})")
    return folder


def cmd_export(args) -> int:
    if args.onnx is None and args.web is None:
        raise UsageError("say what to write: --onnx FILE.onnx and/or --web DIR")
    model = load_model(args.model or paths.latest_model())
    if args.web is not None:  # every output checked before any is written: never half an export
        from .export.web import check_model, export_web

        check_model(model)
    if args.onnx is not None:
        check_output_file(args.onnx, "--onnx")
    if args.web is not None:
        check_output_dir(args.web, "--web", create=False)
    if args.onnx is not None:
        from .export.onnx_model import export_onnx

        export_onnx(model, args.onnx, dtype=args.dtype)
        print(f"ONNX model written to {args.onnx} ({args.onnx.stat().st_size:,} bytes, {args.dtype or model.dtype.name})",
              file=sys.stderr)
    if args.web is not None:
        size = export_web(model, args.web)
        print(f"draw page written to {args.web}/ ({size:,} bytes; open {args.web / 'index.html'})", file=sys.stderr)
    return 0


def cmd_card(args) -> int:
    from .card import handwriting_summary, model_card, picture_refusals

    model_path = args.model or paths.latest_model()
    model, dataset = _model_and_data(model_path, args.data)
    if args.out is not None:
        check_output_file(args.out, "--out")
    handwriting = None
    if args.handwriting is not None:
        results = _read_json(args.handwriting, "benchmarks/handwriting.py's results")
        handwriting = handwriting_summary(results, model.metadata.get("recipe", "default"))
        if handwriting is None:
            print(f"digitnet card: warning: {args.handwriting} has no handwriting results for recipe "
                  f"{model.metadata.get('recipe', 'default')!r}", file=sys.stderr)
    evaluation = evaluate(model, dataset.test, dataset.num_classes)
    refusals = picture_refusals(model, dataset.test)
    text = model_card(model, evaluation=evaluation, refusals=refusals, handwriting=handwriting, model_path=str(model_path))
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_bytes(args.out, text.encode())
        print(f"model card written to {args.out}", file=sys.stderr)
    return 0


def _read_json(path: Path, expected: str):
    data = read_input(path, limit=8 << 20, expected=expected, error=UsageError)
    try:
        return parse_json(data.decode(), str(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None


def cmd_report(args) -> int:
    from .report import write_report  # matplotlib: loaded only when needed

    model_path = args.model or paths.latest_model()
    model, dataset = _model_and_data(model_path, args.data)
    check_output_dir(args.out, "--out")
    path = write_report(model, dataset, args.out, model_path=str(model_path))
    _messages().print(f"report written to {path} (and the model card, README.md)")
    return 0


# --- augment ---

def cmd_augment(args) -> int:
    from . import plots

    config = get_recipe(args.recipe).updated(**_flags_given(args, AUGMENTATION))
    check_output_file(args.show, "--show")
    augment = config.augmentation()
    test = datasets.load("mnist").test
    plots.save(plots.augmentation_grid(test.features()[:8], augment, np.random.default_rng(args.seed)), args.show)
    _messages().print(f"{augment} -> {args.show}")
    return 0


# --- serve ---

def cmd_serve(args) -> int:
    import uvicorn  # the web stack: loaded only when needed

    from .serve import MODEL_ENV, create_app
    from .serve.app import PARENT_ENV

    if args.port > 65535:
        raise UsageError(f"--port {args.port} is out of range (1 to 65535)")
    model_path = Path(args.model or paths.latest_model()).resolve()
    app = create_app(model_path)  # checks the model before any worker starts
    _check_port(args.host, args.port)
    workers = f", {args.workers} worker processes" if args.workers > 1 else ""
    _messages().print(f"digitnet: serving {model_path} at http://{args.host}:{args.port}/{workers} (Ctrl+C to stop)")
    if args.workers > 1:  # uvicorn's own multi-process mode: each worker builds the app (and loads the model) once
        os.environ[MODEL_ENV] = str(model_path)
        os.environ[PARENT_ENV] = str(os.getpid())  # each worker ends when this process does, even killed with SIGKILL
        uvicorn.run("digitnet.app.serve:app_from_environment", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level="warning", proxy_headers=True)
    else:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=True)
    return 0


def _check_port(host: str, port: int) -> None:
    """A clear error, before the server starts, when the address cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address this machine knows ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}"
                             + (" (another program is using that port; try --port)" if exc.errno == errno.EADDRINUSE
                                else "")) from None


# --- datasets ---

def cmd_datasets(args) -> int:
    console = _console()
    if args.action == "list":
        for entry in datasets.REGISTRY.values():
            if entry.embedded:
                state, path = "embedded", datasets.embedded_dir()
            elif download.is_complete(entry):
                state, path = "downloaded", download.target_dir(entry)
            else:
                state, path = "not downloaded", download.target_dir(entry)
            _dataset_row(console, args.json, entry.name, entry.description, state, path)
        _personal_row(console, args.json)
        return 0
    if args.action == "repair":
        return _repair_personal(console)
    if args.action == "export":
        from ..run import personal

        check_output_dir(args.dir, "DIR")
        target = personal.export(args.dir)
        _messages().print(f"the personal set ({sum(personal.counts())} samples) copied to {target}")
        return 0
    if args.action == "download":
        info = datasets.REGISTRY.get(args.name)
        if info is None:
            raise UsageError(f"unknown dataset {args.name!r}: expected one of {', '.join(datasets.REGISTRY)}")
        if info.embedded:
            _messages().print(f"{info.name} ships inside the package: nothing to download ({datasets.embedded_dir()})")
            return 0
        path = download.download(info, progress=_messages().is_terminal)
        _messages().print(f"{info.name} downloaded and verified in {path}")
        return 0
    dataset = datasets.load(args.name)  # verifies registered datasets' SHA-256 while reading
    info = datasets.REGISTRY.get(dataset.name)
    for stem, digest in dataset.sha256.items():
        expected = info.sha256.get(stem) if info else None
        status = "ok" if expected == digest else ("no published SHA-256" if info and not expected else "unregistered")
        console.print(f"{stem:26} sha256 {digest}  {status}", markup=False)
    console.print(f"{dataset.name}: {len(dataset.train):,} train and {len(dataset.test):,} test images, "
                  f"{dataset.num_classes} classes, read from {dataset.source}")
    return 0


def _dataset_row(console, as_json: bool, name, description, state, path, problem: str | None = None) -> None:
    if as_json:
        print(json.dumps({"name": name, "description": description, "state": state, "path": str(path),
                          **({"problem": problem} if problem else {})}))
    else:
        where = f"{state} ({path})" if state != "not downloaded" else f"not downloaded (will be fetched into {path})"
        console.print(f"{name:14} {description}\n{'':14} {where}" + (f"\n{'':14} {problem}" if problem else ""), markup=False)


def _personal_row(console, as_json: bool) -> None:
    """The personal set's line of ``datasets list``: its size, or that it is damaged and how to repair it."""
    from ..run import personal

    problem = None
    try:
        count = sum(personal.counts())
        state = f"{count} samples" if count else "empty"
    except personal.DamagedSet as exc:
        state, problem = "damaged", str(exc)
    _dataset_row(console, as_json, "personal", "your own handwriting: the digits corrected or confirmed on the page",
                 state, personal.directory(), problem)


def _repair_personal(console) -> int:
    from ..run import personal

    result = personal.repair()
    if result.backup is None:
        console.print(f"the personal set in {personal.directory()} is whole ({result.kept} samples): nothing to repair",
                      markup=False)
        return 0
    console.print(f"the personal set in {personal.directory()}: kept {result.kept} samples, {result.dropped} dropped; "
                  f"the damaged files are copied in {result.backup}\n(it was: {result.damage})", markup=False)
    return 0


# --- predict ---

def render(image: np.ndarray) -> str:
    """A 28x28 image in [0, 1] as text: two block characters per pixel."""
    levels = np.clip((np.asarray(image) * (len(BLOCKS) - 1)).round().astype(int), 0, len(BLOCKS) - 1)
    return "\n".join("".join(BLOCKS[v] * 2 for v in row) for row in levels)


def _picture_reading(model, path: Path) -> Callable[[], Reading]:
    """The reading of the picture at ``path``, opened when called (its DataError then names that picture)."""
    return lambda: read(model, open_image(path), name=str(path))


def cmd_predict(args) -> int:
    paths_given = list(args.paths)
    args.model = paths_given.pop(0) if paths_given and paths_given[0].suffix.lower() == ".safetensors" else None
    args.images = paths_given
    if (args.index is None) == (not args.images):
        raise UsageError("give either --index N or one or more IMAGE files")
    console = _console()
    items: list[tuple[str, Callable[[], Reading], int | None]]  # (source, its reading, its label if known)
    if args.index is not None:
        model, dataset = _model_and_data(args.model, args.data)
        if args.index >= len(dataset.test):
            raise UsageError(f"--index {args.index} is out of range: the test set has {len(dataset.test):,} images "
                             f"(0 to {len(dataset.test) - 1})")
        image = dataset.test.images[args.index] / np.float32(255)
        items = [(f"test image {args.index}", lambda: read(model, image, prepared=True), int(dataset.test.labels[args.index]))]
        classes = dataset.classes
    else:
        model = load_model(args.model or paths.latest_model())
        classes = tuple(model.metadata.get("classes", [str(i) for i in range(model.sizes[-1])]))
        items = [(str(path), _picture_reading(model, path), None) for path in args.images]
    check_reads_pictures(model, "reading pictures")
    failed = 0
    for name, reading_of, label in items:
        try:
            reading = reading_of()
        except ModelOutputError:  # the model, not the picture: every other picture would fail the same way
            raise
        except DataError as exc:  # one unreadable picture: said, and the others are still read
            failed += 1
            print(f"digitnet predict: error: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"source": name, "error": str(exc)}), flush=True)
            continue
        if args.json:
            print(json.dumps(reading.to_dict(source=name)), flush=True)
            continue
        _show_reading(console, name, reading, label, classes)
    if failed:
        print(f"digitnet predict: {failed} of {len(items)} pictures could not be read", file=sys.stderr)
    return 1 if failed else 0


def _show_reading(console, name, reading, label, classes) -> None:
    console.print(name + ("" if label is None else f" (true label {classes[label]})"))
    console.print(render(reading.image), markup=False)
    mark = ""
    if label is not None:
        mark = "  ✓" if reading.label == label and reading.verdict == "digit" else "  ✗"
    console.print(f"verdict: {reading.describe(classes)}{mark}", markup=False)
    top = int(np.argmax(reading.probabilities))
    console.print(f"predicted: {classes[top]} ({reading.probabilities[top] * 100:.1f}%)", markup=False)
    for k, p in enumerate(reading.probabilities):
        console.print(f"  {classes[k]:>11} {p * 100:6.2f}% {'█' * int(round(p * 40))}", markup=False)
