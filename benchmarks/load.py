"""Load on the web app: 16 concurrent clients for 20 s against POST /api/predict on loopback.

    python benchmarks/load.py [MODEL] [--clients 16] [--seconds 20] [--png] [--workers 1,2]

Starts ``digitnet serve`` on a free 127.0.0.1 port, sends real MNIST test digits
(JSON pixels, or PNG uploads with --png), and prints requests/s, p50/p99 latency
and the error count for each number of server worker processes (``digitnet serve --workers N``);
writes benchmarks/results/load-json.json (or load-png.json).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import wait_until_serving


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client(url, payloads, stop_at, latencies, errors, png):
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        i = 0
        while time.perf_counter() < stop_at:
            body = payloads[i % len(payloads)]
            i += 1
            start = time.perf_counter()
            try:
                if png:
                    r = await http.post("/api/predict", files={"file": ("d.png", body, "image/png")})
                else:
                    r = await http.post("/api/predict", json=body)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            if not ok:
                errors.append(1)


async def run_load(url, payloads, clients, seconds, png):
    latencies, errors = [], []
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(client(url, payloads, stop_at, latencies, errors, png) for _ in range(clients)))
    return latencies, len(errors), time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model file (default: train a quick one)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--png", action="store_true", help="upload PNG drawings instead of JSON pixels")
    parser.add_argument("--workers", default="1,2", help="server worker processes to compare, e.g. 1,2")
    args = parser.parse_args()
    from digitnet import datasets, save_model
    from digitnet.run.recipes import RECIPES, train

    data = datasets.load("mnist")
    model = args.model
    if model is None:
        result = train(RECIPES["default"].updated(epochs=1, outliers=0, synthetic_digits=0, augmented_copies=0), data)
        model = str(HERE / "results" / "load-model.safetensors")
        save_model(model, result.model, result.model.metadata)
    if args.png:
        payloads = []
        for image in data.test.images[:64]:
            buffer = io.BytesIO()
            Image.fromarray(255 - image).resize((280, 280)).save(buffer, format="PNG")
            payloads.append(buffer.getvalue())
    else:
        payloads = [{"pixels": (image.ravel() / 255).round(4).tolist()} for image in data.test.images[:64]]
    reports = [serve_and_load(model, n, payloads, args) for n in (int(w) for w in args.workers.split(","))]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"load-{reports[0]['body']}.json").write_text(json.dumps(reports, indent=2) + "\n")


def serve_and_load(model, workers, payloads, args) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", model, "--port", str(port),
                               "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(url, 30)
        latencies, errors, elapsed = asyncio.run(run_load(url, payloads, args.clients, args.seconds, args.png))
    finally:
        server.terminate()
        server.wait(timeout=30)
    ms = np.array(latencies) * 1000
    report = {"workers": workers, "clients": args.clients, "seconds": elapsed, "requests": len(latencies),
              "errors": errors, "requests_per_s": len(latencies) / elapsed, "p50_ms": float(np.percentile(ms, 50)),
              "p99_ms": float(np.percentile(ms, 99)), "mean_ms": statistics.fmean(ms), "body": "png" if args.png else "json"}
    print(f"{workers} worker(s), {args.clients} clients, {elapsed:.1f} s, {report['body']} bodies: {len(latencies):,} "
          f"requests, {errors} errors, {report['requests_per_s']:,.0f} req/s, p50 {report['p50_ms']:.1f} ms, "
          f"p99 {report['p99_ms']:.1f} ms", flush=True)
    return report

if __name__ == "__main__":
    main()
