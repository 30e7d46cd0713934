"""Long commands whose results tests check, run one after another in a process beside the tests, from the
moment the tests are collected, at a low priority: the suite's own process keeps about one of a 2-core machine's
cores busy, and these mostly take the time it leaves idle.

A test module declares its command once (:func:`digitnet`); a test that needs it is marked
``@pytest.mark.background(NAME)`` and asks for its result (:func:`result`, through the ``ran`` fixture of
tests/conftest.py). Only the commands of the collected tests run, in the order of the first test that needs each;
a test that needs a command not started yet starts it at once. Each command gets a folder of its own, ``{folder}``
in its arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

STALL_S = 1800  # far above any command's ~5-60 s: a guard against waiting forever, not a timing
NICE = 10  # the commands' priority: mostly on what the tests leave idle
# A command runs on one core with a single-threaded BLAS unless declared with ``one_core=False``: two 2-thread BLAS
# processes on a 2-core machine oversubscribe it (a training beside another: 3.5 s for the pair against 2.0 s alone,
# 2.5 s single-threaded). A product's bits may depend on the BLAS's thread count: a command whose results are
# compared bit for bit with the tests' own runs keeps the BLAS as they have it.


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str | None] = field(default_factory=dict)  # None: removed from the environment
    one_core: bool = True


@dataclass
class Result:
    """A finished command: its exit status, output (text) and folder."""
    returncode: int
    stdout: str
    stderr: str
    folder: Path


COMMANDS: dict[str, Command] = {}
ROOT = Path(tempfile.mkdtemp(prefix="digitnet-background-"))  # removed when the session ends (:func:`stop`)


def folder(name: str) -> Path:
    """A new folder for what a test module makes when it is collected (input files for its commands)."""
    path = ROOT / "inputs" / name
    path.mkdir(parents=True)
    return path


def digitnet(name: str, *args: str, env: dict[str, str | None] | None = None, one_core: bool = True) -> str:
    """Declare ``python -m digitnet ARGS`` as command ``name``; returns the name."""
    argv = ["-m", "digitnet", *args]
    if name in COMMANDS and COMMANDS[name].argv != argv:
        raise ValueError(f"two background commands are named {name!r}")
    COMMANDS[name] = Command(argv, dict(env or {}), one_core)
    return name


class Runner:
    """Runs the commands of a test session one at a time in a thread of its own."""

    def __init__(self, names: list[str]):
        self.root = ROOT
        self.lock = threading.Lock()
        self.queue = list(names)
        self.started: dict[str, subprocess.Popen] = {}
        self.done: dict[str, threading.Event] = {name: threading.Event() for name in names}
        self.stopping = False
        self.thread = threading.Thread(target=self._run_queue, daemon=True)
        self.thread.start()

    def _run_queue(self) -> None:
        while not self.stopping:
            with self.lock:
                if not self.queue:
                    return
                name = self.queue.pop(0)
                proc = self._start(name)
            proc.wait()
            self.done[name].set()

    def _start(self, name: str) -> subprocess.Popen:
        command, folder = COMMANDS[name], self.root / name
        folder.mkdir()
        env = {**os.environ, "DIGITNET_HOME": str(folder / "home"), **({"OPENBLAS_NUM_THREADS": "1"} if command.one_core else {})}
        for key, value in command.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        argv = [sys.executable, *(arg.replace("{folder}", str(folder)) for arg in command.argv)]
        with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        if hasattr(os, "setpriority"):  # the tests first: a command takes the time they leave (what it starts inherits this)
            os.setpriority(os.PRIO_PROCESS, proc.pid, NICE)
        if command.one_core and hasattr(os, "sched_setaffinity") and len(cpus := sorted(os.sched_getaffinity(0))) > 1:
            os.sched_setaffinity(proc.pid, cpus[-1:])  # one core, for the one thread of its BLAS (see above)
        self.started[name] = proc
        return proc

    def result(self, name: str) -> Result:
        with self.lock:
            self.done.setdefault(name, threading.Event())
            if name not in self.started:  # not reached yet: now, in the test's own time
                if name in self.queue:
                    self.queue.remove(name)
                proc = self._start(name)
                threading.Thread(target=lambda: (proc.wait(), self.done[name].set()), daemon=True).start()
        if not self.done[name].wait(STALL_S):
            raise RuntimeError(f"background command {name!r} did not finish within {STALL_S} s")
        folder = self.root / name
        return Result(self.started[name].returncode, (folder / "stdout").read_text(), (folder / "stderr").read_text(),
                      folder)

    def stop(self) -> None:
        """Kill what still runs (the session ended early)."""
        self.stopping = True
        with self.lock:
            self.queue.clear()
            for proc in self.started.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        deadline = time.monotonic() + 10
        while self.thread.is_alive() and time.monotonic() < deadline:
            self.thread.join(0.1)


_runner: Runner | None = None


def start(items) -> None:
    """Start the commands the collected ``items`` are marked with (see the module)."""
    global _runner
    _runner = Runner(list(dict.fromkeys(mark.args[0] for item in items for mark in item.iter_markers("background"))))


def result(name: str) -> Result:
    if _runner is None:
        raise RuntimeError("background commands start when the tests are collected (tests/conftest.py)")
    return _runner.result(name)


def stop() -> None:
    if _runner is not None:
        _runner.stop()
    shutil.rmtree(ROOT, ignore_errors=True)
