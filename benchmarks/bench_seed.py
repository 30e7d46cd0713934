"""The tutorial's recipe: the naive listing vs ``digitnet train --recipe seed``, interleaved, each in a fresh process.

    python benchmarks/bench_seed.py [--repeats 3]

Both train the same float64 784-16-16-10 network for 150 full-batch iterations
and must print the same 15 lines. Prints medians and the ratio; writes
benchmarks/results/seed-vs-naive.json (make bench writes seed.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from digitnet import fit, tutorial_cost  # noqa: E402
from digitnet.recipes import RECIPES, build  # noqa: E402


def digitnet_seed(X, y):
    """The seed recipe's model and optimizer, timed around fit() (its input blocking included)."""
    config = RECIPES["seed"]
    model, optimizer = build(config, 784, 10, steps_per_epoch=1)
    start = time.perf_counter()
    history = fit(model, optimizer, X, y, epochs=config.epochs, batch_size=None, log_every=config.log_every,
                  batch_metrics={"cost": tutorial_cost})
    seconds = time.perf_counter() - start
    lines = ["Cost after iteration %i: %f Accuracy: %f" % (r["epoch"], r["cost"], r["accuracy"] * 100)
             for r in history.records]
    return seconds, lines


def main():
    from run import run_job  # each run in a fresh process, as make bench does

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = {"naive": [], "digitnet": []}
    for _ in range(args.repeats):
        naive, ours = run_job(kind="seed", who="naive"), run_job(kind="seed", who="digitnet")
        assert naive["lines"] == ours["lines"], "the two runs printed different logs"
        times["naive"].append(naive["seconds"])
        times["digitnet"].append(ours["seconds"])
        print(f"naive {naive['seconds']:.2f} s   digitnet {ours['seconds']:.2f} s   "
              f"ratio {naive['seconds'] / ours['seconds']:.2f}x", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(n / d for n, d in zip(times["naive"], times["digitnet"]))
    print(f"median: naive {med['naive']:.2f} s, digitnet --recipe seed {med['digitnet']:.2f} s, "
          f"digitnet is {ratio:.2f}x faster (same 15 lines)")
    out = HERE / "results" / "seed-vs-naive.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"times_s": times, "median_s": med, "median_ratio": ratio,
                               "numpy": np.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
