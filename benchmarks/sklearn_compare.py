"""digitnet's scikit-learn estimator against scikit-learn's own MLPClassifier: accuracy and fit time.

    python benchmarks/sklearn_compare.py [--seeds 0,1,2]

The same arguments for both (Adam, lr 1e-3, batch 'auto' = min(200, n), alpha 1e-4, tol 1e-4,
n_iter_no_change 10, max_iter 200, 100 ReLU units) on scikit-learn's small data sets — digits
(8x8), iris, breast cancer, wine — standardized, with a stratified 25% test split per seed; and
on MNIST (784-256-10, 10 epochs, batch 128, pixels / 255, MNIST's own test set). Both are given
the same float64 data (digitnet's estimator also runs in float32: a third column). Runs are
interleaved per seed; medians are reported. Writes benchmarks/results/sklearn.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, reexec_natural

reexec_natural()  # before NumPy loads: the BLAS kernel users' machines get

from sklearn import datasets as skdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import digitnet
from digitnet.app.sklearn import DigitnetClassifier

SMALL = {"digits (8x8)": skdata.load_digits, "iris": skdata.load_iris, "breast cancer": skdata.load_breast_cancer,
         "wine": skdata.load_wine}
ESTIMATORS = {"scikit-learn MLPClassifier": lambda **kw: MLPClassifier(**kw),
              "digitnet (float64)": lambda **kw: DigitnetClassifier(**kw),
              "digitnet (float32)": lambda **kw: DigitnetClassifier(**kw, dtype="float32")}


def splits(seed: int):
    for name, load in SMALL.items():
        X, y = load(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
        scaler = StandardScaler().fit(X_train)
        yield name, scaler.transform(X_train), y_train, scaler.transform(X_test), y_test, {"hidden_layer_sizes": (100,)}
    train, test = digitnet.data.datasets.load("mnist")
    yield ("MNIST", train.features("float64"), train.labels, test.features("float64"), test.labels,
           {"hidden_layer_sizes": (256,), "batch_size": 128, "max_iter": 10})


def measure(seeds) -> dict:
    results: dict = {}
    for seed in seeds:
        for name, X, y, X_test, y_test, params in splits(seed):
            for label, make in ESTIMATORS.items():
                clf = make(random_state=seed, **params)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    clf.fit(X, y)
                    seconds = time.perf_counter() - start
                row = results.setdefault(name, {}).setdefault(label, {"accuracy": [], "seconds": [], "epochs": []})
                row["accuracy"].append(float(clf.score(X_test, y_test)))
                row["seconds"].append(seconds)
                row["epochs"].append(int(clf.n_iter_))
    return results


def table(results: dict) -> str:
    lines = ["| data set | estimator | test accuracy (median) | fit time (median) | epochs | time vs scikit-learn |",
             "|---|---|---|---|---|---|"]
    for name, rows in results.items():
        reference = statistics.median(rows["scikit-learn MLPClassifier"]["seconds"])
        for label, row in rows.items():
            t = statistics.median(row["seconds"])
            lines.append(f"| {name} | {label} | {statistics.median(row['accuracy']) * 100:.2f}% | {t:.2f} s | "
                         f"{statistics.median(row['epochs']):.0f} | {reference / t:.2f}x faster |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    results = measure(seeds)
    out = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "seeds": seeds, "results": results}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sklearn.json").write_text(json.dumps(out, indent=1))
    text = table(results)
    (HERE / "results" / "sklearn.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
