"""digitnet against PyTorch (CPU) and scikit-learn on the same CPU and the same work: ``make bench``.

    python benchmarks/run.py [--repeats 3] [--only throughput,time_to_98,seed]

Runs are interleaved (digitnet, then the references, then again), so a noisy
neighbour hurts all of them alike; medians are reported, and ratios come from
the same run. Writes benchmarks/results/<section>.json and benchmarks/results/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import naive_tutorial  # noqa: E402
from bench_seed import digitnet_seed  # noqa: E402
import references  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from digitnet import MLP, Adam, datasets, fit  # noqa: E402
from digitnet.recipes import RECIPES, train  # noqa: E402
from digitnet.schedules import Constant  # noqa: E402


def blas_threads() -> int:
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


def gemm_peak(repeats: int = 7) -> float:
    """float32 GFLOP/s of a 2048x2048 NumPy matmul (best of ``repeats``)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * 2048**3 / best / 1e9


def _timed(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def train_flops_per_sample(sizes) -> int:
    """Multiply-adds x2 of one forward and backward pass (no input gradient for the first layer)."""
    products = [a * b for a, b in zip(sizes, sizes[1:])]
    return 2 * (3 * sum(products) - products[0])


def throughput(data, repeats):
    """Samples/s, one epoch each of Adam at batch 128, float32, same network in each framework."""
    X, y = data.train.X, data.train.y
    rows = []
    peak = gemm_peak()
    for sizes in ([784, 256, 256, 10], [784, 1024, 1024, 10]):
        runs = {"digitnet": [], "pytorch": [], "scikit-learn": []}
        for r in range(repeats):
            model = MLP(sizes, "relu", rng=r)
            history = fit(model, Adam(Constant(1e-3)), X, y, epochs=1, batch_size=128, rng=np.random.default_rng(r))
            runs["digitnet"].append(len(X) / history.last["seconds"])
            seconds, _ = references.torch_train(X, y, sizes, epochs=1, batch_size=128, lr=1e-3, seed=r)
            runs["pytorch"].append(len(X) / seconds)
            seconds, _ = references.sklearn_train(X, y, tuple(sizes[1:-1]), epochs=1, batch_size=128, lr=1e-3, seed=r)
            runs["scikit-learn"].append(len(X) / seconds)
            print(f"  {'-'.join(map(str, sizes))} run {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in runs.items()), flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        gflops = med["digitnet"] * train_flops_per_sample(sizes) / 1e9
        rows.append({"network": "-".join(map(str, sizes)), "samples_per_s": med, "runs": runs,
                     "ratio_vs_pytorch": med["digitnet"] / med["pytorch"],
                     "ratio_vs_sklearn": med["digitnet"] / med["scikit-learn"],
                     "digitnet_gflops": gflops, "gemm_peak_gflops": peak, "fraction_of_peak": gflops / peak})
    return rows


def time_to_98(data, repeats):
    """digitnet's default recipe for its fixed schedule vs the references trained until they reach 98%."""
    X, y, Xt, yt = data.train.X, data.train.y, data.test.X, data.test.y
    config = RECIPES["default"]
    rows = {"digitnet": [], "pytorch": [], "scikit-learn": []}
    for seed in range(repeats):
        result = train(config.updated(seed=seed), data)
        rows["digitnet"].append({"seed": seed, "seconds": result.history.last["seconds"],
                                 "test_accuracy": result.metadata["test_accuracy"], "reached": result.metadata["test_accuracy"] >= 0.98})
        # PyTorch: the same recipe (784-256-256-10 ReLU, Adam, one-cycle 2e-3, batch 128, 6 epochs).
        seconds, model = references.torch_train(X, y, [784, *config.hidden, 10], epochs=config.epochs,
                                                batch_size=128, lr=config.lr, seed=seed, schedule="onecycle")
        acc = references.torch_accuracy(model, Xt, yt)
        rows["pytorch"].append({"seed": seed, "seconds": seconds, "test_accuracy": acc, "reached": acc >= 0.98,
                                "recipe": "same as digitnet's default"})
        # scikit-learn: Adam 1e-3, batch 128, (256, 256), until 98% on the test set or 10 epochs.
        seconds, clf = references.sklearn_train(X, y, config.hidden, epochs=10, batch_size=128, lr=1e-3, seed=seed,
                                                eval_fn=lambda c: c.score(Xt, yt) >= 0.98)
        acc = clf.score(Xt, yt)
        rows["scikit-learn"].append({"seed": seed, "seconds": seconds, "test_accuracy": acc, "reached": acc >= 0.98,
                                     "recipe": "Adam 1e-3, batch 128, stopped at 98% (test) or 10 epochs"})
        print("  seed %d: " % seed + ", ".join(f"{k} {v[-1]['seconds']:.1f} s -> {v[-1]['test_accuracy'] * 100:.2f}%"
                                              for k, v in rows.items()), flush=True)
    return rows


def seed_recipe(data, repeats):
    """The tutorial's recipe: naive listing (float64), digitnet --recipe seed (float64), PyTorch (float32)."""
    X64, y = data.train.features(np.float64), data.train.labels
    runs = {"naive": [], "digitnet": [], "pytorch": []}
    same_lines = True
    for _ in range(repeats):
        seconds, naive_lines = naive_tutorial.run(datasets.embedded_dir())
        runs["naive"].append(seconds)
        seconds, ours = digitnet_seed(X64, y)
        runs["digitnet"].append(seconds)
        same_lines &= ours == naive_lines
        seconds, _ = references.torch_train(data.train.X, y, [784, 16, 16, 10], epochs=150, batch_size=len(y), lr=0.5,
                                            seed=2, activation="tanh", optimizer="sgd",
                                            step_lrs=lambda i: 0.5 if i <= 75 else 0.1)
        runs["pytorch"].append(seconds)
        print("  " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"runs_s": runs, "median_s": med, "same_15_lines": same_lines,
            "ratio_vs_naive": med["naive"] / med["digitnet"], "ratio_vs_pytorch": med["pytorch"] / med["digitnet"]}


def markdown(results: dict, env: dict) -> str:
    out = [f"# Benchmark results\n\n{env['cpu']}, {env['threads']} BLAS threads (PyTorch set to the same), "
           f"NumPy {env['numpy']}, PyTorch {env['torch']}, scikit-learn {env['sklearn']}; {env['date']}. "
           f"Medians of {env['repeats']} interleaved runs.\n"]
    if "throughput" in results:
        out.append("## Training throughput (Adam, batch 128, float32, one epoch of 60,000)\n")
        out.append("| network | digitnet | PyTorch | scikit-learn | vs PyTorch | vs scikit-learn | digitnet GFLOP/s | % of GEMM peak |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["throughput"]:
            s = r["samples_per_s"]
            out.append(f"| {r['network']} | {s['digitnet']:,.0f}/s | {s['pytorch']:,.0f}/s | {s['scikit-learn']:,.0f}/s | "
                       f"{r['ratio_vs_pytorch']:.2f}x | {r['ratio_vs_sklearn']:.2f}x | {r['digitnet_gflops']:.0f} | "
                       f"{r['fraction_of_peak'] * 100:.0f}% of {r['gemm_peak_gflops']:.0f} |")
    if "time_to_98" in results:
        out.append("\n## Time to 98% test accuracy (training seconds; digitnet runs its fixed schedule)\n")
        out.append("| seed | digitnet default | PyTorch (same recipe) | scikit-learn (until 98%) |")
        out.append("|---|---:|---:|---:|")
        rows = results["time_to_98"]
        for i in range(len(rows["digitnet"])):
            cells = [f"{rows[k][i]['seconds']:.1f} s → {rows[k][i]['test_accuracy'] * 100:.2f}%" for k in ("digitnet", "pytorch", "scikit-learn")]
            out.append(f"| {i} | " + " | ".join(cells) + " |")
    if "seed" in results:
        s = results["seed"]
        m = s["median_s"]
        out.append("\n## The tutorial's recipe (150 full-batch iterations of 784-16-16-10 tanh)\n")
        out.append("| naive listing (float64) | digitnet --recipe seed (float64) | PyTorch (float32) | vs naive | vs PyTorch | same 15 lines |")
        out.append("|---:|---:|---:|---:|---:|---|")
        out.append(f"| {m['naive']:.2f} s | {m['digitnet']:.2f} s | {m['pytorch']:.2f} s | {s['ratio_vs_naive']:.2f}x | "
                   f"{s['ratio_vs_pytorch']:.2f}x | {'yes' if s['same_15_lines'] else 'NO'} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="throughput,time_to_98,seed", help="comma-separated sections")
    args = parser.parse_args()
    import sklearn
    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    env = {"cpu": platform.processor() or platform.machine(), "threads": threads, "numpy": np.__version__,
           "torch": torch.__version__, "sklearn": sklearn.__version__, "repeats": args.repeats,
           "date": time.strftime("%Y-%m-%d")}
    try:
        env["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    data = datasets.load("mnist")
    sections = {"throughput": throughput, "time_to_98": time_to_98, "seed": seed_recipe}
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name in args.only.split(","):
        print(f"{name}:", flush=True)
        results[name] = sections[name](data, args.repeats)
        (RESULTS / f"{name}.json").write_text(json.dumps({"env": env, "results": results[name]}, indent=2) + "\n")
    table = markdown(results, env)
    (RESULTS / "README.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
