"""digitnet against PyTorch (CPU) and scikit-learn on the same CPU and the same work: ``make bench``.

    python benchmarks/run.py [--repeats 3] [--only throughput,default,seed,kernels,serving,time_to_98]

Sections: ``throughput`` (samples/s of Adam at batch 128 beside PyTorch and scikit-learn, and the share of
the roofline that the step's own matrix products set, measured alone in the same run), ``default`` (the default
recipe's training time and accuracy, compiled kernels against the NumPy reference path), ``seed`` (the
tutorial's recipe against the naive listing and PyTorch), ``kernels`` (what numba's first compilation costs
once, and a cached start after it), ``serving`` (JSON predictions/s with 16 clients and 2 server workers, and
the server's time for each reading while a stroke is drawn), ``time_to_98``.

Every measurement runs in a fresh Python process (one framework's idle threads
never steal time from the next), with the same environment for all: the BLAS
thread count, PyTorch set to the same, and ``OPENBLAS_THREAD_TIMEOUT`` as digitnet
sets it on import (it only helps the NumPy-based scikit-learn too). Runs are
interleaved (digitnet, then the references, then again), so a noisy neighbour
hurts all of them alike; medians are reported, and ratios come from the same
run. Writes benchmarks/results/<section>.json and benchmarks/results/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ENV = {"OPENBLAS_THREAD_TIMEOUT": "16"}
CORES_ENV = "DIGITNET_BENCH_CORES"  # set by --cores: each measurement process pins itself to that many cores
# Some machines force OpenBLAS onto an older kernel (e.g. Haswell's AVX2 on an AVX-512 CPU) through
# these; users' machines do not, so measurement processes run without them (never tests or CI).
FORCED_KERNEL = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def natural_env() -> dict:
    """The environment of a measurement process: this one's, less the forced BLAS kernel, plus ENV."""
    return {**{k: v for k, v in os.environ.items() if k not in FORCED_KERNEL}, **ENV}


def reexec_natural() -> None:
    """Restart this script without the forced BLAS kernel, if it was started with it."""
    if any(k in os.environ for k in FORCED_KERNEL):
        os.execve(sys.executable, [sys.executable, *sys.argv], natural_env())


def wait_until_serving(url: str, seconds: float = 60) -> bool:
    """Poll ``url``/healthz until it answers 200 (True) or ``seconds`` pass (False)."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False


def machine() -> dict:
    """What a result was measured on: CPU model and flags, the BLAS and its kernel, library versions."""
    import numpy as np
    from threadpoolctl import threadpool_info

    from digitnet.machine import cpu_info

    cpu = cpu_info()
    flags = set(cpu.get("flags", "").split())
    blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer")}
            for i in threadpool_info() if i["user_api"] == "blas"]
    return {"cpu": cpu.get("model name", platform.processor()), "cores": len(os.sched_getaffinity(0)),
            "simd": sorted(f for f in flags if f.startswith(("avx", "fma", "sse4"))), "blas": blas,
            "forced_kernel_env_unset": [k for k in FORCED_KERNEL if k in os.environ],
            "python": platform.python_version(), "numpy": np.__version__}


# ---- one measurement, in a fresh process: python run.py --job '{"kind": ..., ...}' ----

def _timed(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def gemm_peak(repeats: int = 7) -> float:
    """float32 GFLOP/s of a 2048x2048 NumPy matmul (best of ``repeats``)."""
    import numpy as np

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * 2048**3 / best / 1e9


def train_flops_per_sample(sizes) -> int:
    """Multiply-adds x2 of one forward and backward pass (no input gradient for the first layer)."""
    products = [a * b for a, b in zip(sizes, sizes[1:])]
    return 2 * (3 * sum(products) - products[0])


def products_gflops(sizes, batch: int = 128, steps: int = 60) -> float:
    """GFLOP/s of one training step's matrix products alone, in a loop: the same shapes, memory layouts and
    NumPy calls as digitnet's Dense layers (Yᵀ = Wᵀ Xᵀ forward; dWᵀ = dYᵀ X and dXᵀ = W dYᵀ backward), nothing
    else. The roofline of the step: what it would reach if everything but the products took no time."""
    import numpy as np

    rng = np.random.default_rng(0)
    W = [np.asfortranarray(rng.standard_normal((a, b), dtype=np.float32)) for a, b in itertools.pairwise(sizes)]
    x = rng.random((batch, sizes[0]), dtype=np.float32)
    yT = [np.empty((b, batch), np.float32) for b in sizes[1:]]
    dyT = [rng.standard_normal((b, batch), dtype=np.float32) for b in sizes[1:]]
    dWT = [np.empty((b, a), np.float32) for a, b in itertools.pairwise(sizes)]
    dxT = [np.empty((a, batch), np.float32) for a in sizes[1:-1]]

    def step():
        inputs = [x] + [y.T for y in yT[:-1]]
        for w, inp, out in zip(W, inputs, yT):
            np.matmul(w.T, inp.T, out=out)
        for layer in reversed(range(len(W))):
            np.matmul(dyT[layer], inputs[layer], out=dWT[layer])
            if layer:
                np.matmul(W[layer], dyT[layer], out=dxT[layer - 1])

    for _ in range(10):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return train_flops_per_sample(sizes) * batch / statistics.median(times) / 1e9


def kernel_status() -> dict:
    from digitnet import compiled

    return {"kernels": compiled.status()}


def job(spec: dict) -> dict:
    """Run one measurement described by ``spec`` in this process; returns its result."""
    import numpy as np
    from threadpoolctl import threadpool_info

    sys.path.insert(0, str(HERE))
    import references
    from digitnet.data import datasets

    threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)
    kind, who, seed = spec["kind"], spec.get("who"), spec.get("seed", 0)
    if who == "pytorch":
        import torch

        torch.set_num_threads(threads)
    if kind == "env":
        import sklearn
        import torch

        return {"threads": threads, **machine(), "torch": torch.__version__, "sklearn": sklearn.__version__,
                "gemm_peak_gflops": gemm_peak(), **kernel_status()}
    if kind == "products":
        return {"gflops": products_gflops(spec["sizes"])}
    if kind in SPECIAL_JOBS:
        return SPECIAL_JOBS[kind](spec)
    data = datasets.load("mnist")
    X, y, Xt, yt = data.train.features(), data.train.labels, data.test.features(), data.test.labels
    if kind == "throughput":  # samples/s of Adam at batch 128, float32: the second epoch (the first warms up)
        sizes, epochs = spec["sizes"], []
        if who == "digitnet":
            from digitnet import MLP, Adam, fit
            from digitnet.nn.schedules import Constant

            history = fit(MLP(sizes, "relu", rng=seed), Adam(Constant(1e-3)), X, y, epochs=2, batch_size=128,
                          rng=np.random.default_rng(seed))
            epochs = [history["seconds"][0], history["seconds"][1] - history["seconds"][0]]
        elif who == "pytorch":
            references.torch_train(X, y, sizes, epochs=2, batch_size=128, lr=1e-3, seed=seed, per_epoch=epochs)
        else:
            references.sklearn_train(X, y, tuple(sizes[1:-1]), epochs=2, batch_size=128, lr=1e-3, seed=seed,
                                     per_epoch=epochs)
        return {"samples_per_s": len(X) / epochs[1], "first_epoch_samples_per_s": len(X) / epochs[0],
                **(kernel_status() if who == "digitnet" else {})}
    if kind == "scaling":  # samples/s of Adam on ``rows`` rows, float32: the second of two epochs; peak memory
        import resource

        sizes, batch, rows = spec["sizes"], spec["batch"], spec["rows"]
        Xs, ys = np.ascontiguousarray(X[:rows]), y[:rows]
        if who == "pytorch":
            import torch  # (its own memory is part of the baseline, as NumPy's is)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        epochs = []
        if who == "digitnet":
            from digitnet import MLP, Adam, fit
            from digitnet.nn.schedules import Constant

            history = fit(MLP(sizes, "relu", rng=seed), Adam(Constant(1e-3)), Xs, ys, epochs=2, batch_size=batch,
                          rng=np.random.default_rng(seed))
            epochs = [history["seconds"][0], history["seconds"][1] - history["seconds"][0]]
        else:
            references.torch_train(Xs, ys, sizes, epochs=2, batch_size=batch, lr=1e-3, seed=seed, per_epoch=epochs)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"samples_per_s": rows / epochs[1], "peak_mib": after / 1024, "extra_peak_mib": (after - before) / 1024}
    if kind == "time_to_98":
        from digitnet.run.recipes import RECIPES, train

        # the default recipe's network and schedule on MNIST alone, one view: the same work as the references
        # (the default itself also learns non-digits and made-up digits, reads two views and calibrates)
        config = mnist_only(RECIPES["default"])
        if who == "digitnet":  # its fixed schedule, no peeking at the test set
            result = train(config.updated(seed=seed), data)
            seconds, acc = result.history.last["seconds"], result.metadata["test_accuracy"]
        elif who == "pytorch":  # the same recipe: 784-256-256-10 ReLU, Adam, one-cycle, the same batch and epochs
            seconds, model = references.torch_train(X, y, [784, *config.hidden, 10], epochs=config.epochs,
                                                    batch_size=config.batch_size, lr=config.lr, seed=seed,
                                                    schedule="onecycle")
            acc = references.torch_accuracy(model, Xt, yt)
        else:  # Adam 1e-3, batch 128, (256, 256), until 98% on the test set or 10 epochs
            seconds, clf = references.sklearn_train(X, y, config.hidden, epochs=10, batch_size=128, lr=1e-3, seed=seed,
                                                    eval_fn=lambda c: c.score(Xt, yt) >= 0.98)
            acc = clf.score(Xt, yt)
        return {"seconds": seconds, "test_accuracy": float(acc)}
    if kind == "seed":  # the tutorial's 150 full-batch iterations
        if who == "naive":
            import naive_tutorial

            seconds, lines = naive_tutorial.run(datasets.embedded_dir())
        elif who == "digitnet":
            seconds, lines = digitnet_seed(data.train.features(np.float64), data.train.labels)
        else:
            seconds, _ = references.torch_train(data.train.features(np.float64), y, [784, 16, 16, 10], epochs=150,
                                                batch_size=len(y), lr=0.5, seed=2, activation="tanh", optimizer="sgd",
                                                step_lrs=lambda i: 0.5 if i <= 75 else 0.1, dtype="float64")
            lines = None
        return {"seconds": seconds, "lines": lines}
    raise ValueError(f"unknown job {spec}")


def digitnet_seed(X, y):
    """The seed recipe's model and optimizer, timed around fit() (its input blocking included)."""
    from digitnet import fit, tutorial_cost
    from digitnet.run.recipes import RECIPES, build

    config = RECIPES["seed"]
    model, optimizer = build(config, 784, 10, steps_per_epoch=1)
    start = time.perf_counter()
    history = fit(model, optimizer, X, y, epochs=config.epochs, batch_size=None, log_every=config.log_every,
                  batch_metrics={"cost": tutorial_cost})
    seconds = time.perf_counter() - start
    lines = ["Cost after iteration %i: %f Accuracy: %f" % (r["epoch"], r["cost"], r["accuracy"] * 100)
             for r in history.records]
    return seconds, lines


def run_job(env: dict | None = None, **spec) -> dict:
    """``job(spec)`` in a fresh Python process, in the machine's natural BLAS configuration (plus ``env``)."""
    done = subprocess.run([sys.executable, __file__, "--job", json.dumps(spec)], env={**natural_env(), **(env or {})},
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"benchmark job {spec} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


# ---- the sections ----

def throughput(env, repeats):
    """Samples/s of Adam at batch 128, float32, same network in each framework (second epoch of two)."""
    rows = []
    peak = env["gemm_peak_gflops"]
    for sizes in ([784, 256, 256, 10], [784, 1024, 1024, 10]):
        runs = {"digitnet": [], "pytorch": [], "scikit-learn": []}
        cold = {who: [] for who in runs}  # the first epoch, warm-up included
        products = []  # the step's products alone, GFLOP/s: its roofline, measured between the runs
        for r in range(repeats):
            for who, values in runs.items():
                result = run_job(kind="throughput", who=who, sizes=sizes, seed=r)
                values.append(result["samples_per_s"])
                cold[who].append(result["first_epoch_samples_per_s"])
            products.append(run_job(kind="products", sizes=sizes)["gflops"])
            print(f"  {'-'.join(map(str, sizes))} run {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in runs.items())
                  + f", products alone {products[-1]:.0f} GFLOP/s", flush=True)
        med = {k: statistics.median(v) for k, v in runs.items()}
        gflops = med["digitnet"] * train_flops_per_sample(sizes) / 1e9
        roofline = statistics.median(products)
        med_cold = {k: statistics.median(v) for k, v in cold.items()}
        rows.append({"network": "-".join(map(str, sizes)), "samples_per_s": med, "runs": runs,
                     "first_epoch_samples_per_s": med_cold, "first_epoch_runs": cold,
                     "first_epoch_ratio_vs_pytorch": med_cold["digitnet"] / med_cold["pytorch"],
                     "ratio_vs_pytorch": med["digitnet"] / med["pytorch"],
                     "ratio_vs_sklearn": med["digitnet"] / med["scikit-learn"],
                     "ratios_vs_pytorch_per_run": [d / p for d, p in zip(runs["digitnet"], runs["pytorch"])],
                     "digitnet_gflops": gflops, "gemm_peak_gflops": peak, "fraction_of_peak": gflops / peak,
                     "products_gflops": roofline, "products_runs": products, "fraction_of_roofline": gflops / roofline,
                     "fractions_of_roofline_per_run": [d * train_flops_per_sample(sizes) / 1e9 / g
                                                       for d, g in zip(runs["digitnet"], products)]})
    return rows


def mnist_only(config):
    """A recipe on MNIST's training set alone, one view, no validation split: what PyTorch runs beside it."""
    return config.updated(synthetic_digits=0, outliers=0, deskew="off", validation=0.0, augmented_copies=0,
                          low_resolution=0, restyled_digits=0)


RECIPE_NOTES = {"pytorch": "the same as digitnet's (the default's network and schedule on MNIST alone)",
                "scikit-learn": "Adam 1e-3, batch 128, stopped at 98% (test) or 10 epochs"}


def time_to_98(env, repeats):
    """digitnet's default recipe for its fixed schedule vs the references trained until they reach 98%."""
    rows = {"digitnet": [], "pytorch": [], "scikit-learn": []}
    for seed in range(repeats):
        for who, values in rows.items():
            result = run_job(kind="time_to_98", who=who, seed=seed)
            values.append({"seed": seed, **result, "reached": result["test_accuracy"] >= 0.98,
                           **({"recipe": RECIPE_NOTES[who]} if who in RECIPE_NOTES else {})})
        print("  seed %d: " % seed + ", ".join(f"{k} {v[-1]['seconds']:.1f} s -> {v[-1]['test_accuracy'] * 100:.2f}%"
                                              for k, v in rows.items()), flush=True)
    return rows


def seed_recipe(env, repeats):
    """The tutorial's recipe, the same float64 work for all: naive listing, digitnet --recipe seed, PyTorch."""
    runs = {"naive": [], "digitnet": [], "pytorch": []}
    same_lines = True
    for _ in range(repeats):
        lines = {}
        for who, values in runs.items():
            result = run_job(kind="seed", who=who)
            values.append(result["seconds"])
            lines[who] = result["lines"]
        same_lines &= lines["digitnet"] == lines["naive"]
        print("  " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"runs_s": runs, "median_s": med, "same_15_lines": same_lines,
            "ratio_vs_naive": med["naive"] / med["digitnet"], "ratio_vs_pytorch": med["pytorch"] / med["digitnet"],
            "ratios_vs_naive_per_run": [n / d for n, d in zip(runs["naive"], runs["digitnet"])]}


KERNELS = {"compiled": {"DIGITNET_KERNELS": "numba"}, "reference": {"DIGITNET_KERNELS": "numpy"}}


def default_recipe(env, repeats):
    """The default recipe (``digitnet train``), seeds 0.., its training time and accuracy, with the compiled kernels
    and on the NumPy reference path (DIGITNET_KERNELS=numpy), interleaved."""
    runs = {path: [] for path in KERNELS}
    for seed in range(repeats):
        for path, values in runs.items():
            values.append({"seed": seed, **run_job(env=KERNELS[path], kind="default_recipe", seed=seed)})
        print(f"  seed {seed}: " + ", ".join(f"{k} {v[-1]['seconds']:.1f} s -> {v[-1]['test_accuracy'] * 100:.2f}%"
                                             for k, v in runs.items()), flush=True)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    return {"runs": runs, "median_s": med, "speedup": med["reference"] / med["compiled"],
            "speedups_per_seed": [b["seconds"] / a["seconds"] for a, b in zip(runs["compiled"], runs["reference"])]}


def kernels_startup(env, repeats):
    """What numba costs a process: a short training (1 epoch of 2,560 rows, 784-256-256-10, Adam, batch 128) with an
    empty compilation cache (the first run on a machine: compiles), with that cache (every run after), and on the
    reference path; interleaved, each in a fresh process."""
    import tempfile

    runs = {"first (compiles)": [], "cached": [], "reference": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            compiled = {"DIGITNET_KERNELS": "numba", "NUMBA_CACHE_DIR": cache}
            runs["first (compiles)"].append(run_job(env=compiled, kind="startup")["seconds"])
            runs["cached"].append(run_job(env=compiled, kind="startup")["seconds"])
        runs["reference"].append(run_job(env=KERNELS["reference"], kind="startup")["seconds"])
        print("  " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"runs_s": runs, "median_s": med, "compile_cost_s": med["first (compiles)"] - med["reference"],
            "cached_cost_s": med["cached"] - med["reference"]}


def serving(env, repeats):
    """JSON predictions/s (benchmarks/load.py: 16 clients, 2 server workers, 20 s; the clients share the machine)
    and the server's time for every reading while the browser's drawings are drawn (one process, one at a time)."""
    model = RESULTS / "load-model.safetensors"
    if not model.is_file():
        run_job(kind="quick_model", out=str(model))
    load = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, str(HERE / "load.py"), str(model), "--workers", "2", "--clients", "16",
                               "--seconds", "20"], env=natural_env(), capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"benchmarks/load.py failed:\n{done.stderr}")
        load.append(json.loads((RESULTS / "load-json.json").read_text())[0])
        strokes = run_job(kind="stroke", model=str(model))
        print(f"  JSON {load[-1]['requests_per_s']:,.0f} requests/s (p50 {load[-1]['p50_ms']:.1f} ms); stroke readings: "
              f"first of a stroke max {strokes['first_max_ms']:.1f} ms, any max {strokes['max_ms']:.1f} ms", flush=True)
        load[-1]["strokes"] = strokes
    return {"runs": load, "median_requests_per_s": statistics.median(r["requests_per_s"] for r in load),
            "median_first_reading_max_ms": statistics.median(r["strokes"]["first_max_ms"] for r in load),
            "median_reading_max_ms": statistics.median(r["strokes"]["max_ms"] for r in load),
            "median_reading_p50_ms": statistics.median(r["strokes"]["p50_ms"] for r in load)}


# ---- jobs the sections above run in fresh processes (job() dispatches them) ----

def default_recipe_job(spec):
    from digitnet.data import datasets
    from digitnet.run.recipes import RECIPES, train

    result = train(RECIPES["default"].updated(seed=spec.get("seed", 0)), datasets.load("mnist"))
    return {"seconds": result.metadata["train_seconds"], "test_accuracy": result.metadata["test_accuracy"],
            "validation_accuracy": result.history.last.get("val_accuracy"), **kernel_status()}


def startup_job(spec):
    from digitnet import MLP, Adam, fit
    from digitnet.data import datasets

    split = datasets.load("mnist").train
    X, y = split.features()[:2560], split.labels[:2560]
    start = time.perf_counter()
    fit(MLP([784, 256, 256, 10], "relu"), Adam(1e-3), X, y, epochs=1, batch_size=128)
    return {"seconds": time.perf_counter() - start, **kernel_status()}


def quick_model_job(spec):
    """The model benchmarks/load.py trains when given none: the default recipe's network, one epoch of MNIST."""
    from digitnet import save_model
    from digitnet.data import datasets
    from digitnet.run.recipes import RECIPES, train

    config = RECIPES["default"].updated(epochs=1, outliers=0, synthetic_digits=0, augmented_copies=0, low_resolution=0,
                                        restyled_digits=0)
    result = train(config, datasets.load("mnist"))
    save_model(spec["out"], result.model, result.model.metadata)
    return {"test_accuracy": result.metadata["test_accuracy"]}


def stroke_bodies(step: float = 6.0):
    """(name, point, BMP bytes): every reading the page could send while drawing tests/drawings.py's 35 drawings on
    its 280 px pad (brush 280/13 px, round), the pen moved ``step`` px at a time along each stroke, read after each
    move; ``point`` is the move's number in its stroke (the first ones, a dot growing into a short thick line, are
    where the stroke step used to take longest)."""
    import io

    from PIL import Image, ImageDraw

    sys.path.insert(0, str(HERE.parent / "tests"))
    from drawings import drawings

    side, brush = 280, 280 / 13
    out = []
    for name, strokes in drawings():
        pad = Image.new("L", (side, side), 255)
        pen = ImageDraw.Draw(pad)
        for stroke in strokes:
            points = [(x * side, y * side) for x, y in stroke]
            path = points[:1]
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                moves = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
                path += [(x0 + (x1 - x0) * i / moves, y0 + (y1 - y0) * i / moves) for i in range(1, moves + 1)]
            previous = None
            for k, (x, y) in enumerate(path, 1):
                if previous is not None:
                    pen.line([previous, (x, y)], fill=0, width=round(brush))
                pen.ellipse((x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2), fill=0)
                previous = (x, y)
                buffer = io.BytesIO()
                pad.save(buffer, format="BMP")
                out.append((name, k, buffer.getvalue()))
    return out


def stroke_job(spec):
    """The server's time for each reading while drawing: decoding the page's BMP and reading it (what POST
    /api/predict's worker thread does with an image body), in ms."""
    import numpy as np

    from digitnet import load_model
    from digitnet.reading.preprocess import open_image
    from digitnet.reading.verdict import read

    model = load_model(spec["model"])
    bodies = stroke_bodies()
    read(model, open_image(bodies[0][2]))  # the first request of a served model
    ms, cpu, first = [], [], []
    for _name, point, body in bodies:
        start, started = time.perf_counter(), time.thread_time()
        read(model, open_image(body, "body"), name="body")
        ms.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - started) * 1000)  # what the reading itself took of a core: less noisy
        if point <= 10:  # a stroke's first 60 px
            first.append(ms[-1])
    slowest = int(np.argmax(ms))
    return {"readings": len(ms), "p50_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": max(ms), "slowest": f"{bodies[slowest][0]}, point {bodies[slowest][1]}",
            "cpu_p50_ms": float(np.median(cpu)), "cpu_max_ms": max(cpu),
            "first_readings": len(first), "first_p50_ms": float(np.median(first)), "first_max_ms": max(first)}


SPECIAL_JOBS = {"default_recipe": default_recipe_job, "startup": startup_job, "quick_model": quick_model_job,
                "stroke": stroke_job}


def markdown(results: dict, env: dict, earlier: dict | None = None) -> str:
    """The results as Markdown; ``earlier``: {section: date} for sections kept from an earlier run."""
    earlier = earlier or {}

    def when(name):
        return f" (kept from the run of {earlier[name]})" if name in earlier else ""

    out = [f"# Benchmark results\n\n{env['cpu']}, {env['threads']} BLAS threads (PyTorch set to the same), "
           f"NumPy {env['numpy']}, PyTorch {env['torch']}, scikit-learn {env['sklearn']}; {env['date']}. "
           f"Medians of {env['repeats']} interleaved runs, each in a fresh process with "
           + ", ".join(f"{k}={v}" for k, v in env["environment"].items()) + f"; digitnet's kernels: {env.get('kernels', '?')}"
           + (f"; load average (1, 5, 15 min) {', '.join(f'{x:.1f}' for x in env['load_before'])} before, "
              f"{', '.join(f'{x:.1f}' for x in env['load_after'])} after" if "load_after" in env else "") + ".\n"]
    if "throughput" in results:
        out.append("## Training throughput (Adam, batch 128, float32; the second epoch of 60,000, after one to warm up)"
                   + when("throughput") + "\n")
        out.append("| network | digitnet | PyTorch | scikit-learn | vs PyTorch | vs scikit-learn | digitnet GFLOP/s | "
                   "% of the step's products alone (roofline) | % of GEMM peak |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in results["throughput"]:
            s = r["samples_per_s"]
            roof = (f"{r['fraction_of_roofline'] * 100:.0f}% of {r['products_gflops']:.0f}" if "products_gflops" in r
                    else "—")
            out.append(f"| {r['network']} | {s['digitnet']:,.0f}/s | {s['pytorch']:,.0f}/s | {s['scikit-learn']:,.0f}/s | "
                       f"{r['ratio_vs_pytorch']:.2f}x | {r['ratio_vs_sklearn']:.2f}x | {r['digitnet_gflops']:.0f} | {roof} | "
                       f"{r['fraction_of_peak'] * 100:.0f}% of {r['gemm_peak_gflops']:.0f} |")
        out.append("\nPer run (interleaved, in order): vs PyTorch "
                   + "; ".join(f"{r['network']} " + ", ".join(f"{x:.2f}x" for x in r["ratios_vs_pytorch_per_run"])
                               for r in results["throughput"]) + ".")
        out.append("\nThe first epoch, warm-up included (what a one-epoch run sees):\n")
        out.append("| network | digitnet | PyTorch | scikit-learn | vs PyTorch |")
        out.append("|---|---:|---:|---:|---:|")
        for r in results["throughput"]:
            s = r["first_epoch_samples_per_s"]
            out.append(f"| {r['network']} | {s['digitnet']:,.0f}/s | {s['pytorch']:,.0f}/s | {s['scikit-learn']:,.0f}/s | "
                       f"{r['first_epoch_ratio_vs_pytorch']:.2f}x |")
    if "time_to_98" in results:
        out.append("\n## Time to 98% test accuracy (training seconds; digitnet runs its fixed schedule)"
                   + when("time_to_98") + "\n")
        out.append("The default recipe's network and schedule on MNIST alone, one view, for both digitnet and PyTorch.\n")
        out.append("| seed | digitnet | PyTorch (same recipe) | scikit-learn (until 98%) |")
        out.append("|---|---:|---:|---:|")
        rows = results["time_to_98"]
        for i in range(len(rows["digitnet"])):
            cells = [f"{rows[k][i]['seconds']:.1f} s → {rows[k][i]['test_accuracy'] * 100:.2f}%"
                     for k in ("digitnet", "pytorch", "scikit-learn")]
            out.append(f"| {i} | " + " | ".join(cells) + " |")
    if "default" in results:
        d = results["default"]
        out.append("\n## The default recipe (`digitnet train`): training time and accuracy, compiled kernels and the NumPy "
                   "reference path (DIGITNET_KERNELS=numpy)" + when("default") + "\n")
        out.append("| seed | compiled kernels | NumPy reference | speed-up |")
        out.append("|---|---:|---:|---:|")
        for a, b in zip(d["runs"]["compiled"], d["runs"]["reference"]):
            out.append(f"| {a['seed']} | {a['seconds']:.1f} s → {a['test_accuracy'] * 100:.2f}% | "
                       f"{b['seconds']:.1f} s → {b['test_accuracy'] * 100:.2f}% | {b['seconds'] / a['seconds']:.2f}x |")
        out.append(f"\nMedians: {d['median_s']['compiled']:.1f} s and {d['median_s']['reference']:.1f} s ({d['speedup']:.2f}x).")
    if "kernels" in results:
        k = results["kernels"]
        m = k["median_s"]
        out.append("\n## What numba costs a process (1 epoch of 2,560 rows, 784-256-256-10)" + when("kernels") + "\n")
        out.append("| first run (compiles) | cached | NumPy reference | compilation, once | a cached start |")
        out.append("|---:|---:|---:|---:|---:|")
        out.append(f"| {m['first (compiles)']:.2f} s | {m['cached']:.2f} s | {m['reference']:.2f} s | "
                   f"{k['compile_cost_s']:+.2f} s | {k['cached_cost_s']:+.2f} s |")
    if "serving" in results:
        v = results["serving"]
        out.append("\n## Serving (`benchmarks/load.py`: 16 clients, 2 workers, 20 s; the server's time per reading while "
                   "drawing)" + when("serving") + "\n")
        out.append("| JSON predictions/s | p50 latency | a stroke's first readings, slowest | any reading while drawing: "
                   "median, p99, slowest |")
        out.append("|---:|---:|---:|---:|")
        for r in v["runs"]:
            t = r["strokes"]
            out.append(f"| {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} ms | {t['first_max_ms']:.1f} ms | "
                       f"{t['p50_ms']:.1f}, {t['p99_ms']:.1f}, {t['max_ms']:.1f} ms ({t['slowest']}) |")
    if "seed" in results:
        s = results["seed"]
        m = s["median_s"]
        out.append("\n## The tutorial's recipe (150 full-batch iterations of 784-16-16-10 tanh)" + when("seed") + "\n")
        out.append("| naive listing (float64) | digitnet --recipe seed (float64) | PyTorch (float64) | vs naive | vs PyTorch | "
                   "same 15 lines |")
        out.append("|---:|---:|---:|---:|---:|---|")
        out.append(f"| {m['naive']:.2f} s | {m['digitnet']:.2f} s | {m['pytorch']:.2f} s | {s['ratio_vs_naive']:.2f}x | "
                   f"{s['ratio_vs_pytorch']:.2f}x | {'yes' if s['same_15_lines'] else 'NO'} |")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="throughput,default,seed,kernels,serving,time_to_98",
                        help="comma-separated sections")
    parser.add_argument("--cores", type=int, help="pin every measurement process to this many cores (the last ones): "
                        "1 keeps the figures of a machine shared with other work comparable (results/*-Ncore.*)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        if os.environ.get(CORES_ENV):  # before NumPy loads: the BLAS and PyTorch size their thread pools from it
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-int(os.environ[CORES_ENV]):])
        print(json.dumps(job(json.loads(args.job))))
        return
    if args.cores:
        ENV[CORES_ENV] = str(args.cores)
    suffix = f"-{args.cores}core" if args.cores else ""
    env = {"cpu": platform.processor() or platform.machine(), **run_job(kind="env"), "repeats": args.repeats,
           "date": time.strftime("%Y-%m-%d"), "environment": ENV, "load_before": os.getloadavg()}
    try:
        env["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                          if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    sections = {"throughput": throughput, "default": default_recipe, "seed": seed_recipe, "kernels": kernels_startup,
                "serving": serving, "time_to_98": time_to_98}
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name in args.only.split(","):
        print(f"{name}:", flush=True)
        results[name] = sections[name](env, args.repeats)
        env["load_after"] = os.getloadavg()
        (RESULTS / f"{name}{suffix}.json").write_text(json.dumps({"env": env, "results": results[name]}, indent=2) + "\n")
    earlier = {}  # sections not run now: their last results, with the date they were measured
    for name in sections:
        saved = RESULTS / f"{name}{suffix}.json"
        if name not in results and saved.is_file():
            data = json.loads(saved.read_text())
            results[name], earlier[name] = data["results"], data["env"].get("date", "an earlier run")
    table = markdown({k: results[k] for k in sections if k in results}, env, earlier)
    (RESULTS / f"README{suffix}.md").write_text(table)
    print("\n" + table)


if __name__ == "__main__":
    main()
