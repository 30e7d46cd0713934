"""Learning one person's handwriting through the real API: 30 corrections, fine-tune, measure.

    python benchmarks/personal.py [--styles fifthhorseman,femkeklaver,fifthhorseman+femkeklaver+bwht]
                                  [--held-out 30] [--seeds 0,1,2]

For each style (a handwriting font family the default model reads worst, or several joined with +,
as a person who corrects three hands on the page: 3 corrections per digit per hand), for each seed: train the default
recipe with that seed, serve it (`digitnet serve`, a fresh data directory), render 3 digits of each kind in that
hand and send each as a picture to POST /api/predict, then its prepared image with the true label
to POST /api/corrections (what the page's "Wrong? It was..." and "Right" buttons do); start POST
/api/finetune and wait for it; read held-out renders of the same hand (other random draws:
size, slant, stroke, position, polarity) with the original model and with the personal one
(POST /api/model/use). Writes benchmarks/results/personal.json and .md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, reexec_natural, wait_until_serving

reexec_natural()

import httpx
import numpy as np
from PIL import Image

from digitnet import datasets, save_model
from digitnet.run.recipes import RECIPES, train
from digitnet.synthetic import draw as synth


def png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(picture * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def render(font_files, seed: int, per_digit: int):
    rng = np.random.default_rng(seed)
    return [(synth.text(str(d), font_files[rng.integers(len(font_files))], rng), d)
            for d in range(10) for _ in range(per_digit)]


def serve(model_path: Path, home: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(model_path), "--port", str(port)],
                            env={**os.environ, "DIGITNET_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    if wait_until_serving(url):
        return proc, url
    proc.kill()
    sys.exit("the server did not start")


def read_all(client, url, items) -> dict:
    answers = [client.post(f"{url}/api/predict", files={"file": ("d.png", png(p), "image/png")}).json() for p, _ in items]
    correct = sum(a["verdict"] == "digit" and a["label"] == d for a, (_, d) in zip(answers, items))
    refused = sum(a["verdict"] != "digit" for a in answers)
    return {"n": len(items), "correct": correct, "refused": refused, "wrong": len(items) - correct - refused}


def one_style(model_path: Path, style: str, held_out: int) -> dict:
    corrections, held = [], []
    for part in style.split("+"):
        fonts = synth.handwriting_fonts()[part]
        corrections += render(fonts, 101, 3)
        held += render(fonts, 202, held_out)
    with tempfile.TemporaryDirectory() as home:
        proc, url = serve(model_path, Path(home))
        try:
            with httpx.Client(timeout=60) as client:
                before = read_all(client, url, held)
                for picture, digit in corrections:  # the page's correction buttons, through the API
                    image = client.post(f"{url}/api/predict",
                                        files={"file": ("d.png", png(picture), "image/png")}).json()["image"]
                    client.post(f"{url}/api/corrections", json={"pixels": image, "label": digit}).raise_for_status()
                started = time.perf_counter()
                client.post(f"{url}/api/finetune").raise_for_status()
                while (job := client.get(f"{url}/api/finetune").json())["state"] == "running":
                    time.sleep(0.5)
                seconds = time.perf_counter() - started
                if job["state"] != "done":
                    sys.exit(f"fine-tuning failed: {job['message']}")
                client.post(f"{url}/api/model/use", json={"model": "personal"}).raise_for_status()
                after = read_all(client, url, held)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    errors_before, errors_after = before["n"] - before["correct"], after["n"] - after["correct"]
    return {"corrections": len(corrections), "before": before, "after": after, "finetune_seconds": seconds,
            "errors_fixed": (errors_before - errors_after) / errors_before if errors_before else None,
            "mnist_test_before": job["test_accuracy_before"], "mnist_test_after": job["test_accuracy_after"]}


def table(results: dict) -> str:
    pct = lambda r: f"{r['correct'] / r['n'] * 100:.1f}% / {r['refused'] / r['n'] * 100:.1f}% / {r['wrong'] / r['n'] * 100:.1f}%"
    lines = ["| hand (font family) | seed | corrections | held-out: correct / refused / wrong, before | after | errors fixed | "
             "MNIST test before -> after (drop) | fine-tune time |", "|---|---|---|---|---|---|---|---|"]
    for key, r in results.items():
        style, seed = key.rsplit(", seed ", 1)
        drop = (r["mnist_test_before"] - r["mnist_test_after"]) * 100
        lines.append(f"| {style} | {seed} | {r['corrections']} | {pct(r['before'])} | {pct(r['after'])} | "
                     f"{r['errors_fixed'] * 100:.0f}% | "
                     f"{r['mnist_test_before'] * 100:.2f}% -> {r['mnist_test_after'] * 100:.2f}% "
                     f"({drop:+.2f}) | {r['finetune_seconds']:.0f} s |")
    drops = [(r["mnist_test_before"] - r["mnist_test_after"]) * 100 for r in results.values()]
    fixed = [r["errors_fixed"] for r in results.values() if r["errors_fixed"] is not None]
    lines += ["", f"MNIST drop: median {np.median(drops):+.2f} points, largest {max(drops):+.2f}; errors fixed: median "
              f"{np.median(fixed) * 100:.0f}%, smallest {min(fixed) * 100:.0f}%."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", default="fifthhorseman,femkeklaver,fifthhorseman+femkeklaver+bwht")
    parser.add_argument("--held-out", type=int, default=30, help="held-out renders per digit")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the default recipe, one base model each")
    args = parser.parse_args()
    mnist = datasets.load("mnist")
    results = {}
    for seed in map(int, args.seeds.split(",")):
        trained = train(RECIPES["default"].updated(seed=seed), mnist, recipe="default")
        with tempfile.TemporaryDirectory() as folder:
            model_path = save_model(Path(folder) / "default.safetensors", trained.model)
            for style in args.styles.split(","):
                results[f"{style}, seed {seed}"] = one_style(model_path, style, args.held_out)
                print(f"{style}, seed {seed}: done", flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "personal.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "results": results}, indent=2) + "\n")
    text = table(results)
    (HERE / "results" / "personal.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
