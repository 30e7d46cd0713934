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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import run_job


def main():
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
                               "machine": run_job(kind="env")}, indent=2) + "\n")


if __name__ == "__main__":
    main()
