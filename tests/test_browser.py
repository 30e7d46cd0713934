"""The page in a real browser: headless Chromium (Debian's) driven by Playwright, real mouse strokes."""

import itertools
import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from drawings import TEMPLATES, place

CHROMIUM = os.environ.get("DIGITNET_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
STALL_MS = 5_000  # far above any reading's ~25 ms: a reading that takes this long has hung
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-frame-rate-limit", "--disable-gpu-vsync"]  # input events wait for frames, not for 60 Hz


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model, home) -> tuple[subprocess.Popen, str]:
    """`digitnet serve MODEL` on a free port with its own DIGITNET_HOME (its corrections, its models),
    once it answers /healthz."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(model), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "DIGITNET_HOME": str(home)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"server did not start: {proc.stdout.read().decode()}")


@pytest.fixture(scope="module")
def served(served_model, tmp_path_factory):
    """The module's server: its URL and its DIGITNET_HOME."""
    home = tmp_path_factory.mktemp("server-home")
    proc, url = start_server(served_model, home)
    yield url, home
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(served):
    return served[0]


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


def strokes(page, drawing, steps=2):
    """Several strokes, each a list of points in the unit square of the pad, ``steps`` mouse moves from one
    point to the next; a single point is a tap."""
    box = page.locator("#pad").bounding_box()
    to_screen = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])
    for points in drawing:
        page.mouse.move(*to_screen(*points[0]))
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(*to_screen(x, y), steps=steps)
        if len(points) == 1:
            page.mouse.move(*to_screen(points[0][0] + 0.001, points[0][1]))
        page.mouse.up()


DISPATCH = """(drawing) => {
  const pad = document.getElementById("pad"), r = pad.getBoundingClientRect();
  const fire = (type, [x, y]) => {
    const init = {bubbles: true, cancelable: true, pointerId: 1, pointerType: "mouse", isPrimary: true,
                  buttons: type === "pointerup" ? 0 : 1, clientX: r.left + x * r.width, clientY: r.top + y * r.height};
    pad.dispatchEvent(new PointerEvent(type, type === "pointermove"
      ? {...init, coalescedEvents: [new PointerEvent(type, init)]} : init));
  };
  for (const points of drawing) {
    fire("pointerdown", points[0]);
    for (const p of points.slice(1)) fire("pointermove", p);
    if (points.length === 1) fire("pointermove", [points[0][0] + 0.001, points[0][1]]);
    fire("pointerup", points[points.length - 1]);
  }
}"""


def dispatched_strokes(page, drawing):
    """:func:`strokes` as the page's own pointer events, dispatched in one go from inside the page: the same
    points reach the pad's handlers (the mouse itself is exercised by every other test here)."""
    page.evaluate(DISPATCH, [[list(p) for p in points] for points in drawing])


def stroke(page, points):
    """One stroke through ``points`` (in the unit square of the pad); a single point is a tap."""
    strokes(page, [points])


def touch_stroke(page, points, steps=4):
    """One stroke of a finger through ``points`` (the unit square of the pad), as touch events
    (the page sees pointer events of pointerType "touch"); the pad's position is taken once, at the start."""
    box = page.locator("#pad").bounding_box()
    at = lambda x, y: [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]}]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": at(*points[0])})
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for k in range(1, steps + 1):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                  "touchPoints": at(x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


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

def settled_reading(page) -> dict:
    """The page's last reading, once it is the pen-up reading of the drawing as it is now (``window.readingSettled``)."""
    page.wait_for_function("window.readingSettled()", timeout=15_000)
    return page.evaluate("window.lastReading")


def test_static_page_reads_like_the_served_page(page, server, served_model, tmp_path):
    from digitnet.app.cli import main
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
    expect(static.locator("#teach")).to_be_hidden()  # nor corrections
    expect(static.locator("#api")).to_be_hidden()  # nor an API
    compared, said = [], {}
    for name, drawing in drawings():
        readings = []
        for tab in (served, static):
            tab.click("#clear")
            tab.evaluate("window.lastReading = null")
            dispatched_strokes(tab, drawing)
            readings.append(settled_reading(tab))
            if readings[-1]["reason"]:  # each reason in its own words, on both pages
                said.setdefault(readings[-1]["reason"], set()).add(tab.locator("#message").inner_text())
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
    from digitnet.reading.contract import REASON_WORDS

    assert set(said) >= {"too_small", "several_marks", "not_digit_like", "unfamiliar"}
    assert said == {reason: {REASON_WORDS[reason][0].upper() + REASON_WORDS[reason][1:] + "."} for reason in said}
    root = folder.as_uri() + "/"
    outside = [url for url in requests if not url.startswith(root)]
    assert not outside, f"the static page asked for {outside}"
    assert {url[len(root):] for url in requests} >= {"index.html", "model.js", "digitnet.js", "app.js", "style.css"}


# --- the page as a product: defects found by trying it, live reading ---

@pytest.fixture
def open_tab(page):
    """Opens fresh tabs on the served page (CSP bypassed so tests can poll page state), each in its own
    browser context (``width``, ``height``, and Playwright's context options such as ``has_touch``).
    At the end: no uncaught error, and nothing the page wrote to the console as a warning or an error."""
    contexts, errors, console = [], [], []

    def open_tab(width=1100, height=900, url=None, **options):
        context = page.context.browser.new_context(bypass_csp=True, viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
        tab.goto(url or page.url)
        expect(tab.locator("#model-card")).to_contain_text("784–256–256–10")
        return tab

    yield open_tab
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not console, f"the page's console: {console}"


@pytest.fixture
def tab(open_tab):
    """A fresh tab on the served page, 1100 x 900."""
    return open_tab()


def test_undo_while_a_test_digit_is_shown_takes_it_away(tab):
    tab.click("#random")
    expect(tab.locator("#label")).to_contain_text("true label", timeout=10_000)
    tab.click("#undo")
    expect(tab.locator("#label")).to_have_text("")
    expect(tab.locator("#prediction")).to_have_text("?")
    expect(tab.locator("#message")).to_have_text("Draw a digit first.")
    ink = tab.evaluate("""() => { const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data;
                              let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++; return dark; }""")
    assert ink == 0  # the canvas is blank too: what it says matches what it shows


def test_random_digit_with_the_server_gone_says_so(page, served_model, tmp_path):
    proc, url = start_server(served_model, tmp_path)
    context = page.context.browser.new_context()
    other = context.new_page()
    errors = []
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    other.goto(url)
    expect(other.locator("#model-card")).to_contain_text("784–256–256–10")
    proc.terminate()
    proc.wait(timeout=10)
    other.click("#random")
    expect(other.locator("#message")).to_contain_text("server did not answer", timeout=10_000)
    context.close()
    assert not errors, errors


def test_clear_right_after_lifting_the_pen_leaves_no_old_prediction(tab):
    sent, answered = [], []
    tab.on("request", lambda r: sent.append(r.url) if "/api/predict" in r.url else None)
    for event in ("requestfinished", "requestfailed"):
        tab.on(event, lambda r: answered.append(r.url) if "/api/predict" in r.url else None)
    for _ in range(3):
        stroke(tab, [(0.52, 0.15 + 0.07 * i) for i in range(11)])
        tab.click("#clear")  # while the drawing's reading is on its way
        deadline = time.monotonic() + STALL_MS / 1000  # a stall guard: answers come in ~25 ms
        while len(answered) < len(sent) and time.monotonic() < deadline:
            tab.wait_for_timeout(20)
        assert sent and len(answered) == len(sent), "a reading of the cleared drawing never came back"
        tab.wait_for_timeout(300)  # the page has handled every answer to the cleared drawing by now
        expect(tab.locator("#prediction")).to_have_text("?")
        expect(tab.locator("#message")).to_have_text("Draw a digit first.")


def test_confident_percentages_fit_their_column(tab):
    stroke(tab, [(0.52, 0.15 + 0.07 * i) for i in range(11)])
    expect(tab.locator("#bars li.top .pct")).to_have_text("> 99.9%", timeout=10_000)
    widths = tab.evaluate("() => [...document.querySelectorAll('#bars .pct')]"
                          ".map(e => [e.textContent, e.scrollWidth, e.clientWidth])")
    assert all(scroll <= width for _, scroll, width in widths), widths


def test_hint_starts_neutral_and_verdicts_are_shown_in_words(tab):
    assert "ok" in tab.locator("#message").get_attribute("class")  # a hint, not the error colour
    stroke(tab, [(0.2, 0.5), (0.5, 0.5), (0.8, 0.5)])  # a dash
    expect(tab.locator("#message")).to_have_text("That doesn't look like a digit.", timeout=10_000)
    expect(tab.locator("#prediction")).to_have_text("–")
    tab.click("#clear")
    stroke(tab, [(0.5, 0.5)])  # a tap
    expect(tab.locator("#message")).to_have_text("Too small to read: draw it bigger.", timeout=10_000)


def test_docs_need_nothing_from_outside(page, server):
    context = page.context.browser.new_context()
    docs = context.new_page()
    requests = []
    docs.on("request", lambda r: requests.append(r.url))
    docs.goto(f"{server}/docs")
    expect(docs.locator("#swagger-ui")).to_contain_text("/api/predict", timeout=15_000)
    context.close()
    assert requests and all(u.startswith(server) for u in requests), [u for u in requests if not u.startswith(server)]


def test_reads_while_drawing(tab):
    """The bars change during a slow stroke, not only when the pen lifts, and every reading comes back
    (a stall guard: within 5 s each; the latency itself, p95 ~25 ms, is measured by benchmarks/latency.py)."""
    box = tab.locator("#pad").bounding_box()
    stroke(tab, [(0.3, 0.3), (0.6, 0.6)])  # a first drawing, so the page and the server are warm
    settled_reading(tab)
    tab.click("#clear")
    tab.evaluate("window.latencies = []; window.readingCount = 0")
    tab.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.15 * box["height"])
    tab.mouse.down()
    for i in range(60):  # ~3 s of drawing down the middle and back (~30 readings)
        y = 0.15 + 0.7 * abs(((i / 30) % 2) - 1)
        tab.mouse.move(box["x"] + (0.5 + 0.1 * math.sin(i / 5)) * box["width"], box["y"] + y * box["height"])
        time.sleep(0.04)
    during = tab.evaluate("window.readingCount")
    tab.mouse.up()
    settled_reading(tab)  # the pen-up reading, the last
    latencies = tab.evaluate("window.latencies")
    print("latencies in order (ms):", [round(v) for v in latencies])
    latencies = sorted(latencies)
    assert during >= 10, f"only {during} readings while drawing"
    # a stall guard, not a speed test (readings take ~25 ms; benchmarks/latency.py measures them): none hangs
    assert latencies and latencies[-1] < STALL_MS, f"a reading took {latencies[-1]:.0f} ms: {[round(v) for v in latencies]}"


# --- phone, keyboard, screen readers, axe-core ---

AXE = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(tab) -> list:
    assert AXE.is_file(), f"{AXE} is missing: `make test` installs it with npm"
    tab.add_script_tag(path=str(AXE))
    result = tab.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_axe_finds_no_serious_problems(tab, viewport):
    tab.set_viewport_size(viewport)
    assert serious_violations(tab) == []  # the empty page
    stroke(tab, [(0.52, 0.15 + 0.07 * i) for i in range(11)])
    expect(tab.locator("#prediction")).to_have_text("1", timeout=10_000)
    assert serious_violations(tab) == []  # with a reading and its bars
    tab.emulate_media(color_scheme="dark")
    assert serious_violations(tab) == []  # dark mode too


def test_phone_keeps_the_verdict_and_top_three_in_view_while_drawing(tab):
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.reload()
    expect(tab.locator("#model-card")).to_contain_text("784–256–256–10")
    box = tab.locator("#pad").bounding_box()
    tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + 0.15 * box["height"])
    tab.mouse.down()
    for i in range(1, 11):
        tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + (0.15 + 0.07 * i) * box["height"], steps=2)
        time.sleep(0.05)
    expect(tab.locator("#sticky-verdict")).to_have_text("1", timeout=10_000)  # read while the pen is down
    sticky = tab.locator("#sticky").bounding_box()
    assert sticky["y"] >= 0 and sticky["y"] + sticky["height"] <= 844  # on screen
    expect(tab.locator("#sticky-detail")).to_have_text(re.compile(r"^· \d{1,3}%$"))  # how sure, in few words
    tab.mouse.up()
    buttons = [tab.locator(f"#{b}").bounding_box() for b in ("undo", "clear", "random", "upload")]
    assert all(b["height"] >= 44 for b in buttons), buttons
    assert len({round(b["y"]) for b in buttons}) == 1  # one row
    assert max(b["x"] + b["width"] for b in buttons) <= 390
    tab.screenshot(path=str(ARTIFACTS / "phone-drawing.png"))


def test_keyboard_undo_clear_and_upload(tab, tmp_path, mnist):
    stroke(tab, [(0.5, 0.2), (0.5, 0.8)])
    expect(tab.locator("#prediction")).to_have_text("1", timeout=10_000)
    tab.keyboard.press("Control+z")
    expect(tab.locator("#prediction")).to_have_text("?")
    stroke(tab, [(0.5, 0.2), (0.5, 0.8)])
    expect(tab.locator("#prediction")).to_have_text("1", timeout=10_000)
    tab.keyboard.press("Escape")
    expect(tab.locator("#message")).to_have_text("Draw a digit first.")
    from PIL import Image

    picture = tmp_path / "seven.png"
    Image.fromarray(255 - mnist.test.images[0]).resize((112, 112)).save(picture)  # a dark 7 on white paper
    tab.evaluate("document.getElementById('file').addEventListener('click', () => { window.chooserOpened = true; })")
    tab.locator("#upload").focus()
    tab.keyboard.press("Enter")  # the upload button, from the keyboard, opens the file chooser
    assert tab.evaluate("window.chooserOpened === true")
    tab.locator("#file").set_input_files(str(picture))  # what choosing a file there does
    expect(tab.locator("#prediction")).to_have_text("7", timeout=10_000)
    expect(tab.locator("#label")).to_contain_text("seven.png")


def test_screen_readers_hear_one_short_announcement_per_stroke(tab):
    assert tab.locator(".result[aria-live], #bars[aria-live], #message[aria-live]").count() == 0  # not the whole panel
    tab.evaluate("""() => { window.announced = [];
        for (const region of document.querySelectorAll('[aria-live]'))
          new MutationObserver(() => window.announced.push(region.textContent))
            .observe(region, {childList: true, characterData: true, subtree: true}); }""")
    box = tab.locator("#pad").bounding_box()
    tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + 0.15 * box["height"])
    tab.mouse.down()
    for i in range(1, 21):
        tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + (0.15 + 0.035 * i) * box["height"])
        time.sleep(0.04)
    tab.mouse.up()
    expect(tab.locator("#announce")).to_contain_text("Reads 1", timeout=10_000)
    time.sleep(0.5)
    announced = tab.evaluate("window.announced")
    assert len(announced) == 1 and len(announced[0]) < 40, announced
    meters = tab.locator("[role=meter]")
    assert meters.count() == 10
    assert meters.nth(1).get_attribute("aria-valuetext") == "> 99.9%" or float(meters.nth(1).get_attribute("aria-valuenow")) > 50


def test_correct_fine_tune_and_switch_to_the_personal_model(tab):
    """The whole loop on the page: "Wrong? It was 3" keeps the sample, fine-tuning runs, the page switches
    to the personal model and back."""
    stroke(tab, [(0.52, 0.15 + 0.07 * i) for i in range(11)])
    expect(tab.locator("#prediction")).to_have_text("1", timeout=10_000)
    expect(tab.locator("#teach")).to_be_visible()
    tab.click("#digits button[aria-label='It was 3']")
    expect(tab.locator("#teach-status")).to_have_text(re.compile(r"Kept as a 3\. Your set holds \d+ digits?\."))
    first = int(re.search(r"holds (\d+)", tab.locator("#teach-status").inner_text()).group(1))
    for _ in range(11):
        tab.click("#right")
    expect(tab.locator("#teach-status")).to_contain_text(f"holds {first + 11} digits")
    tab.click("#learn")
    expect(tab.locator("#teach-status")).to_contain_text("Your model is ready", timeout=120_000)
    tab.click("#use")
    expect(tab.locator("#teach-status")).to_have_text("Reading with your personal model.")
    expect(tab.locator("#model-card")).to_contain_text("your personal model")
    tab.click("#use")
    expect(tab.locator("#teach-status")).to_have_text("Reading with the original model.")
    expect(tab.locator("#model-card")).not_to_contain_text("your personal model")


# --- the page at the widths people use, corrections tied to what was read, dark mode ---

ONE = [(0.52, 0.15 + 0.07 * i) for i in range(11)]
FIVE = place(TEMPLATES["5"], 0.1, 0.1, 0.8)[0]  # one stroke
THREE = place(TEMPLATES["3"], 0.1, 0.1, 0.8)[0]
WATCH_PAD = """() => { const pad = document.getElementById('pad'); window.padWidths = [];
    new ResizeObserver(() => window.padWidths.push(pad.getBoundingClientRect().width)).observe(pad); }"""
CORRECTIONS = "#digits button, #right"
#: resolves after two animation frames: whatever the last change moved has been laid out (and observed)
FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def sticking_out(tab) -> list:
    """What sticks out: a page wider than its window, a button's words wider than the button, a button outside its panel."""
    return tab.evaluate("""() => {
        const out = [], root = document.documentElement;
        if (root.scrollWidth > innerWidth) out.push(`the page is ${root.scrollWidth} px wide in a window of ${innerWidth}`);
        for (const b of document.querySelectorAll('button')) {
          if (!b.offsetParent) continue;
          const r = b.getBoundingClientRect(), panel = b.closest('.panel').getBoundingClientRect(), name = b.id || b.textContent;
          if (b.scrollWidth > b.clientWidth) out.push(`${name}: ${b.scrollWidth} px of words in ${b.clientWidth}`);
          if (r.left < panel.left || r.right > panel.right) out.push(`${name} sticks out of its panel`);
        }
        return out; }""")


@pytest.mark.parametrize("width, height, finger", [(721, 900, False), (800, 1000, False), (810, 1080, True)],
                         ids=["721-mouse", "800-mouse", "810-touch"])
def test_first_drawing_at_tablet_widths_keeps_the_pad_still_and_reads_right(open_tab, width, height, finger):
    """A fresh page, a 5 in one stroke: the first reading changes nothing in the layout (the pad kept its size
    mid-stroke before), nothing sticks out, and the 5 is read as a 5."""
    tab = open_tab(width, height, has_touch=finger)
    tab.evaluate(WATCH_PAD)
    width_before = tab.locator("#pad").bounding_box()["width"]
    (touch_stroke if finger else stroke)(tab, FIVE)
    reading = settled_reading(tab)
    tab.evaluate(FRAMES)  # the layout has followed the reading
    assert {round(w) for w in tab.evaluate("window.padWidths")} == {round(width_before)}
    assert sticking_out(tab) == []
    assert (reading["verdict"], reading["label_name"]) == ("digit", "5")


@pytest.mark.parametrize("width", [1100, 1280])
def test_right_stands_apart_from_wrong_it_was_and_fits(open_tab, width):
    tab = open_tab(width, 900)
    expect(tab.locator("#right")).to_be_disabled()  # nothing read yet
    stroke(tab, ONE)
    expect(tab.locator("#right")).to_have_text("Right, it's a 1", timeout=10_000)
    expect(tab.locator("#right")).to_be_enabled()
    assert tab.locator("#digits #right").count() == 0  # not one of the answers to "Wrong? It was…"
    assert tab.locator("#digits button").count() == 10
    assert sticking_out(tab) == []


def test_phone_says_the_verdict_plainly_and_keeps_the_corrections_near_the_pad(open_tab):
    tab = open_tab(390, 844, has_touch=True, is_mobile=True)
    expect(tab.locator(".hint")).not_to_contain_text("Ctrl+Z", use_inner_text=True)  # a finger has no keyboard at hand
    tab.evaluate(WATCH_PAD)
    width_before = tab.locator("#pad").bounding_box()["width"]
    touch_stroke(tab, ONE)
    expect(tab.locator("#sticky")).to_have_text(re.compile(r"^1\s*· \d{1,3}%$"), timeout=10_000)  # "1 · 100%"
    expect(tab.locator("#right")).to_be_enabled()
    assert {round(w) for w in tab.evaluate("window.padWidths")} == {round(width_before)}
    assert sticking_out(tab) == []
    pad, row = tab.locator("#pad").bounding_box(), tab.locator("#digits").bounding_box()
    assert pad["y"] < row["y"] and row["y"] + row["height"] <= 844  # under the pad, on the first screen
    tab.screenshot(path=str(ARTIFACTS / "phone-corrections.png"), full_page=True)


def test_corrections_keep_the_drawing_that_was_read_and_nothing_after_clear(open_tab, served):
    """Draw, Esc, "It was 5" kept the cleared drawing before. Now the answers wait for a reading of the drawing
    as it is (not mid-stroke, not after Clear or Undo, not a test digit), and keep that reading's image."""
    url, home = served
    kept = lambda: httpx.get(f"{url}/api/corrections").json()["count"]
    tab = open_tab()
    corrections = tab.locator(CORRECTIONS)
    assert corrections.count() == 11
    for k in range(11):
        expect(corrections.nth(k)).to_be_disabled()  # nothing read yet
    stroke(tab, ONE)
    expect(tab.locator("[aria-label='It was 5']")).to_be_enabled(timeout=10_000)
    tab.keyboard.press("Escape")
    before = kept()
    for k in range(11):
        expect(corrections.nth(k)).to_be_disabled()
    tab.locator("[aria-label='It was 5']").click(force=True)  # a click on a disabled button
    time.sleep(0.5)
    assert kept() == before
    expect(tab.locator("#teach-status")).to_have_text("")

    box = tab.locator("#pad").bounding_box()  # mid-stroke: a reading comes, the answers still wait
    tab.evaluate("window.readingCount = 0")
    tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + 0.15 * box["height"])
    tab.mouse.down()
    for i in range(1, 11):
        tab.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + (0.15 + 0.07 * i) * box["height"], steps=2)
        time.sleep(0.03)
    tab.wait_for_function("window.readingCount > 0", timeout=10_000)
    expect(tab.locator("[aria-label='It was 7']")).to_be_disabled()
    tab.mouse.up()
    reading = settled_reading(tab)
    tab.click("[aria-label='It was 7']")
    n = before + 1  # the module's server may hold corrections from earlier tests, or none (this test alone)
    expect(tab.locator("#teach-status")).to_have_text(f"Kept as a 7. Your set holds {n} digit{'s' * (n != 1)}.")
    from digitnet.run import personal

    images, labels = personal.load(home / "personal")
    shown = np.asarray(reading["image"]).reshape(28, 28) * 255
    assert labels[-1] == 7 and np.abs(images[-1].astype(float) - shown).max() <= 1  # the image that was read

    tab.click("#undo")  # nothing left to correct
    expect(tab.locator("[aria-label='It was 7']")).to_be_disabled()
    tab.click("#random")  # MNIST's handwriting is not the user's
    expect(tab.locator("#label")).to_contain_text("true label", timeout=10_000)
    expect(tab.locator("#prediction")).not_to_have_text("?")
    time.sleep(0.3)
    for k in range(11):
        expect(corrections.nth(k)).to_be_disabled()
    expect(tab.locator("#teach-help")).to_contain_text("not yours")
    assert kept() == before + 1


def test_a_dot_is_previewed_at_the_size_it_was_drawn(tab):
    stroke(tab, [(0.5, 0.5)])  # a tap: the reader enlarges such ink to fill its frame (a large white disc)
    expect(tab.locator("#message")).to_have_text("Too small to read: draw it bigger.", timeout=10_000)
    lit = tab.evaluate("""() => { const d = document.getElementById('preview').getContext('2d').getImageData(0, 0, 28, 28).data;
                              let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 127) n++; return n; }""")
    assert 0 < lit <= 9, f"{lit} of 784 pixels lit for a tap"


def test_drawing_writes_nothing_to_the_console(tab):
    messages = []
    tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    for _ in range(2):
        stroke(tab, FIVE)
        expect(tab.locator("#prediction")).to_have_text("5", timeout=10_000)
        tab.click("#clear")
    assert messages == []  # e.g. Canvas2D's "Multiple readback operations ... willReadFrequently"


def test_learn_with_too_few_digits_says_so_on_the_page(open_tab, served_model, tmp_path):
    """Fine-tuning needs 10 digits: with 1, Learn says so on the page without asking the server
    (which answers 422, and the browser logs the refusal in the console as an error)."""
    proc, url = start_server(served_model, tmp_path / "home")
    try:
        tab = open_tab(url=url)
        requests, messages = [], []
        tab.on("request", lambda r: requests.append((r.method, r.url)))
        tab.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        stroke(tab, ONE)
        expect(tab.locator("#right")).to_be_enabled(timeout=10_000)
        tab.click("#right")
        expect(tab.locator("#teach-status")).to_have_text("Kept as a 1. Your set holds 1 digit.")
        tab.click("#learn")
        expect(tab.locator("#teach-status")).to_contain_text("needs at least 10 digits you confirmed or corrected; "
                                                               "your set holds 1")
        time.sleep(0.5)
        assert ("POST", f"{url}/api/finetune") not in requests
        assert messages == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_page_links_to_the_api_documentation(tab, server):
    tab.get_by_role("link", name="The API and its documentation").click()
    expect(tab).to_have_url(f"{server}/docs")
    expect(tab.locator("#swagger-ui")).to_contain_text("/api/predict", timeout=15_000)


def test_dark_mode_draws_light_ink_on_a_dark_pad_and_reads_the_same(open_tab):
    """Dark mode: light ink on a dark pad (not a white square); the reader judges polarity by the border,
    so the same stroke reads the same in both schemes."""
    tab = open_tab(color_scheme="dark")
    pixel = "([x, y]) => [...document.getElementById('pad').getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)]"
    on_the_stroke = [round(THREE[0][0] * 280), round(THREE[0][1] * 280)]
    readings = {}
    for scheme in ("dark", "light"):
        tab.emulate_media(color_scheme=scheme)
        tab.click("#clear")
        stroke(tab, THREE)
        readings[scheme] = settled_reading(tab)
        paper, ink = tab.evaluate(pixel, [3, 3]), tab.evaluate(pixel, on_the_stroke)
        if scheme == "dark":
            assert max(paper) < 40 and min(ink) > 200, (paper, ink)
            tab.emulate_media(color_scheme="light")  # the drawing on the pad is recoloured at once
            assert min(tab.evaluate(pixel, [3, 3])) > 240 and max(tab.evaluate(pixel, on_the_stroke)) < 40
        else:
            assert min(paper) > 240 and max(ink) < 40, (paper, ink)
    dark, light = readings["dark"], readings["light"]
    gap = np.abs(np.asarray(dark["image"]) - np.asarray(light["image"])).max()
    assert gap <= 2 / 255, f"the 28x28 images differ by {gap * 255:.2f}/255"
    assert (dark["verdict"], dark["label_name"]) == (light["verdict"], light["label_name"]) == ("digit", "3")
    assert np.abs(np.asarray(dark["probabilities"]) - np.asarray(light["probabilities"])).max() < 1e-3
