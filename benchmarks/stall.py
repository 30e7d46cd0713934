"""Does one big picture stall the server? /healthz latency while clients keep posting large images.

    python benchmarks/stall.py [MODEL] [--clients 4] [--seconds 15]

Starts ``digitnet serve`` on a free 127.0.0.1 port. ``--clients`` clients post, in a loop,
either a 7000x7000 RGBA PNG (208 KB; refused from its header) or a 3900x3900 PNG (decoded:
just under the 16-megapixel cap), half each; meanwhile one client asks /healthz every
20 ms. Prints p50/p99/max of /healthz and the server's peak memory (RSS); writes
benchmarks/results/stall.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from load import free_port


def png(size, mode="L", colour=255) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


async def scenario(url, bodies, clients, seconds):
    stop = time.perf_counter() + seconds
    statuses = []

    async def poster(i):
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            k = i
            while time.perf_counter() < stop:
                r = await http.post("/api/predict", content=bodies[k % len(bodies)], headers={"content-type": "image/png"})
                statuses.append(r.status_code)
                k += 1

    async def prober():
        times = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await asyncio.sleep(0.5)
            while time.perf_counter() < stop:
                start = time.perf_counter()
                await http.get("/healthz")
                times.append(time.perf_counter() - start)
                await asyncio.sleep(0.02)
        return times

    results = await asyncio.gather(prober(), *(poster(i) for i in range(clients)))
    return results[0], statuses


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="model file (default: a small one trained here)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    model = args.model
    if model is None:
        from digitnet import MLP, save_model

        model = str(HERE / "results" / "stall-model.safetensors")
        save_model(model, MLP([784, 64, 10]))
    bodies = [png((7000, 7000), "RGBA", (255, 255, 255, 0)), png((3900, 3900))]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", model, "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        times, statuses = asyncio.run(scenario(url, bodies, args.clients, args.seconds))
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    q = statistics.quantiles(times, n=100)
    result = {"clients": args.clients, "seconds": args.seconds, "healthz_requests": len(times),
              "healthz_p50_ms": statistics.median(times) * 1000, "healthz_p99_ms": q[98] * 1000,
              "healthz_max_ms": max(times) * 1000, "uploads": len(statuses),
              "upload_statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
              "server_peak_rss_mb": rss, "bodies_bytes": [len(b) for b in bodies]}
    print(json.dumps(result, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "stall.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
