"""The accuracy recipes, 3 seeds each: ``--recipe best`` and ``--recipe tiny-best``.

    python benchmarks/accuracy.py [--seeds 0,1,2] [--recipes best,tiny-best]

Prints and writes (benchmarks/results/accuracy.json, .md) test accuracy per seed,
the mean, and training seconds. Each recipe runs its fixed schedule; nothing is
chosen with the test set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, reexec_natural

reexec_natural()  # before NumPy loads: measure with the BLAS kernel users' machines get

from digitnet.data import datasets
from digitnet.run.recipes import RECIPES, train

PUBLISHED = [
    ("784-800-10, no distortions (Simard et al. 2003)", "98.4%"),
    ("2x8192 ReLU, dropout + max-norm (Srivastava et al. 2014)", "98.95%"),
    ("784-800-10, elastic distortions (Simard et al. 2003)", "99.3%"),
    ("6-layer 12M-weight MLP, deformations, days on a GPU (Ciresan et al. 2010)", "99.65%"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--recipes", default="fast99,best,tiny-best")
    args = parser.parse_args()
    data = datasets.load("mnist")
    seeds = [int(s) for s in args.seeds.split(",")]
    saved = HERE / "results" / "accuracy.json"
    results = json.loads(saved.read_text())["results"] if saved.is_file() else {}  # other recipes' runs are kept
    for name in args.recipes.split(","):
        runs = []
        for seed in seeds:
            result = train(RECIPES[name].updated(seed=seed), data)
            last = result.metadata["history"]["records"][-1]
            runs.append({"seed": seed, "test_accuracy": result.metadata["test_accuracy"],
                         "validation_accuracy": last.get("val_accuracy"),
                         "train_seconds": result.metadata["train_seconds"], "date": time.strftime("%Y-%m-%d")})
            print(f"{name} seed {seed}: {runs[-1]['test_accuracy'] * 100:.2f}% in {runs[-1]['train_seconds']:.1f} s", flush=True)
        results[name] = {"runs": runs, "mean_accuracy": statistics.fmean(r["test_accuracy"] for r in runs),
                         "config": RECIPES[name].to_dict()}
    lines = ["| recipe | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | training time |",
             "|---|" + "---:|" * (len(seeds) + 2)]
    for name, r in results.items():
        cells = [f"{x['test_accuracy'] * 100:.2f}%" for x in r["runs"]]
        times = [x["train_seconds"] for x in r["runs"]]
        lines.append(f"| `--recipe {name}` | " + " | ".join(cells) + f" | **{r['mean_accuracy'] * 100:.2f}%** | "
                     f"{min(times):.0f}–{max(times):.0f} s |")
    lines += ["", "Published plain-MLP results on MNIST, for comparison:", ""]
    lines += [f"- {what}: {acc}" for what, acc in PUBLISHED]
    table = "\n".join(lines) + "\n"
    (HERE / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    (HERE / "results" / "accuracy.json").write_text(json.dumps({"date": stamp, "machine": machine(), "results": results},
                                                               indent=2) + "\n")
    (HERE / "results" / "accuracy.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
