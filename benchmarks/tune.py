"""What `digitnet tune` finds, and how fast trials go with 1 and 2 worker processes.

    python benchmarks/tune.py              # the full runs: two 20-minute studies, 10 minutes per worker count
    python benchmarks/tune.py --short      # the same measurements in a few minutes (figures to check it works)
    python benchmarks/tune.py --parts workers --minutes 5

Parts:
- mnist: the `default` recipe trained once (its validation accuracy on its 10% split, test accuracy, training
  seconds T), then a study of the default space from the default recipe, each trial held to T seconds of
  training (`--budget-seconds T`), for `--minutes`; the best settings trained again: validation and test
  accuracy at no more training time. The settings are chosen on the validation split alone; the test figure
  is measured once, for the model chosen.
- fashion: the same on Fashion-MNIST (`default` as `digitnet train --data fashion-mnist` trains it), the goal
  being a test accuracy 1 point above the default's at no more training time.
- workers: one fixed trial (784-256-256-10, one epoch over MNIST, nothing searched, so every trial is the
  same work), run for `--worker-minutes` with `--workers 1 --threads 1` and then `--workers 2` (one BLAS thread
  each); trials per hour from the trials' own start and end times in the study.

Writes benchmarks/results/tune.json and tune.md. Run it on a quiet machine: every figure is a wall-clock one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, reexec_natural

reexec_natural()

import optuna

from digitnet.data import datasets
from digitnet.run import tune
from digitnet.run.recipes import RECIPES, train

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
#: one fixed trial for the throughput of workers: nothing searched, the same work every time
FIXED_TRIAL = {"hidden": [256, 256], "epochs": 1, "batch_size": 256, "lr": 3e-3, "schedule": "onecycle",
               "weight_decay": 0.0, "dropout": 0.0, "deskew": "off", "shift": 0.0, "rotate": 0.0, "scale": 0.0,
               "shear": 0.0, "synthetic_digits": 0, "outliers": 0}


def fashion() -> str:
    return str(FASHION_DIR) if FASHION_DIR.is_dir() else "fashion-mnist"


def baseline(data: str) -> dict:
    """The default recipe on ``data``: validation accuracy (its own split), test accuracy, training seconds."""
    dataset = datasets.load(data)
    config = RECIPES["default"].updated(data=data)
    result = train(config, dataset)
    return {"validation_accuracy": tune.validation_accuracy(result.model, config, dataset),
            "test_accuracy": result.metadata["test_accuracy"], "train_seconds": result.metadata["train_seconds"]}


def digitnet_tune(*args, env: dict) -> dict:
    """Run `digitnet tune --json ...`; the final summary object, or {"error": its message}."""
    done = subprocess.run([sys.executable, "-m", "digitnet", "tune", "--json", *map(str, args)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.splitlines()[-1])


def study_part(name: str, data: str, minutes: float, work: Path, env: dict) -> dict:
    base = baseline(data)
    budget = round(base["train_seconds"], 1)
    db = work / f"{name}.db"
    summary = digitnet_tune("--data", data, "--recipe", "default", "--study", name, "--storage", db,
                            "--timeout", minutes * 60, "--budget-seconds", budget, "--out", work / name, env=env)
    if "error" in summary:
        trials = optuna.load_study(study_name=name, storage=f"sqlite:///{db}").get_trials()
        states = [t.state.name.lower() for t in trials]
        return {"data": data, "minutes": minutes, "budget_seconds": budget, "default": base, "error": summary["error"],
                "trials": {s: states.count(s) for s in set(states)}}
    return {"data": data, "minutes": minutes, "budget_seconds": budget, "default": base,
            "trials": summary["trials"], "best_trial": summary["best"],
            "tuned": {"validation_accuracy": summary["validation_accuracy"], "test_accuracy": summary["test_accuracy"],
                      "train_seconds": summary["train_seconds"]},
            "settings": (work / name / "best.toml").read_text()}


def workers_part(minutes: float, work: Path, env: dict) -> dict:
    space = work / "fixed.toml"
    space.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in FIXED_TRIAL.items()) + "\n")
    out = {}
    for workers in (1, 2):
        name, db = f"workers{workers}", work / f"workers{workers}.db"
        digitnet_tune("--data", "mnist", "--space", space, "--study", name, "--storage", db, "--timeout", minutes * 60,
                      "--workers", workers, "--threads", 1, "--out", work / name, env=env)
        trials = [t for t in optuna.load_study(study_name=name, storage=f"sqlite:///{db}").get_trials()
                  if t.state == optuna.trial.TrialState.COMPLETE]
        span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
        out[str(workers)] = {"trials": len(trials), "seconds": span, "trials_per_hour": len(trials) / span * 3600,
                             "mean_trial_seconds": sum(t.user_attrs["train_seconds"] for t in trials) / len(trials)}
    out["speedup"] = out["2"]["trials_per_hour"] / out["1"]["trials_per_hour"]
    return out


def markdown(results: dict) -> str:
    lines = [f"Measured on {results['machine']['cpu']} ({results['machine']['cores']} cores); each part's date below. "
             "Parts marked short are checks that the benchmark works, not the goals' figures.", ""]
    studies = [(k, v) for k, v in results["parts"].items() if k != "workers"]
    if studies:
        lines += ["| data | study | trials (complete / pruned) | default: val / test / s | tuned: val / test / s |",
                  "|---|---|---|---|---|"]
        for _, r in studies:
            d, n = r["default"], r["trials"]
            t = r.get("tuned") or {"validation_accuracy": float("nan"), "test_accuracy": float("nan"),
                                   "train_seconds": float("nan")}
            when = f" ({r.get('date')}{', short' if r.get('short') else ''})"
            lines.append(f"| {Path(r['data']).name}{when} | {r['minutes']:g} min, {r['budget_seconds']:g} s per trial | "
                         f"{sum(n.values())} ({n.get('complete', 0)} / {n.get('pruned', 0)}) | "
                         f"{d['validation_accuracy'] * 100:.2f}% / {d['test_accuracy'] * 100:.2f}% / {d['train_seconds']:.1f} | "
                         f"{t['validation_accuracy'] * 100:.2f}% / {t['test_accuracy'] * 100:.2f}% / {t['train_seconds']:.1f} |")
        lines += [f"- {Path(r['data']).name}: {r['error']}" for _, r in studies if "error" in r]
        lines.append("")
    if "workers" in results["parts"]:
        w = results["parts"]["workers"]
        lines += [f"Workers ({w.get('date')}{', short' if w.get('short') else ''}): the same fixed trial over and over.", "",
                  "| worker processes (1 BLAS thread each) | trials | seconds | trials per hour |", "|---|---|---|---|"]
        lines += [f"| {k} | {w[k]['trials']} | {w[k]['seconds']:.0f} | {w[k]['trials_per_hour']:.0f} |" for k in ("1", "2")]
        lines += ["", f"Two workers: {w['speedup']:.2f}x the trials per hour of one."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="2-minute studies, 75 s per worker count")
    parser.add_argument("--parts", default="mnist,fashion,workers")
    parser.add_argument("--minutes", type=float, help="minutes per study (default 20; --short: 2)")
    parser.add_argument("--worker-minutes", type=float, help="minutes per worker count (default 10; --short: 1.25)")
    args = parser.parse_args()
    minutes = args.minutes or (2 if args.short else 20)
    worker_minutes = args.worker_minutes or (1.25 if args.short else 10)
    path = HERE / "results" / "tune.json"
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "parts": {}}
    if path.is_file():  # parts not run now are kept, each with its own date and length
        earlier = json.loads(path.read_text())
        results["parts"] = {name: {"date": earlier.get("date"), "short": earlier.get("short", False), **part}
                            for name, part in earlier.get("parts", {}).items()}
    with tempfile.TemporaryDirectory(prefix="digitnet-tune-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DIGITNET_HOME": str(work / "home")}
        for part in args.parts.split(","):
            started = time.monotonic()
            if part == "workers":
                results["parts"][part] = workers_part(worker_minutes, work, env)
            else:
                results["parts"][part] = study_part(part, "mnist" if part == "mnist" else fashion(), minutes, work, env)
            results["parts"][part] |= {"date": results["date"], "short": args.short}
            print(f"{part}: done in {time.monotonic() - started:.0f} s", file=sys.stderr)
            path.write_text(json.dumps(results, indent=2) + "\n")  # after each part: a later failure loses nothing
            (HERE / "results" / "tune.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
