"""digitnet tune: studies of tiny trials on SQLite and on a real PostgreSQL server started here, worker
processes sharing a study, pruning, the training-time budget, Ctrl+C, and clear errors for bad input."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from digitnet import parallel
from digitnet.app.cli import main
from digitnet.data import datasets
from digitnet.errors import DataError, UsageError
from digitnet.run import tune
from digitnet.run.config import TrainConfig
from digitnet.run.recipes import RECIPES
from digitnet.training.fit import Callback
from quick import mnist_folder

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

#: every trial tiny: a 784-16-10 network, a few epochs over 2,700 rows (the lr is searched)
TINY = """
hidden = [16]
epochs = 2
batch_size = 64
synthetic_digits = 0
outliers = 0
deskew = "off"
shift = 0.0
rotate = 0.0
scale = 0.0
shear = 0.0
dropout = 0.0
weight_decay = 0.0
schedule = "onecycle"
[lr]
low = 1e-6
high = 1e-2
log = true
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory, mnist) -> Path:
    """A directory of the four IDX files: 3,000 MNIST training digits and 500 test digits."""
    return mnist_folder(tmp_path_factory.mktemp("small"), mnist, 3000, 500)


@pytest.fixture(scope="module")
def small_data(small):
    return datasets.load(small)


def space_file(folder: Path, extra: str = "", epochs: int = 2) -> Path:
    path = folder / "space.toml"
    path.write_text(TINY.replace("epochs = 2", f"epochs = {epochs}").replace("[lr]", extra + "\n[lr]"))
    return path


def tune_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["tune", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def trials_of(url: str, name: str) -> list:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def _interruptible() -> None:
    """In the child before it starts: Ctrl+C's default action. A suite started in the background by a
    non-interactive shell runs with SIGINT ignored, which its children would inherit (and rightly ignore)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def digitnet_process(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "digitnet", "tune", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            preexec_fn=_interruptible)


# --- a study on SQLite ---

def test_a_study_on_sqlite_runs_resumes_and_writes_its_results(tmp_path, small, capsys):
    db, out = tmp_path / "studies.db", tmp_path / "results"
    common = ["--data", small, "--space", space_file(tmp_path), "--storage", db, "--study", "s", "--out", out, "--json"]
    code, stdout, _ = tune_cli(capsys, *common, "--trials", 3)
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [r["trial"] for r in lines[:-1]] == [0, 1, 2]
    assert lines[-1]["trials"] == {"complete": 3}
    assert lines[0]["params"] == {"lr": RECIPES["default"].lr}  # the first trial: the recipe as it is

    code, stdout, _ = tune_cli(capsys, *common, "--trials", 2)  # the same command again: the study continues
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [r["trial"] for r in lines[:-1]] == [3, 4]
    summary = lines[-1]
    assert summary["trials"] == {"complete": 5} and len(trials_of(f"sqlite:///{db}", "s")) == 5

    best = max((t for t in trials_of(f"sqlite:///{db}", "s")), key=lambda t: t.value)
    assert summary["best"]["number"] == best.number and summary["best"]["validation_accuracy"] == best.value
    # the TOML gives `digitnet train --config` the best trial's settings, whatever the recipe
    settings = tomllib.loads((out / "best.toml").read_text())
    search = tune.Search.create("default", datasets.load(small), tomllib.loads(space_file(tmp_path).read_text()))
    assert TrainConfig.from_dict({**RECIPES["tiny-best"].to_dict(), **settings}) == \
        search.config_from(best.params).updated(description=RECIPES["tiny-best"].description)
    assert summary["validation_accuracy"] == pytest.approx(best.value)  # trained again: the same model
    card = (out / "README.md").read_text()
    assert "(default, tuned)" in card and "Tuned: settings searched by `digitnet tune` (study `s`" in card
    assert "the best of 5 (5 complete)" in card and "never the test set" in card
    assert sorted(p.name for p in out.glob("*.png")) == ["optimization_history.png", "param_importances.png", "slice.png"]
    assert (out / "best.safetensors").is_file()


def test_progress_lines_name_each_trial_and_the_results(tmp_path, small, capsys):
    code, stdout, stderr = tune_cli(capsys, "--data", small, "--space", space_file(tmp_path), "--storage",
                                    tmp_path / "s.db", "--trials", 2, "--out", tmp_path / "out")
    assert code == 0
    assert "study 'default-" in stderr and "0 trials so far; searching lr of recipe default" in stderr
    assert "trial    0  val" in stderr and "trial    1  val" in stderr and "lr=" in stderr
    assert "study default-" in stdout and "2 trials (2 complete)" in stdout and "best.toml" in stdout


def test_the_default_storage_is_a_sqlite_file_in_the_user_data_dir(digitnet_home):
    assert tune.storage_url(None) == f"sqlite:///{digitnet_home / 'tune.db'}"
    assert tune.storage_url("my.db") == f"sqlite:///{Path('my.db').resolve()}"
    assert tune.storage_url("postgresql://u@h/db") == "postgresql://u@h/db"


# --- worker processes and PostgreSQL ---

def test_two_worker_processes_share_one_study_with_the_exact_trial_count(tmp_path, small, capsys):
    db = tmp_path / "w.db"
    code, stdout, stderr = tune_cli(capsys, "--data", small, "--space", space_file(tmp_path), "--storage", db,
                                    "--study", "w", "--workers", 2, "--trials", 5, "--out", tmp_path / "out", "--json")
    assert code == 0, stderr
    trials = trials_of(f"sqlite:///{db}", "w")
    assert len(trials) == 5 and all(t.state.is_finished() for t in trials)
    processes = {t.user_attrs["process"] for t in trials}
    assert len(processes) == 2 and f"{socket.gethostname()}:{os.getpid()}" not in processes
    reported = [json.loads(line) for line in stdout.splitlines()]
    assert sorted(r["trial"] for r in reported[:-1]) == [0, 1, 2, 3, 4]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of our own in a temporary directory (as nobody when we are root), its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")] if shutil.which("initdb") else [])
    if not found:
        pytest.fail("PostgreSQL is not installed: `bash scripts/system-packages.sh test` installs it (Debian: postgresql)")
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="digitnet-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    port, data = _free_port(), root / "data"

    def run(*command):
        subprocess.run([*as_user, *map(str, command)], cwd=root, check=True, capture_output=True, timeout=120)

    run(bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--locale=C", "-E", "UTF8")
    run(bin_dir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w", "-t", "60",
        "-o", f"-p {port} -h 127.0.0.1 -k {root}", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_two_processes_share_a_study_on_a_real_postgresql_server(tmp_path, small, postgres):
    space = space_file(tmp_path)
    procs = [digitnet_process("--data", small, "--space", space, "--storage", postgres, "--study", "pg",
                              "--trials", 3, "--out", tmp_path / f"out{i}", "--json") for i in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    trials = trials_of(postgres.replace("postgresql://", "postgresql+psycopg://"), "pg")
    assert len(trials) == 6 and all(t.state.is_finished() for t in trials)
    assert len({t.user_attrs["process"] for t in trials}) == 2
    assert sorted(t.number for t in trials) == list(range(6))
    for stdout, _ in results:  # each process reports its own 3, then the study as it stands (the other's too)
        lines = [json.loads(line) for line in stdout.splitlines()]
        assert len(lines) == 4 and lines[-1]["trials"]["complete"] >= 3


# --- pruning and the budget ---

def _library_study(tmp_path, small_data, *, epochs=3, budget=None):
    search = tune.Search.create("default", small_data, tomllib.loads(space_file(tmp_path, epochs=epochs).read_text()),
                                budget_seconds=budget)
    url = tune.storage_url(str(tmp_path / "lib.db"))
    return tune.open_study(tune.open_storage(url), "lib", search), search


def test_pruning_stops_a_trial_that_falls_behind_the_others(tmp_path, small_data):
    study, search = _library_study(tmp_path, small_data, epochs=3)
    for _ in range(5):  # the median rule needs 5 finished trials to compare with
        study.enqueue_trial({"lr": 5e-3})
    study.enqueue_trial({"lr": 1e-6})  # learns nothing in 3 epochs
    tune.optimize(study, search, small_data, n_trials=6)
    *good, bad = study.get_trials()
    assert all(t.state == optuna.trial.TrialState.COMPLETE and len(t.intermediate_values) == 3 for t in good)
    assert bad.state == optuna.trial.TrialState.PRUNED
    assert sorted(bad.intermediate_values) == [0, 1]  # stopped after its second epoch, not run to its third
    assert bad.user_attrs["pruned_because"].startswith("pruned after epoch 2: validation accuracy")


def test_a_trial_that_cannot_finish_within_the_budget_is_stopped_and_pruned(tmp_path, small_data):
    study, search = _library_study(tmp_path, small_data, epochs=3, budget=1e-6)
    tune.optimize(study, search, small_data, n_trials=1)
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.PRUNED and sorted(trial.intermediate_values) == [0]
    assert trial.user_attrs["pruned_because"].startswith("over budget: its 3 epochs need about")
    with pytest.raises(DataError, match="no completed trial yet"):
        tune.best_trial(study)


def test_trials_skip_the_calibration_that_only_a_kept_model_needs(tmp_path, small_data, monkeypatch):
    from digitnet.run import pipeline

    calls = []
    monkeypatch.setattr(pipeline, "calibrate", lambda *args: calls.append(args) or {"temperature": 1.0, "threshold": 0.5})
    study, search = _library_study(tmp_path, small_data, epochs=1)
    tune.optimize(study, search, small_data, n_trials=2)
    assert calls == [] and [t.state for t in study.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 2
    result = tune.train_best(study, search, small_data)  # the model that is kept is calibrated
    assert len(calls) == 1 and result.model.metadata["calibration"]["temperature"] == 1.0


def test_a_trial_within_the_budget_completes_and_records_its_time(tmp_path, small_data):
    study, search = _library_study(tmp_path, small_data, epochs=2, budget=600)
    tune.optimize(study, search, small_data, n_trials=1)
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.user_attrs["train_seconds"] > 0 and trial.user_attrs["epochs_run"] == 2  # recorded, all epochs run


class _Trial:  # what TrialReporter asks of an Optuna trial
    def report(self, value, step):
        pass

    def should_prune(self):
        return False


def test_the_budget_counts_the_inputs_preparation_once_not_in_every_epoch():
    """A run that prepares its inputs for 2 s, then trains 6 epochs of 1 s: 8 s in all. Judged after its first
    epoch (3 s so far) it needs 8 s, not 3 x 6 = 18 s; the base recipe given its own time is not pruned."""
    from digitnet.training.fit import History, TrainState

    def judged(budget: float):
        state = TrainState(None, None, History(), np.random.default_rng(0), epochs=6, steps_per_epoch=1, seconds=2.0)
        reporter = tune.TrialReporter(_Trial(), budget_seconds=budget)
        reporter.on_train_begin(state)
        state.seconds = 3.0  # the first epoch done
        reporter.on_epoch_end(state, {"val_accuracy": 0.5})
        return reporter, state

    within, state = judged(8.0)
    assert within.needed(state) == pytest.approx(8.0)
    assert within.reason is None and not state.stop  # 8 s: within its budget
    over, state = judged(7.0)
    assert state.stop and over.reason.startswith("over budget: its 6 epochs need about 8.0 s")


class _Rows(Callback):
    def __init__(self, seen: list):
        self.seen = seen

    def on_train_begin(self, state):
        self.seen.append(state.n_samples)


def test_made_up_digits_are_left_out_for_data_whose_classes_are_not_digits(small_data):
    """The default recipe's digits made by code and restyled 0s, 1s and 7s would be digits trained under other
    classes' names (a T-shirt, a trouser): on such data they are left out, and the model file says so."""
    from dataclasses import replace

    from digitnet.run.recipes import train

    clothes = replace(small_data, name="clothes", classes=tuple(f"class {k}" for k in range(10)))
    config = RECIPES["default"].updated(epochs=1, hidden=(8,), outliers=300, low_resolution=100, deskew="off")
    seen = []
    result = train(config, clothes, callbacks=[_Rows(seen)], calibrate=False)
    assert result.model.metadata["config"]["synthetic_digits"] == 0
    assert result.model.metadata["config"]["restyled_digits"] == 0
    assert seen == [2700 + 100 + 300]  # the training rows after the validation split, the scans, the outliers
    digits = train(config, small_data, callbacks=[_Rows(seen)], calibrate=False)
    assert digits.model.metadata["config"]["synthetic_digits"] == config.synthetic_digits > 0
    assert seen[1] > seen[0] + config.synthetic_digits  # and restyled 0s, 1s and 7s besides


def test_several_workers_each_train_on_one_thread_blas_included():
    from threadpoolctl import threadpool_info

    before = parallel.cores()
    with parallel.limit_threads(1):
        assert parallel.cores() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert parallel.cores() == before


# --- Ctrl+C ---

@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_leaves_no_trial_running(tmp_path, small, workers):
    db = tmp_path / "c.db"
    url = f"sqlite:///{db}"
    proc = digitnet_process("--data", small, "--space", space_file(tmp_path, epochs=400), "--storage", db,
                            "--study", "c", "--trials", 20, "--workers", workers, "--out", tmp_path / "out")
    deadline = time.monotonic() + 60  # stall guard: trials start within seconds
    while time.monotonic() < deadline:
        try:
            if sum(t.state == optuna.trial.TrialState.RUNNING for t in trials_of(url, "c")) == workers:
                break
        except KeyError:  # the study is not there yet
            pass
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("no trial started within 60 s: " + proc.communicate()[1])
    time.sleep(0.3)  # into the trials' training
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "keeps its finished trials" in stderr and "Traceback" not in stderr
    states = [t.state for t in trials_of(url, "c")]
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.FAIL) == workers


def test_a_worker_that_does_not_stop_is_killed_and_its_trial_marked_failed(tmp_path):
    """A worker that ignores Ctrl+C past the grace period (or whose last write failed) cannot fail its own
    trial: the process that started it does, and leaves other processes' running trials alone."""
    from digitnet.app import tuning

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'a.db'}", study_name="a", direction="maximize")
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                                 "signal.signal(signal.SIGINT, signal.SIG_IGN)\nprint(flush=True)\ntime.sleep(600)"],
                                stdout=subprocess.PIPE)
    stubborn.stdout.readline()  # it ignores SIGINT from here on
    ours, theirs = study.ask(), study.ask()
    ours.set_user_attr("process", tune.process_name(stubborn.pid))
    theirs.set_user_attr("process", "another-machine:1")
    tuning._stop(study, [stubborn], grace=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    states = {t.number: t.state for t in study.get_trials()}
    assert states == {ours.number: optuna.trial.TrialState.FAIL, theirs.number: optuna.trial.TrialState.RUNNING}


# --- clear errors ---

def test_a_bad_storage_url_is_a_clear_error(tmp_path, small, capsys):
    code, _, stderr = tune_cli(capsys, "--data", small, "--storage", "nosuchdb://somewhere/x", "--trials", 1)
    assert code == 1
    assert "study storage nosuchdb://somewhere/x: not a database URL digitnet can use" in stderr
    code, _, stderr = tune_cli(capsys, "--data", small, "--storage", "sqlite:////no/such/directory/x.db")
    assert code == 1 and "study storage sqlite:////no/such/directory/x.db: cannot be reached or used" in stderr
    assert "Traceback" not in stderr


def test_an_unreachable_server_is_a_clear_error_naming_the_url_without_its_password(small, capsys):
    url = f"postgresql://digitnet:secret@127.0.0.1:{_free_port()}/studies"  # nothing listens there
    started = time.monotonic()
    code, _, stderr = tune_cli(capsys, "--data", small, "--storage", url, "--trials", 1)
    assert time.monotonic() - started < 30  # stall guard: refused at once, never waits forever
    assert code == 1
    assert "study storage postgresql://digitnet:***@127.0.0.1:" in stderr and "cannot be reached" in stderr
    assert "secret" not in stderr and "Traceback" not in stderr


def test_without_optuna_tune_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if it were not installed
    with pytest.raises(SystemExit) as exit_:
        main(["tune", "--trials", "1"])
    assert exit_.value.code == 2
    assert "pip install 'digitnet[tune]'" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("[lr]\nlow = -1\nhigh = 1", "space.toml: lr: learning rate must be > 0, got -1"),
    ("[lr]\nlow = 0.1\nhigh = 0.01", "space.toml: lr: expected low <= high"),
    ("[bogus]\nlow = 1\nhigh = 2", "space.toml: unknown setting 'bogus'"),
    ("[seed]\nlow = 0\nhigh = 3", "space.toml: seed: cannot be searched (the validation split is drawn with it"),
    ("[activation]\nlow = 1\nhigh = 2", "space.toml: activation: a str setting has no range: expected choices"),
    ('[activation]\nchoices = ["relu", "bogus"]', "space.toml: activation: unknown activation 'bogus' (expected one of"),
    ("[hidden]\ndepth = 9\nwidth = 16", "space.toml: hidden.depth: depth must be an integer from 1 to 8, got 9"),
    ("[dropout]\nlow = 0\nhigh = 0.5\nlog = true", "space.toml: dropout: a log range needs low > 0"),
    ("validation = 0", "space.toml: validation: the objective is the accuracy on a validation split"),
    ("data = 'x'", "space.toml: data: cannot be set in a search space"),
])
def test_a_bad_search_space_is_refused_naming_the_file_and_setting(tmp_path, small, capsys, text, message):
    (tmp_path / "space.toml").write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["tune", "--data", str(small), "--space", str(tmp_path / "space.toml"), "--storage", str(tmp_path / "x.db")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_study_refuses_another_search_and_other_data(tmp_path, small, small_data, mnist):
    study, search = _library_study(tmp_path, small_data)
    other = tune.Search.create("fast99", small_data, tomllib.loads(space_file(tmp_path).read_text()))
    with pytest.raises(UsageError, match="study 'lib' already searches something else"):
        tune.open_study(tune.open_storage(tune.storage_url(str(tmp_path / "lib.db"))), "lib", other)
    with pytest.raises(DataError, match="not the data this study searches on"):
        tune.optimize(study, search, mnist, n_trials=1)


def test_the_default_space_searches_digits_settings_and_leaves_made_up_digits_out_of_other_data(small_data):
    search = tune.Search.create("default", small_data)
    searched = {"hidden", "lr", "epochs", "batch_size", "dropout", "weight_decay", "schedule", "rotate"}
    assert searched <= set(search.space.dimensions)
    assert "synthetic_digits" not in search.space.fixed  # its classes are digits
    fashion = datasets.Dataset("fashion", small_data.train, small_data.test, tuple("abcdefghij"), {}, "x")
    assert tune.default_space(fashion)["synthetic_digits"] == 0 and tune.default_space(fashion)["outliers"] == 0


def test_the_settings_toml_reads_back_as_the_same_config():
    config = RECIPES["best"].updated(data='/a "quoted"\\dir/é', batch_size=None, lr=1e-05, description="")
    text = tune.config_toml(config, "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\n")
    assert TrainConfig.from_dict(tomllib.loads(text)) == config
