"""Verdicts: geometry on made images, stroke normalization, calibration, and refusals by the trained default model.

Nothing here is tuned on MNIST's test set: thresholds come from the validation split inside
the recipe; the test set is only measured. Doodles (faces, hearts, houses, suns, spirals,
clouds) are a family of non-digits never used in training or threshold choice.
"""

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitnet.nn.losses import softmax
from digitnet.reading.calibration import calibrate, expected_calibration_error, fit_temperature
from digitnet.reading.geometry import GEOMETRY, inspect, inspect_prepared
from digitnet.reading.preprocess import MNIST_STROKE, crop_to_work_scale, find_ink, prepare, stroke_width
from digitnet.reading.verdict import read
from digitnet.synthetic import draw as synth

STATIC = Path(str(resources.files("digitnet.app.serve") / "static"))


def geometry(grey):
    return inspect(crop_to_work_scale(find_ink(grey)))


# ---- geometry on made images ----

def test_a_centred_digit_passes_the_geometry():
    for d in range(10):
        assert geometry(synth.digit(d, box=(60, 40, 200, 240))) is None, d


def test_a_dot_is_too_small():
    assert geometry(synth.draw([[(0.5, 0.5)]], box=(100, 100, 120, 120))) == "too_small"


def test_a_dash_is_not_digit_like():
    assert geometry(synth.draw([[(0.0, 0.5), (1.0, 0.5)]], box=(40, 130, 240, 150))) == "not_digit_like"


def test_two_digits_side_by_side_are_several_marks():
    pair = np.minimum(synth.digit(3, box=(20, 60, 120, 220)), synth.digit(8, box=(160, 60, 260, 220)))
    assert geometry(pair) == "several_marks"


def test_a_face_is_not_digit_like():
    ring = [(0.5 + 0.5 * np.sin(t), 0.5 - 0.5 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 30)]
    face = synth.draw([ring, [(0.33, 0.35)], [(0.66, 0.35)], [(0.3, 0.7), (0.5, 0.8), (0.7, 0.7)]], width=12,
                      box=(40, 40, 240, 240))
    assert geometry(face) == "not_digit_like"


def test_hollow_digits_pass_the_geometry():
    """Outline (hollow) strokes, as outline fonts draw them: the insides of the strokes are not loops,
    and the inner outline of a 0 is not a mark inside a loop."""
    for d in range(10):
        assert geometry(synth.digit(d, box=(60, 40, 200, 240), width=24, hollow=3)) is None, d


def test_a_double_line_digit_passes_the_geometry():
    """A digit gone over twice with a slight offset (a sketchy hand): thin gaps between the lines."""
    for d in (0, 3, 8):
        strokes = synth.DIGIT_STROKES[d]
        offset = [[(x + 0.03, y + 0.02) for x, y in stroke] for stroke in strokes]
        assert geometry(synth.draw(strokes + offset, box=(60, 40, 200, 240), width=5)) is None, d


def test_the_browsers_geometry_agrees_with_pythons(mnist):
    """digitnet.js (the page without a server) gives the same reason as :func:`inspect` on the same
    work-scale ink: digits, hollow digits, doodles, letters, pairs, dots and MNIST digits."""
    rng = np.random.default_rng(3)
    fonts = synth.matplotlib_fonts()
    pictures = [synth.digit(d, box=(60, 40, 200, 240), width=float(w), hollow=float(h))
                for d in range(10) for w, h in ((6, 0), (24, 3))]
    pictures += [synth.draw(synth.doodle(rng), width=float(rng.uniform(6, 26)), box=(40, 40, 240, 240)) for _ in range(40)]
    pictures += [synth.text(c, fonts[rng.integers(len(fonts))], rng, hollow=bool(rng.random() < 0.5))
                 for c in synth.NOT_DIGIT_LIKE[:30]]
    pictures += [np.minimum(synth.digit(a, box=(20, 60, 120, 220)), synth.digit(b, box=(150, 60, 260, 220)))
                 for a, b in ((3, 8), (1, 7), (0, 0))]
    pictures += [synth.draw([[(0.5, 0.5)]], box=(100, 100, 120, 120))]
    pictures += list(mnist.train.images[:60] / np.float32(255))
    works = [crop_to_work_scale(find_ink(p)) for p in pictures]
    expected = [inspect(w) for w in works]
    script = ("globalThis.window = globalThis; require(process.argv[1]); let s = '';"
              "process.stdin.on('data', (c) => s += c).on('end', () => { const { C, works } = JSON.parse(s);"
              "console.log(JSON.stringify(works.map((w) => "
              "Digitnet.inspect({ w: w.w, h: w.h, d: Float32Array.from(w.d) }, C)))); });")
    payload = json.dumps({"C": GEOMETRY, "works": [{"w": w.shape[1], "h": w.shape[0], "d": w.ravel().tolist()} for w in works]})
    done = subprocess.run(["node", "-e", script, str(STATIC / "digitnet.js")], input=payload, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected
    assert {None, "not_digit_like", "several_marks", "too_small"} <= set(expected)  # every rule was exercised


def test_geometry_refuses_almost_no_mnist_digit(mnist):
    reasons = inspect_prepared(mnist.train.images[:1000] / np.float32(255))
    assert sum(r is not None for r in reasons) <= 5


def test_a_large_sets_geometry_is_looked_at_once_per_content(mnist, tmp_path, monkeypatch):
    """Every card and report measures refusals on the 10,000 test digits: their geometry is kept in the cache
    under a digest of the pictures and the rules' code, read back the same, and looked at again when the entry
    is damaged or the pictures differ."""
    from digitnet.reading import geometry

    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path))
    images = mnist.test.images[:geometry.REMEMBER_AT] / np.float32(255)
    images[7] = 0  # a blank one among them
    first = geometry.inspect_prepared(images)
    assert first == [geometry._inspect_each(images[i:i + 1])[0] for i in range(len(images))]
    assert first[7] == "blank" and {None, "blank"} <= set(first)
    entries = list((tmp_path / "geometry").iterdir())
    assert len(entries) == 1
    looked_at = []
    monkeypatch.setattr(geometry, "_inspect_each", lambda x: looked_at.append(len(x)) or [None] * len(x))
    assert geometry.inspect_prepared(images) == first and looked_at == []  # read back, not looked at
    entries[0].write_text('["too_small"]')  # damaged (one answer for 1,000 pictures)
    assert geometry.inspect_prepared(images) == [None] * len(images) and looked_at == [len(images)]
    other = images.copy()
    other[0, 0, 0] = 0.5
    geometry.inspect_prepared(other)
    assert looked_at == [len(images)] * 2 and len(list((tmp_path / "geometry").iterdir())) == 2
    assert geometry._inspect_each(images[:3]) == geometry.inspect_prepared(images[:3])  # a few: never kept
    assert len(list((tmp_path / "geometry").iterdir())) == 2


def test_blank_is_read_as_not_a_digit(default_model):
    reading = read(default_model, np.ones((100, 100), np.float32))
    assert (reading.verdict, reading.reason, reading.label) == ("not_a_digit", "blank", None)


# ---- stroke width ----

def test_mnist_stroke_constant_is_what_mnist_measures(mnist):
    widths = [stroke_width(crop_to_work_scale(x / np.float32(255))) / 4 for x in mnist.train.images[:1000]]
    assert abs(np.median(widths) - MNIST_STROKE) < 0.15


@pytest.mark.parametrize("normalize", [True, False])
def test_one_brush_at_three_sizes_gives_mnist_strokes(normalize):
    """The page's brush is fixed: a small drawing scaled up gets fat strokes unless they are normalized."""
    boxes = [(10, 10, 50, 70), (60, 40, 160, 190), (20, 10, 260, 270)]
    widths = [stroke_width(crop_to_work_scale(prepare(synth.digit(3, box=b), stroke=normalize))) / 4 for b in boxes]
    if normalize:
        assert max(widths) - min(widths) < 1.0 and all(abs(w - MNIST_STROKE) < 0.8 for w in widths)
    else:  # the defect this fixes: the small one's strokes come out far too thick
        assert max(widths) - min(widths) > 1.5


def test_a_small_three_in_a_corner_reads_as_three(default_model):
    reading = read(default_model, synth.digit(3, box=(10, 10, 50, 70)))
    assert (reading.verdict, reading.label) == ("digit", 3)


def test_drawn_digits_are_read(default_model):
    readings = [read(default_model, synth.digit(d, box=(60, 40, 200, 240))) for d in range(10)]
    assert [(r.verdict, r.label) for r in readings] == [("digit", d) for d in range(10)]


# ---- calibration ----

def test_fit_temperature_recovers_a_known_temperature(rng):
    logits = rng.normal(0, 2, (4000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(logits.copy())])
    assert fit_temperature(logits * 3, labels) == pytest.approx(3, rel=0.1)


def test_temperature_scaling_calibrates_on_validation(default_model, mnist):
    """ECE on the recipe's validation split (never the test set): small after scaling."""
    from digitnet.run.pipeline import split_validation
    from digitnet.run.recipes import RECIPES

    config = RECIPES["default"]
    _, val_idx = split_validation(len(mnist.train), config.validation, config.seed)
    images, labels = mnist.train.images[val_idx] / np.float32(255), mnist.train.labels[val_idx]
    cal = calibrate(default_model, images, labels)
    assert cal["ece_after"] < 0.015 and cal["ece_after"] <= cal["ece_before"] + 0.002
    assert cal == pytest.approx(default_model.metadata["calibration"])


def test_ece_of_a_perfectly_calibrated_and_an_overconfident_model():
    proba = np.tile([0.8, 0.2], (1000, 1))
    labels = np.r_[np.zeros(800, int), np.ones(200, int)]
    assert expected_calibration_error(proba, labels) == pytest.approx(0, abs=1e-9)
    assert expected_calibration_error(proba, np.r_[np.zeros(500, int), np.ones(500, int)]) == pytest.approx(0.3)


# ---- refusals by the trained default model ----

def test_held_out_doodles_are_refused(default_model):
    rng = np.random.default_rng(2024)
    readings = [read(default_model, synth.draw(synth.doodle(rng), width=float(rng.uniform(8, 24)), box=(40, 40, 240, 240)))
                for _ in range(120)]
    refused = np.mean([r.verdict != "digit" for r in readings])
    assert refused >= 0.9


def test_mnist_test_digits_few_refused_and_accepted_ones_right(default_model, mnist):
    from digitnet.reading.verdict import decide

    images = mnist.test.images / np.float32(255)
    readings = decide(default_model, images, [None] * len(images))
    accepted = np.array([r.verdict == "digit" for r in readings])
    labels = np.array([-1 if r.label is None else r.label for r in readings])
    assert 1 - accepted.mean() <= 0.025
    assert np.mean(labels[accepted] == mnist.test.labels[accepted]) >= 0.988


# ---- the command's JSON ----

def test_predict_json_one_object_per_image(default_model, tmp_path):
    from digitnet import save_model

    model = save_model(tmp_path / "m.safetensors", default_model)
    Image.fromarray((synth.digit(7) * 255).astype(np.uint8)).save(tmp_path / "seven.png")
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(tmp_path / "white.png")
    out = subprocess.run([sys.executable, "-m", "digitnet", "predict", str(model), str(tmp_path / "seven.png"),
                          str(tmp_path / "white.png"), "--json"], capture_output=True, text=True, check=True).stdout
    first, second = (json.loads(line) for line in out.splitlines())
    keys = {"source", "verdict", "label", "confidence", "probabilities", "reason", "candidates"}
    assert set(first) == keys and set(second) == keys
    assert (first["verdict"], first["label"], first["reason"]) == ("digit", 7, None)
    assert first["source"].endswith("seven.png") and len(first["probabilities"]) == 10
    assert (second["verdict"], second["label"], second["reason"]) == ("not_a_digit", None, "blank")
    index = subprocess.run([sys.executable, "-m", "digitnet", "predict", str(model), "--index", "0", "--json"],
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(index)["source"] == "test image 0" and json.loads(index)["label"] == 7


def test_why_not_a_digit_says_which_step_refused_it(default_model, tmp_path):
    """The geometry's refusals are `not_digit_like`; the network's (no class has evidence) are `unfamiliar`,
    in the library, `predict --json` and the API, each with its own words."""
    import copy

    from fastapi.testclient import TestClient

    from digitnet import save_model
    from digitnet.app.serve import create_app
    from digitnet.reading.contract import REASON_SOURCE, REASON_WORDS

    wary = copy.deepcopy(default_model)  # a network that finds every picture unfamiliar
    wary.metadata = {**default_model.metadata, "calibration": {**default_model.metadata["calibration"], "energy_threshold": 1e5}}
    seven, dash = synth.digit(7), synth.draw([[(0.0, 0.5), (1.0, 0.5)]], box=(40, 130, 240, 150))
    assert (read(default_model, seven).verdict, read(wary, seven).reason, read(wary, dash).reason) == (
        "digit", "unfamiliar", "not_digit_like")
    assert REASON_SOURCE["unfamiliar"] == "network" and REASON_SOURCE["not_digit_like"] == "geometry"
    assert read(wary, seven).describe() == REASON_WORDS["unfamiliar"] != REASON_WORDS["not_digit_like"]
    path = save_model(tmp_path / "wary.safetensors", wary)
    Image.fromarray((seven * 255).astype(np.uint8)).save(tmp_path / "seven.png")
    out = subprocess.run([sys.executable, "-m", "digitnet", "predict", str(path), str(tmp_path / "seven.png"), "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert (json.loads(out)["verdict"], json.loads(out)["reason"]) == ("not_a_digit", "unfamiliar")
    with TestClient(create_app(path)) as client:
        answer = client.post("/api/predict", json={"pixels": prepare(seven).ravel().tolist()}).json()
    assert (answer["reason"], answer["message"]) == ("unfamiliar", REASON_WORDS["unfamiliar"])
