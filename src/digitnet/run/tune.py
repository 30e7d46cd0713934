"""Searching a recipe's settings with Optuna: :class:`Space`, :class:`Search`, :func:`open_study`, :func:`optimize`.

A study lives in an Optuna storage: a SQLite file in the user data dir by default (run the search again
and the study continues), or a PostgreSQL database that many processes and machines share. A study
records what it searches (the base recipe, the search space, the training-time budget, the data's
SHA-256) in its own attributes, so every process that joins it searches the same thing on the same data.

Each trial trains with :func:`digitnet.run.recipes.train` on the base settings updated with the trial's,
and its objective is the accuracy on the validation split held out of the training set (never the test
set). A :class:`TrialReporter` callback reports every epoch's validation accuracy to the trial and stops
the run (``state.stop``) when Optuna's pruner says so, or when the run cannot finish within the budget of
training seconds; such a trial ends as pruned, with the reason in its ``pruned_because`` attribute.

Optuna is an optional extra (``pip install 'digitnet[tune]'``); without it, :func:`require_optuna`
raises a UsageError that says how to install it. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import parallel, paths
from ..data.datasets import Dataset, Split
from ..data.registry import REGISTRY
from ..errors import DataError, TrainingDiverged, UsageError
from ..nn.metrics import evaluate
from ..training.fit import Callback, TrainState
from .config import SETTINGS, TrainConfig, check_setting
from .pipeline import split_validation
from .recipes import TrainResult, get_recipe, train

if TYPE_CHECKING:
    import optuna

INSTALL = "pip install 'digitnet[tune]'"
#: the study attribute that holds the :class:`Search`
ATTRIBUTE = "digitnet_search"
#: settings that stay the study's own: the validation split depends on the seed, and the objective on that split
UNSEARCHABLE = {"seed": "the validation split is drawn with it: every trial must be scored on the same rows",
                "validation": "the objective is measured on this split: every trial must be scored on the same rows",
                "data": "the data is the study's (--data)", "log_every": "pruning needs every epoch's figures",
                "description": "it is words", "tutorial_cost": "it changes no result",
                "lr_steps": "its (epoch, learning rate) pairs have no range"}
UNFIXABLE = ("data", "log_every", "description")
RANGE_KEYS, HIDDEN_KEYS = {"low", "high", "log", "step"}, {"depth", "width"}

#: the default search space, in the TOML file's form: a table is a range or choices, a plain value fixes a setting
DEFAULT_SPACE: dict[str, Any] = {
    "hidden": {"depth": {"low": 1, "high": 3}, "width": {"low": 64, "high": 1024, "log": True}},
    "epochs": {"low": 2, "high": 16},
    "batch_size": {"choices": [64, 128, 256, 512]},
    "lr": {"low": 3e-4, "high": 1e-2, "log": True},
    "weight_decay": {"choices": [0.0, 1e-5, 1e-4, 1e-3]},
    "schedule": {"choices": ["onecycle", "cosine"]},
    "dropout": {"low": 0.0, "high": 0.4},
    "deskew": {"choices": ["off", "on", "both"]},
    "shift": {"low": 0.0, "high": 2.5},
    "rotate": {"low": 0.0, "high": 15.0},
    "scale": {"low": 0.0, "high": 0.15},
    "shear": {"low": 0.0, "high": 10.0},
}

#: a setting searched only when it matters, given the settings chosen before it (TrainConfig's order)
CONDITIONS: dict[str, Callable[[dict], bool]] = {
    "momentum": lambda s: s["optimizer"] in ("momentum", "nesterov"),
    "warmup_epochs": lambda s: s["schedule"] == "cosine",
    "elastic_sigma": lambda s: s["elastic_alpha"] > 0,
}


def require_optuna() -> ModuleType:
    """The ``optuna`` module, or a UsageError that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise UsageError(f"searching needs Optuna, an optional extra: {INSTALL}") from None
    optuna.logging.disable_default_handler()  # the library never prints: the CLI reports trials itself
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


# --- the search space ---

@dataclass(frozen=True)
class Dimension:
    """One searched value: an int or float range (``log``: sampled on a log scale; ``step``: a grid),
    or ``choices``. ``param`` is its name in Optuna's trials."""

    param: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None
    integer: bool = False

    def suggest(self, trial: optuna.trial.BaseTrial):
        if self.choices is not None:
            return trial.suggest_categorical(self.param, list(self.choices))
        assert self.low is not None and self.high is not None  # a range has both
        if self.integer:
            return trial.suggest_int(self.param, int(self.low), int(self.high), log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_float(self.param, float(self.low), float(self.high), log=self.log, step=self.step)

    def to_dict(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, **({"log": True} if self.log else {}),
                **({"step": self.step} if self.step is not None else {})}


@dataclass(frozen=True)
class Space:
    """What a study searches: ``dimensions`` (setting -> Dimension; ``hidden`` has two, its depth and its
    width, every hidden layer as wide) and ``fixed`` (setting -> value, over the base recipe's)."""

    dimensions: dict[str, tuple[Dimension, ...]]
    fixed: dict[str, Any]

    def settings(self, choose: Callable[[Dimension], Any], base: dict) -> dict:
        """The settings of one trial: ``choose(dimension)`` gives each searched value, in TrainConfig's order
        (a setting whose condition fails given those before it is left at the base's)."""
        chosen = {**base, **self.fixed}
        out = dict(self.fixed)
        for name in SETTINGS:
            dims = self.dimensions.get(name)
            if not dims or (name in CONDITIONS and not CONDITIONS[name](chosen)):
                continue
            values = [choose(d) for d in dims]
            value = (int(values[1]),) * int(values[0]) if name == "hidden" else values[0]
            chosen[name] = out[name] = None if value == "full" else value
        return out

    def to_dict(self) -> dict:
        """The TOML file's form (what :func:`parse_space` reads)."""
        out: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.fixed.items()}
        for name, dims in self.dimensions.items():
            out[name] = ({"depth": dims[0].to_dict(), "width": dims[1].to_dict()} if name == "hidden"
                         else dims[0].to_dict())
        return out


def parse_space(data: dict, source: str, default: dict | None = None) -> Space:
    """A :class:`Space` from the TOML file's form: ``default``'s entries, then ``data``'s over them. Every
    bound and choice is checked by :func:`~digitnet.run.config.check_setting`; a UsageError names ``source``,
    the setting and what was expected."""
    merged = {**(default or {}), **data}
    dimensions: dict[str, tuple[Dimension, ...]] = {}
    fixed: dict[str, Any] = {}
    for name, value in merged.items():
        where = f"{source}: {name}"
        if name not in SETTINGS:
            raise UsageError(f"{source}: unknown setting {name!r} (expected some of: {', '.join(SETTINGS)})")
        if name in UNFIXABLE:
            raise UsageError(f"{where}: cannot be set in a search space ({UNSEARCHABLE[name]})")
        if not isinstance(value, dict):
            fixed[name] = _checked(name, value, where)
        elif name in UNSEARCHABLE:
            raise UsageError(f"{where}: cannot be searched ({UNSEARCHABLE[name]}); a plain value fixes it")
        elif name == "hidden":
            dimensions[name] = _hidden(value, where)
        else:
            dimensions[name] = (_dimension(name, name, value, where),)
    if "validation" in fixed and not fixed["validation"]:
        raise UsageError(f"{source}: validation: the objective is the accuracy on a validation split: expected > 0")
    return Space(dimensions, fixed)


def _checked(name: str, value, where: str):
    try:
        return check_setting(name, value)
    except UsageError as exc:
        raise UsageError(f"{where}: {str(exc).removeprefix(name + ': ')}") from None


def _hidden(table: dict, where: str) -> tuple[Dimension, Dimension]:
    """The depth and the width of the hidden layers: each a range, choices or one number."""
    if not isinstance(table, dict) or set(table) != HIDDEN_KEYS:
        raise UsageError(f"{where}: expected a table with depth and width (each a number, a range or choices), "
                         f"got keys {', '.join(sorted(table)) or 'none'}")
    checks = {"depth": _depth, "width": lambda v: check_setting("hidden", [v])[0]}
    dims = [_dimension(f"hidden_{key}", "hidden", table[key] if isinstance(table[key], dict) else {"choices": [table[key]]},
                       f"{where}.{key}", check=checks[key]) for key in ("depth", "width")]
    return dims[0], dims[1]


def _depth(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or not 1 <= value <= 8:
        raise UsageError(f"depth must be an integer from 1 to 8, got {value!r}")
    return int(value)


def _dimension(param: str, name: str, table: dict, where: str, check: Callable | None = None) -> Dimension:
    """A range (``low``, ``high``, optional ``log``, ``step``) or ``choices``, each value checked."""
    check = check or (lambda v: check_setting(name, v))
    try:
        if "choices" in table:
            if set(table) != {"choices"} or not isinstance(table["choices"], list) or not table["choices"]:
                raise UsageError("expected choices = [a non-empty list] and nothing else")
            checked = [check(v) for v in table["choices"]]
            choices = tuple("full" if v is None else v for v in checked)  # a batch of None: TOML's "full"
            if any(isinstance(v, (tuple, list, dict)) for v in choices):
                raise UsageError("choices must be single values")
            return Dimension(param, choices=choices)
        return _range(param, name, table, check)
    except UsageError as exc:
        raise UsageError(f"{where}: {str(exc).removeprefix(name + ': ')}") from None


def _range(param: str, name: str, table: dict, check: Callable) -> Dimension:
    if set(table) - RANGE_KEYS or not {"low", "high"} <= set(table):
        raise UsageError(f"expected a range (low, high, and optionally log, step) or choices, got keys "
                         f"{', '.join(sorted(table)) or 'none'}")
    kind = SETTINGS[name]["kind"] if name != "hidden" else int
    if kind not in (int, float, "batch"):
        raise UsageError(f"a {SETTINGS[name]['kind'].__name__ if isinstance(kind, type) else kind} setting has no "
                         "range: expected choices = [...]")
    low, high = check(table["low"]), check(table["high"])
    log, step = table.get("log", False), table.get("step")
    if not isinstance(log, bool):
        raise UsageError(f"log must be true or false, got {log!r}")
    if low is None or high is None or low > high:
        raise UsageError(f"expected low <= high, got low {table['low']!r} and high {table['high']!r}")
    if log and (low <= 0 or step is not None):
        raise UsageError("a log range needs low > 0 and no step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0):
        raise UsageError(f"step must be a number > 0, got {step!r}")
    return Dimension(param, low, high, log, step, integer=kind is not float)


def default_space(dataset: Dataset) -> dict:
    """:data:`DEFAULT_SPACE`, with no digits made by code nor non-digits for data whose classes are not digits."""
    if dataset.of_digits:
        return dict(DEFAULT_SPACE)
    return {**DEFAULT_SPACE, "synthetic_digits": 0, "outliers": 0}


# --- what a study searches ---

@dataclass(frozen=True)
class Search:
    """A study's contract: the base recipe, the space over it, a budget of training seconds per trial
    (None: no budget), and the data (name, source, SHA-256 of its files)."""

    recipe: str
    base: TrainConfig
    space: Space
    budget_seconds: float | None
    data: dict

    @classmethod
    def create(cls, recipe: str, dataset: Dataset, space: dict | None = None, source: str = "the search space",
               budget_seconds: float | None = None) -> Search:
        """The search of ``recipe``'s settings on ``dataset``: the default space changed by ``space``."""
        if budget_seconds is not None and not (math.isfinite(budget_seconds) and budget_seconds > 0):
            raise UsageError(f"budget: expected a number of seconds > 0, got {budget_seconds!r}")
        base = get_recipe(recipe)
        where = str(Path(dataset.source).resolve())  # workers and later runs may start elsewhere
        base = base.updated(data=dataset.name if dataset.name in REGISTRY else where,
                            validation=base.validation or 0.1, log_every=1, description="")
        parsed = parse_space(space or {}, source, default_space(dataset))
        TrainConfig.from_dict({**base.to_dict(), **parsed.fixed})  # fixed settings that clash are refused now
        return cls(recipe, base, parsed, budget_seconds, {"name": dataset.name, "source": where,
                                                          "sha256": dict(dataset.sha256)})

    def to_dict(self) -> dict:
        return {"format": 1, "recipe": self.recipe, "base": self.base.to_dict(), "space": self.space.to_dict(),
                "budget_seconds": self.budget_seconds, "data": self.data}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Search:
        try:
            base = TrainConfig.from_dict(data["base"])
            space = parse_space(data["space"], where)
            return cls(str(data["recipe"]), base, space, data["budget_seconds"], dict(data["data"]))
        except (KeyError, TypeError, UsageError) as exc:
            raise DataError(f"{where}: its search cannot be read ({exc}); was it made by another digitnet?") from None

    def same_as(self, other: Search) -> bool:
        """The same settings searched in the same way on the same data (wherever that data is)."""
        mine, theirs = self.to_dict(), other.to_dict()
        for d in (mine, theirs):
            d["base"] = {**d["base"], "data": None}
            d["data"] = d["data"]["sha256"]
        return mine == theirs

    def config(self, choose: Callable[[Dimension], Any]) -> TrainConfig:
        return self.base.updated(**self.space.settings(choose, self.base.to_dict()))

    def config_for(self, trial: optuna.trial.BaseTrial) -> TrainConfig:
        """The settings ``trial`` asks for (Optuna samples them)."""
        return self.config(lambda d: d.suggest(trial))

    def config_from(self, params: dict) -> TrainConfig:
        """The settings of a finished trial, from its ``params``."""
        return self.config(lambda d: params[d.param])

    def base_params(self) -> dict:
        """The base recipe's own settings as a trial's params, each one the space holds (the others are sampled)."""
        base, params = self.base.updated(**self.space.fixed), {}
        values = {"hidden_depth": len(base.hidden), "hidden_width": base.hidden[0] if len(set(base.hidden)) == 1 else None}
        for name, dims in self.space.dimensions.items():
            for d in dims:
                value = values[d.param] if d.param in values else getattr(base, name)
                value = "full" if value is None and name == "batch_size" else value
                if value is not None and (value in d.choices if d.choices is not None else
                                          d.low <= value <= d.high):  # type: ignore[operator]
                    params[d.param] = value
        return params

    def check_data(self, dataset: Dataset) -> None:
        """A DataError unless ``dataset`` holds the very files this search was made on."""
        if dict(dataset.sha256) != self.data["sha256"]:
            raise DataError(f"{dataset.source}: not the data this study searches on ({self.data['name']}, read from "
                            f"{self.data['source']}: its files' SHA-256 differ); pass --data with that data")


# --- storage and study ---

def storage_url(url: str | None) -> str:
    """``url`` as Optuna's storage takes it: a URL as is, a plain path as a SQLite file, None as the default
    SQLite file in the user data dir (``tune.db``)."""
    if not url:
        path = paths.home() / "tune.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    return url if "://" in url else f"sqlite:///{Path(url).resolve()}"


def redacted(url: str) -> str:
    """``url`` with its password (if any) hidden, for messages."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def open_storage(url: str, *, connect_timeout: int = 10) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage at ``url`` (SQLite, PostgreSQL, ...), reached and ready; a DataError naming the
    URL (password hidden) when it is malformed, needs a missing driver, or cannot be reached within
    ``connect_timeout`` seconds. Trials of a process that dies are marked failed by the next one to run
    (Optuna's heartbeat: a trial silent for two minutes is stale)."""
    optuna = require_optuna()
    import sqlalchemy.exc

    shown = redacted(url)
    scheme = url.split("://", 1)[0].lower()
    engine: dict[str, Any] = {}
    if scheme.startswith("sqlite"):
        engine["connect_args"] = {"timeout": 60}  # several processes take turns writing one file
    elif scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        url = _postgres_driver(url, scheme)
        engine["connect_args"] = {"connect_timeout": connect_timeout}
    try:
        return _rdb_storage(optuna, url, engine)
    except ImportError as exc:
        raise DataError(f"study storage {shown}: its database driver is not installed ({exc.__cause__ or exc}); "
                        f"{INSTALL} brings PostgreSQL's") from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise DataError(f"study storage {shown}: not a database URL digitnet can use ({_first_line(exc)}); expected "
                        "e.g. sqlite:///FILE.db or postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError, OSError) as exc:
        raise DataError(f"study storage {shown}: cannot be reached or used ({_first_line(exc)})") from None


def _rdb_storage(optuna: ModuleType, url: str, engine: dict, attempts: int = 5):
    """The storage, its tables created if new. Processes that find a new database at the same moment race to
    create the tables; the losers see a constraint violated, and find the tables there when they try again."""
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the heartbeat is marked experimental
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("not reached")


def _postgres_driver(url: str, scheme: str) -> str:
    """``postgresql://`` with the driver that is installed: psycopg 3 unless psycopg2 is there."""
    if "+" in scheme:
        return url
    try:
        import psycopg2  # noqa: F401  SQLAlchemy's default for postgresql://
        return url
    except ImportError:
        return "postgresql+psycopg://" + url.split("://", 1)[1]


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return redacted(text[0]) if text else type(cause).__name__


def stored_search(storage: optuna.storages.BaseStorage, name: str, *, wait: float = 10.0) -> Search | None:
    """The search of the study ``name`` in ``storage``, or None if there is no such study. A study just created
    by another process gets up to ``wait`` seconds to record its search; one that never does (not made by
    ``digitnet tune``) is a DataError."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return None
    deadline = time.monotonic() + wait
    while True:
        attrs = storage.get_study_user_attrs(study_id)
        if ATTRIBUTE in attrs:
            return Search.from_dict(attrs[ATTRIBUTE], f"study {name!r}")
        if time.monotonic() > deadline:
            raise DataError(f"study {name!r} was not made by digitnet tune (it records no search); "
                            "choose another --study name")
        time.sleep(0.2)


def open_study(storage: optuna.storages.BaseStorage, name: str, search: Search, *,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """The study ``name``: created with ``search`` if new, else joined; a UsageError if it searches something else.
    ``pruner``: Optuna's pruner (default: the median rule, after 5 trials and from the second epoch)."""
    optuna = require_optuna()
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    sampler = _sampler(search.base_params())
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler,
                                    pruner=pruner)
        study.set_user_attr(ATTRIBUTE, search.to_dict())
        return study
    except optuna.exceptions.DuplicatedStudyError:
        pass
    stored = stored_search(storage, name)
    if stored is None or not stored.same_as(search):
        raise UsageError(f"study {name!r} already searches something else (recipe {stored.recipe if stored else '?'}, "
                         "its own space, budget or data): continue it without --recipe, --space, --budget-seconds, "
                         "or choose another --study name")
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)


def _sampler(base: dict) -> optuna.samplers.BaseSampler:
    """Optuna's TPE sampler, except that trial 0 takes the base recipe's own settings (``base``; the others it
    samples): every study measures its recipe first. Decided by the trial's number, which the storage gives
    once, so processes that start together cannot both run it (an enqueued trial could be claimed by two
    processes on SQLite)."""

    from optuna.samplers import TPESampler  # an optional extra: imported once it is known to be there

    class StartFromTheRecipe(TPESampler):
        def sample_relative(self, study, trial, search_space):
            return {} if trial.number == 0 else super().sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            if trial.number == 0 and param_name in base:
                return base[param_name]
            return super().sample_independent(study, trial, param_name, param_distribution)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the constant liar (parallel workers spread out) is marked experimental
        return StartFromTheRecipe(constant_liar=True)


def join_study(storage: optuna.storages.BaseStorage, name: str, *,
               pruner: optuna.pruners.BasePruner | None = None) -> tuple[optuna.Study, Search]:
    """The existing study ``name`` and its search (a UsageError if there is none)."""
    search = stored_search(storage, name)
    if search is None:
        raise UsageError(f"there is no study {name!r} in this storage: start it with its settings first")
    return open_study(storage, name, search, pruner=pruner), search


# --- trials ---

#: a trial is stopped as over its budget only when its projected time passes the budget by more than this
#: factor: the projection from the first epochs moves by a few per cent from run to run, and a trial of the
#: base recipe itself, given the base's own time, must not be pruned for that noise
BUDGET_SLACK = 1.05


class TrialReporter(Callback):
    """Reports each epoch's validation accuracy to ``trial``; stops the run (``state.stop``) when the trial's
    pruner says so, or when its epochs cannot all be trained within ``budget_seconds`` (judged from the
    epochs so far); ``reason`` then says why. Each step is a safe point for ``interruptions`` to act on Ctrl+C."""

    def __init__(self, trial: optuna.trial.BaseTrial, budget_seconds: float | None = None,
                 interruptions: Interruptions | None = None):
        self.trial, self.budget, self.interruptions = trial, budget_seconds, interruptions
        self.reason: str | None = None
        self.begun: tuple[int, float] = (0, 0.0)  # the epoch and seconds when the epochs began

    def on_train_begin(self, state: TrainState) -> None:
        self.begun = (state.epoch, state.seconds)  # the inputs' preparation, counted once, is in these seconds

    def needed(self, state: TrainState) -> float:
        """Seconds of training the whole run will need: what it took so far, and the epochs to come at the
        rate of those done (the preparation before the first epoch is not an epoch's: counted once)."""
        first, before = self.begun
        per_epoch = (state.seconds - before) / max(state.epoch + 1 - first, 1)
        return state.seconds + per_epoch * (state.epochs - state.epoch - 1)

    def on_batch_end(self, state: TrainState) -> None:
        if self.interruptions is not None:
            self.interruptions.check()

    def on_epoch_end(self, state: TrainState, record: dict | None) -> None:
        self.on_batch_end(state)
        if record is None or "val_accuracy" not in record:
            return
        self.trial.report(record["val_accuracy"], state.epoch)
        needed = self.needed(state)
        if self.budget is not None and needed > self.budget * BUDGET_SLACK:
            self.reason = (f"over budget: its {state.epochs} epochs need about {needed:.1f} s of training, "
                           f"more than the {self.budget:g} s allowed")
            state.stop = True
        elif state.epoch + 1 < state.epochs and self.trial.should_prune():
            self.reason = (f"pruned after epoch {state.epoch + 1}: validation accuracy "
                           f"{record['val_accuracy'] * 100:.2f}%, below the other trials' at that epoch")
            state.stop = True


def validation_accuracy(model, config: TrainConfig, dataset: Dataset) -> float:
    """Accuracy of ``model`` on the validation split that :func:`~digitnet.run.recipes.train` held out for ``config``."""
    _, val_idx = split_validation(len(dataset.train), config.validation, config.seed)
    return evaluate(model, Split(dataset.train.images[val_idx], dataset.train.labels[val_idx]), dataset.num_classes).accuracy


class Interruptions:
    """Ctrl+C and SIGTERM interrupt a trial at its next training step (Optuna then marks the trial failed, and
    the study stays consistent), never in the middle of a write to the storage, which would leave the trial
    marked running; between trials they are held until the next one begins or the run ends. A second signal
    acts at once. Installed in the main thread only."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.training = False
        self.pending: tuple[int, Any] | None = None
        self.previous: dict[int, Any] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Hold the signals within the block; one still held at its end is then acted on."""
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        try:
            yield
        finally:
            for s, handler in self.previous.items():
                signal.signal(s, handler)
        self.deliver()

    def _handle(self, signum: int, frame) -> None:
        again, self.pending = self.pending is not None, (signum, frame)
        if again:
            self.deliver()

    def check(self) -> None:
        """A safe point of a trial's training: act on a held signal now."""
        if self.training:
            self.deliver()

    def deliver(self) -> None:
        """Act on a held signal as its own handler would have (KeyboardInterrupt for Ctrl+C)."""
        if self.pending is None:
            return
        (signum, frame), self.pending = self.pending, None
        handler = self.previous.get(signum, signal.default_int_handler)
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL and signum == signal.SIGINT:
            raise KeyboardInterrupt
        elif handler == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    @contextlib.contextmanager
    def trial(self) -> Iterator[None]:
        self.training = True
        try:
            self.deliver()  # a signal that came between trials
            yield
        finally:
            self.training = False


def objective(search: Search, dataset: Dataset,
              interruptions: Interruptions | None = None) -> Callable[[optuna.trial.Trial], float]:
    """Optuna's objective: one training run with the trial's settings, its validation accuracy. A run the
    pruner or the budget stops, or that diverges, ends as a pruned trial (``pruned_because`` says why)."""
    pruned = require_optuna().TrialPruned
    interruptions = interruptions or Interruptions()

    def run(trial: optuna.trial.Trial) -> float:
        with interruptions.trial():
            trial.set_user_attr("process", process_name(os.getpid()))  # the machine and process
            config = search.config_for(trial)
            reporter = TrialReporter(trial, search.budget_seconds, interruptions)
            try:
                result = train(config, dataset, callbacks=[reporter], calibrate=False)  # only the best is kept
            except TrainingDiverged as exc:
                reporter.reason = f"diverged: {exc}"
            else:
                trial.set_user_attr("train_seconds", float(result.metadata["train_seconds"]))
                trial.set_user_attr("epochs_run", int(result.metadata["epochs_run"]))
            if reporter.reason:
                trial.set_user_attr("pruned_because", reporter.reason)
                raise pruned(reporter.reason)
            return validation_accuracy(result.model, config, dataset)

    return run


def optimize(study: optuna.Study, search: Search, dataset: Dataset, *, n_trials: int | None = None,
             timeout: float | None = None, threads: int | None = None,
             on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None) -> None:
    """Run ``n_trials`` more trials of ``study`` (None: until ``timeout`` seconds have passed, or forever)
    in this process, ``threads`` threads each (None: every core; the BLAS too, through threadpoolctl);
    ``on_trial(trial)`` after each. Ctrl+C fails the running trial and is raised (see :class:`Interruptions`):
    the study never keeps a trial marked running by a process that has stopped."""
    require_optuna()
    search.check_data(dataset)
    callbacks = [lambda _study, trial: on_trial(trial)] if on_trial else []
    interruptions = Interruptions()
    with parallel.limit_threads(threads) if threads else contextlib.nullcontext(), interruptions.installed():
        study.optimize(objective(search, dataset, interruptions), n_trials=n_trials, timeout=timeout,
                       callbacks=callbacks)


def process_name(pid: int) -> str:
    """How a trial names the process that runs it (its ``process`` attribute): this machine and ``pid``."""
    return f"{socket.gethostname()}:{pid}"


def fail_abandoned(study: optuna.Study, pids: Iterable[int]) -> list[int]:
    """Mark failed the trials still running in processes ``pids`` of this machine, which have stopped (one
    killed, or whose last write to the storage failed, cannot do it itself); the numbers of those trials.
    Without this they would stay running until Optuna's heartbeat finds them stale, minutes later."""
    optuna = require_optuna()
    names = {process_name(pid) for pid in pids}
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.user_attrs.get("process") in names:
            try:
                study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:  # it ended after all
                continue
            failed.append(trial.number)
    return failed


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials that ended (complete, pruned or failed), in order."""
    optuna = require_optuna()
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    return study.get_trials(deepcopy=False, states=states)


# --- results ---

def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial:
    """The completed trial of highest validation accuracy; a DataError if none has completed."""
    optuna = require_optuna()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise DataError(f"study {study.study_name!r} has no completed trial yet (all were pruned, failed or are "
                        "still running): run more trials, or widen the budget")
    return max(complete, key=lambda t: (t.value, -t.number))


def summary(study: optuna.Study) -> dict:
    """Counts of the study's trials by state, and its best trial (None before one completes)."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    try:
        best = best_trial(study)
    except DataError:
        return {"study": study.study_name, "trials": counts, "best": None}
    return {"study": study.study_name, "trials": counts,
            "best": {"number": best.number, "validation_accuracy": best.value, "params": best.params,
                     "train_seconds": best.user_attrs.get("train_seconds")}}


def train_best(study: optuna.Study, search: Search, dataset: Dataset, *,
               callbacks: tuple[Callback, ...] = ()) -> TrainResult:
    """The best trial's settings trained again (on every core), the model's metadata saying how it was tuned:
    ``recipe`` (the base) and ``tuning`` (study, trials, the trial's validation accuracy, space, budget)."""
    search.check_data(dataset)
    best = best_trial(study)
    config = search.config_from(best.params)
    result = train(config, dataset, callbacks=list(callbacks))
    counts = summary(study)["trials"]
    result.model.metadata.update(recipe=search.recipe, tuning={
        "study": study.study_name, "trial": best.number, "trials": counts,
        "validation_accuracy": best.value, "validation_fraction": config.validation,
        "retrained_validation_accuracy": validation_accuracy(result.model, config, dataset),
        "searched": sorted(search.space.dimensions), "budget_seconds": search.budget_seconds,
        "data": search.data["name"]})
    return result


def config_toml(config: TrainConfig, header: str = "") -> str:
    """``config`` as a TOML file that ``digitnet train --config`` takes: every setting (``batch_size`` None as
    "full"), so that it gives the same run whatever the recipe; ``header`` as comment lines first."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for name, value in config.to_dict().items():
        if name == "description":
            continue
        lines.append(f"{name} = {_toml_value('full' if value is None else value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)  # finite (checked), and Python's repr is a TOML float: 0.003, 1e-05
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'
