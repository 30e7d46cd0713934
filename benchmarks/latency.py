"""Live reading on the page: from a pointer event to the bars it updated, while a slow stroke is drawn.

    python benchmarks/latency.py [MODEL] [--strokes 3] [--seconds 5]

Starts ``digitnet serve`` on a free 127.0.0.1 port (the model given, or the default recipe trained here),
opens the page in Debian's headless Chromium driven by Playwright, draws one stroke to warm the page and the
server, then ``--strokes`` slow strokes of about ``--seconds`` each down the middle of the pad and back (a
mouse move every 40 ms, as a hand drawing slowly). The page reads the drawing about every 100 ms while the pen
moves (one request at a time) and records, for each reading, the time from the pointer event that started it
to the bars showing its answer (``window.latencies``). Prints p50/p95/max and writes
benchmarks/results/latency.json and .md.

The goal: p95 <= 50 ms on loopback, so the bars follow the pen. The browser tests only guard against a stall
(every reading within 5 s): timings measured while other work shares the machine are too noisy to assert.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, natural_env, reexec_natural, wait_until_serving

reexec_natural()  # before NumPy loads: the BLAS kernel users' machines get (the server inherits it)

import numpy as np

GOAL_P95_MS = 50.0
CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MOVE_S = 0.04  # seconds between mouse moves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_model(folder: Path) -> Path:
    from digitnet import datasets, save_model
    from digitnet.run.recipes import RECIPES, train

    print("training the default recipe...", flush=True)
    result = train(RECIPES["default"], datasets.load("mnist"))
    result.model.metadata["recipe"] = "default"
    return save_model(folder / "model.safetensors", result.model)


def slow_stroke(page, box, moves: int) -> None:
    """Down the middle of the pad and back, twice per 60 moves, with a little sway."""
    at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.move(*at(0.5, 0.15))
    page.mouse.down()
    for i in range(moves):
        page.mouse.move(*at(0.5 + 0.1 * math.sin(i / 5), 0.15 + 0.7 * abs(((i / 30) % 2) - 1)))
        time.sleep(MOVE_S)
    page.mouse.up()


def measure(url: str, strokes: int, seconds: float) -> tuple[list[float], list[int]]:
    """Every reading's latency (ms) over ``strokes`` slow strokes, and how many came while each pen was down."""
    from playwright.sync_api import expect, sync_playwright

    latencies, during = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900}).new_page()
        page.goto(url)
        expect(page.locator("#model-card")).to_contain_text("MLP", timeout=30_000)
        box = page.locator("#pad").bounding_box()
        slow_stroke(page, box, 20)  # warm up the page, the connection and the server
        time.sleep(0.5)
        moves = max(1, round(seconds / MOVE_S))
        for _ in range(strokes):
            page.click("#clear")
            page.evaluate("window.latencies = []; window.readingCount = 0")
            slow_stroke(page, box, moves)
            during.append(page.evaluate("window.readingCount"))
            time.sleep(1.0)  # the reading of the lifted pen comes back
            latencies += page.evaluate("window.latencies")
        browser.close()
    return latencies, during


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model file (default: train the default recipe)")
    parser.add_argument("--strokes", type=int, default=3, help="slow strokes measured")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each stroke")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else default_model(Path(tmp))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(model), "--port", str(port)],
                                  env={**natural_env(), "DIGITNET_HOME": str(Path(tmp) / "home")},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_until_serving(url):
                sys.exit("the server did not start")
            latencies, during = measure(url, args.strokes, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if not latencies:
        sys.exit("the page recorded no readings")
    ms = np.asarray(latencies)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "model": str(args.model or "default recipe"),
              "strokes": args.strokes, "seconds_per_stroke": args.seconds, "readings": len(ms),
              "readings_while_drawing": during, "p50_ms": float(np.percentile(ms, 50)),
              "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max()), "mean_ms": float(ms.mean()),
              "goal_p95_ms": GOAL_P95_MS, "goal_met": bool(np.percentile(ms, 95) <= GOAL_P95_MS),
              "latencies_ms": [round(float(v), 1) for v in latencies]}
    verdict = "met" if report["goal_met"] else "NOT met"
    print(f"{len(ms)} readings over {args.strokes} strokes ({', '.join(map(str, during))} while the pen was down): "
          f"p50 {report['p50_ms']:.1f} ms, p95 {report['p95_ms']:.1f} ms, max {report['max_ms']:.1f} ms; "
          f"goal p95 <= {GOAL_P95_MS:.0f} ms {verdict}")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "latency.json").write_text(json.dumps(report, indent=2) + "\n")
    (results / "latency.md").write_text(
        "# Live reading latency: pointer event to bars\n\n"
        f"{report['date']}, {report['machine']['cpu']} ({report['machine']['cores']} cores); headless Chromium, "
        f"`digitnet serve` (one worker) on loopback, {report['model']}. {args.strokes} slow strokes of "
        f"{args.seconds:g} s (a mouse move every {MOVE_S * 1000:.0f} ms); the page reads about every 100 ms while the "
        "pen moves, one request at a time, and once more when it lifts.\n\n"
        "| readings | p50 | p95 | max | goal: p95 <= 50 ms |\n|---:|---:|---:|---:|---|\n"
        f"| {len(ms)} | {report['p50_ms']:.1f} ms | {report['p95_ms']:.1f} ms | {report['max_ms']:.1f} ms | {verdict} |\n")


if __name__ == "__main__":
    main()
