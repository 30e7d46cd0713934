"""The page in a real browser: headless Chromium (Debian's) driven by Playwright, real mouse strokes."""

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(served_model):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(served_model), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stdout.read().decode()}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: .ci/run installs Debian's chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(server)
        expect(page.locator("#model-card")).to_contain_text("784–256–256–10")
        yield page
        browser.close()


def stroke(page, points):
    box = page.locator("#pad").bounding_box()
    to_screen = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])  # noqa: E731
    page.mouse.move(*to_screen(*points[0]))
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*to_screen(x, y), steps=2)
    page.mouse.up()


def test_draw_a_one(page):
    page.click("#clear")
    expect(page.locator("#message")).to_have_text("Draw a digit first.")
    stroke(page, [(0.52, 0.15 + 0.07 * i) for i in range(11)])
    expect(page.locator("#prediction")).to_have_text("1", timeout=10_000)
    expect(page.locator("#bars li.top")).to_contain_text("1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-one.png"), full_page=True)


def test_draw_a_zero(page):
    page.click("#clear")
    loop = [(0.5 + 0.22 * math.sin(t * 2 * math.pi / 40), 0.5 - 0.32 * math.cos(t * 2 * math.pi / 40)) for t in range(42)]
    stroke(page, loop)
    expect(page.locator("#prediction")).to_have_text("0", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "draw-zero.png"), full_page=True)


def test_undo_back_to_empty(page):
    page.click("#clear")
    stroke(page, [(0.5, 0.2), (0.5, 0.8)])
    expect(page.locator("#prediction")).to_have_text("1", timeout=10_000)
    page.click("#undo")
    expect(page.locator("#prediction")).to_have_text("?")
    expect(page.locator("#message")).to_have_text("Draw a digit first.")


def test_random_test_digit_shows_its_label(page):
    page.click("#random")
    expect(page.locator("#label")).to_contain_text("true label", timeout=10_000)
    expect(page.locator("#prediction")).not_to_have_text("?")
    page.screenshot(path=str(ARTIFACTS / "random-digit.png"), full_page=True)


def test_phone_layout(page, server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    stroke(page, [(0.5, 0.2), (0.5, 0.8)])
    expect(page.locator("#prediction")).to_have_text("1", timeout=10_000)
    pad, result = page.locator("#pad").bounding_box(), page.locator(".result").bounding_box()
    assert pad["width"] > 300 and result["y"] > pad["y"] + pad["height"]  # one column, drawing first
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 900})


# --- the page with no server (digitnet export --web) against the served page ---

def strokes(page, drawing):
    """Several strokes; a single point is a tap."""
    box = page.locator("#pad").bounding_box()
    to_screen = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])  # noqa: E731
    for points in drawing:
        page.mouse.move(*to_screen(*points[0]))
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(*to_screen(x, y), steps=2)
        if len(points) == 1:
            page.mouse.move(*to_screen(points[0][0] + 0.001, points[0][1]))
        page.mouse.up()


def settled_reading(page, quiet: float = 1.5) -> dict:
    """The page's last reading once no new one has come for ``quiet`` seconds."""
    page.wait_for_function("window.lastReading !== null", timeout=15_000)
    count, since = page.evaluate("window.readingCount"), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.1)
        now = page.evaluate("window.readingCount")
        if now != count:
            count, since = now, time.monotonic()
    return page.evaluate("window.lastReading")


def test_static_page_reads_like_the_served_page(page, server, served_model, tmp_path):
    from digitnet.cli import main
    from drawings import drawings

    folder = tmp_path / "web"
    assert main(["export", str(served_model), "--web", str(folder)]) == 0
    size = sum(f.stat().st_size for f in folder.iterdir())
    assert size < 2_000_000, f"the page's folder is {size:,} bytes"
    browser = page.context.browser  # the module's browser; two fresh contexts
    served = browser.new_context(bypass_csp=True, viewport={"width": 1100, "height": 900}).new_page()
    served.goto(server)
    static = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    requests = []
    static.on("request", lambda r: requests.append(r.url))
    static.goto((folder / "index.html").as_uri())
    expect(static.locator("#model-card")).to_contain_text("784–256–256–10")
    expect(static.locator("#random")).to_be_hidden()  # no test images without a server
    compared = []
    for name, drawing in drawings():
        readings = []
        for tab in (served, static):
            tab.click("#clear")
            tab.evaluate("window.lastReading = null")
            strokes(tab, drawing)
            readings.append(settled_reading(tab, quiet=1.0 if tab is served else 0.3))
        a, b = readings
        gap = np.abs(np.asarray(a["image"]) - np.asarray(b["image"])).max()
        assert gap <= 1 / 255, f"{name}: the 28x28 images differ by {gap * 255:.2f}/255"
        assert (a["verdict"], a["label"], a["reason"]) == (b["verdict"], b["label"], b["reason"]), name
        assert abs(a["confidence"] - b["confidence"]) < 1e-3, name
        compared.append((name, a["verdict"]))
    served.context.close()
    static.context.close()
    assert len(compared) >= 30
    assert {v for _, v in compared} >= {"digit", "not_a_digit"}  # both kinds of answer were compared
    root = folder.as_uri() + "/"
    outside = [url for url in requests if not url.startswith(root)]
    assert not outside, f"the static page asked for {outside}"
    assert {url[len(root):] for url in requests} >= {"index.html", "model.js", "digitnet.js", "app.js", "style.css"}
