"""How throughput scales: digitnet and PyTorch as the width grows and as the batch grows.

    python benchmarks/scaling.py [--repeats 3]

784-W-W-10 ReLU networks, Adam, float32, on MNIST rows: W from 64 to 4096 at batch 128,
and batch sizes from 32 to 1024 at W = 1024. Each measurement is the second of two epochs
over enough rows for about a second of work (the first warms up), in a fresh process in
the machine's natural BLAS configuration, interleaved, medians of ``--repeats``. Peak
memory is the process's peak resident set, and what training added to it. Writes
benchmarks/results/scaling.json and .md, and docs/scaling.png.
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
from run import RESULTS, run_job, train_flops_per_sample

WIDTHS = (64, 128, 256, 512, 1024, 2048, 4096)
BATCHES = (32, 64, 128, 256, 512, 1024)
WHO = ("digitnet", "pytorch")


def rows_for(sizes, batch: int) -> int:
    """Rows for one timed epoch of about 1.5e11 floating-point operations (~1-2 s here), whole batches,
    at least 20 of them, at most MNIST's 60,000."""
    rows = int(1.5e11 / train_flops_per_sample(sizes))
    return max(20 * batch, min(60_000, rows) // batch * batch)


def measure(points, repeats: int) -> list[dict]:
    out = []
    for sizes, batch in points:
        rows = rows_for(sizes, batch)
        runs = {who: [] for who in WHO}
        for r in range(repeats):
            for who in WHO:
                runs[who].append(run_job(kind="scaling", who=who, sizes=sizes, batch=batch, rows=rows, seed=r))
        med = {who: {key: statistics.median(run[key] for run in runs[who]) for key in runs[who][0]} for who in WHO}
        flops = train_flops_per_sample(sizes)
        row = {"width": sizes[1], "batch": batch, "rows": rows, "runs": runs,
               **{f"{who}_{key}": value for who in WHO for key, value in med[who].items()},
               **{f"{who}_gflops": med[who]["samples_per_s"] * flops / 1e9 for who in WHO},
               "ratio_vs_pytorch": med["digitnet"]["samples_per_s"] / med["pytorch"]["samples_per_s"]}
        out.append(row)
        print(f"  width {sizes[1]}, batch {batch}: digitnet {row['digitnet_samples_per_s']:,.0f}/s "
              f"({row['digitnet_gflops']:.0f} GFLOP/s), PyTorch {row['pytorch_samples_per_s']:,.0f}/s "
              f"({row['pytorch_gflops']:.0f} GFLOP/s): {row['ratio_vs_pytorch']:.2f}x", flush=True)
    return out


def table(rows: list[dict], varying: str) -> str:
    lines = [f"| {varying} | digitnet samples/s | GFLOP/s | PyTorch samples/s | GFLOP/s | digitnet vs PyTorch | "
             "peak memory digitnet / PyTorch (MiB; training's share) |", "|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r[varying]} | {r['digitnet_samples_per_s']:,.0f} | {r['digitnet_gflops']:.0f} | "
                     f"{r['pytorch_samples_per_s']:,.0f} | {r['pytorch_gflops']:.0f} | {r['ratio_vs_pytorch']:.2f}x | "
                     f"{r['digitnet_peak_mib']:,.0f} ({r['digitnet_extra_peak_mib']:,.0f}) / "
                     f"{r['pytorch_peak_mib']:,.0f} ({r['pytorch_extra_peak_mib']:,.0f}) |")
    return "\n".join(lines) + "\n"


def plot(width_rows, batch_rows, peak: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), constrained_layout=True)
    for row_axes, rows, key, label in ((axes[0], width_rows, "width", "hidden width W (784-W-W-10, batch 128)"),
                                       (axes[1], batch_rows, "batch", "batch size (784-1024-1024-10)")):
        xs = [r[key] for r in rows]
        for who, style in (("digitnet", "o-"), ("pytorch", "s--")):
            row_axes[0].plot(xs, [r[f"{who}_samples_per_s"] for r in rows], style, label=who if who == "digitnet" else "PyTorch")
            row_axes[1].plot(xs, [r[f"{who}_gflops"] for r in rows], style, label=who if who == "digitnet" else "PyTorch")
        row_axes[1].axhline(peak, color="grey", linestyle=":", label=f"NumPy float32 GEMM peak ({peak:.0f})")
        for ax, ylabel in zip(row_axes, ("samples/s", "GFLOP/s")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        row_axes[0].set_yscale("log")
    fig.suptitle("Adam training throughput, float32, 2 threads")
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = run_job(kind="env")
    print("width:", flush=True)
    width_rows = measure([([784, w, w, 10], 128) for w in WIDTHS], args.repeats)
    print("batch:", flush=True)
    batch_rows = measure([([784, 1024, 1024, 10], b) for b in BATCHES], args.repeats)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scaling.json").write_text(json.dumps({"env": env, "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
                                                      "width": width_rows, "batch": batch_rows}, indent=2) + "\n")
    text = (f"GEMM peak {env['gemm_peak_gflops']:.0f} GFLOP/s; {env['threads']} threads; medians of {args.repeats}.\n\n"
            + table(width_rows, "width") + "\n" + table(batch_rows, "batch"))
    (RESULTS / "scaling.md").write_text(text)
    plot(width_rows, batch_rows, env["gemm_peak_gflops"], HERE.parent / "docs" / "scaling.png")
    print("\n" + text)


if __name__ == "__main__":
    main()
