"""Choosing the default recipe's width and batch size by measurement.

    python benchmarks/sweep.py

For each (hidden width, batch size, epochs) runs the default recipe's schedule
(Adam, one-cycle, 2 hidden ReLU layers) on 54,000 training images, 2 seeds, and
reports training seconds and accuracy on the 6,000 held-out validation images —
never the test set. The default is the fastest setting whose validation accuracy
is >= 98.0% for both seeds. Writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from digitnet.data import datasets
from digitnet.run.recipes import RECIPES, train

GRID = [(w, b, e) for w in (128, 256, 512) for b in (64, 128, 256) for e in (4, 6)]


def main():
    data = datasets.load("mnist")
    rows = []
    for width, batch, epochs in GRID:
        runs = []
        for seed in (0, 1):
            config = RECIPES["default"].updated(hidden=[width, width], batch_size=batch, epochs=epochs, seed=seed,
                                                validation=0.1)
            result = train(config, data)
            runs.append((result.history.last["seconds"], result.history.last["val_accuracy"]))
        row = {"width": width, "batch": batch, "epochs": epochs, "seconds": max(s for s, _ in runs),
               "val_accuracy": [a for _, a in runs], "ok": all(a >= 0.98 for _, a in runs)}
        rows.append(row)
        print(f"{width:4d} wide, batch {batch:3d}, {epochs} epochs: {row['seconds']:5.1f} s, "
              f"val {', '.join(f'{a * 100:.2f}%' for a in row['val_accuracy'])} {'ok' if row['ok'] else ''}", flush=True)
    good = [r for r in rows if r["ok"]]
    best = min(good, key=lambda r: r["seconds"]) if good else None
    print(f"fastest to >= 98.0% validation accuracy (both seeds): {best}")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sweep.json").write_text(json.dumps({"rows": rows, "chosen": best}, indent=2) + "\n")


if __name__ == "__main__":
    main()
