"""Deskewing (``--deskew``): the slant goes, the centre of mass moves to the centre, the model does it
itself wherever it reads pixels, and it helps the network learn MNIST."""

import numpy as np
import pytest

from digitnet import MLP, load_model, save_model
from digitnet.cli import main
from digitnet.data.deskew import deskew, slant_and_centre
from digitnet.recipes import RECIPES, train
from digitnet.synth import draw


def slanted_stroke(slant: float) -> np.ndarray:
    """A 28x28 upright bar sheared by ``slant`` (pixels right per pixel down), off centre."""
    img = np.zeros((28, 28), np.float32)
    for y in range(6, 22):
        x = 10 + slant * (y - 14)
        x0 = int(np.floor(x))
        img[y, x0:x0 + 3] = 1.0
    return img.reshape(1, -1)


@pytest.mark.parametrize("slant", [-0.5, 0.0, 0.4])
def test_a_slanted_bar_comes_out_upright_and_centred(slant):
    alpha, cy, cx = slant_and_centre(slanted_stroke(slant))
    assert alpha[0] == pytest.approx(slant, abs=0.05)
    out = deskew(slanted_stroke(slant))
    alpha, cy, cx = slant_and_centre(out)
    assert abs(alpha[0]) < 0.02 and cy[0] == pytest.approx(13.5, abs=0.05) and cx[0] == pytest.approx(13.5, abs=0.05)
    assert out.sum() == pytest.approx(slanted_stroke(slant).sum(), rel=0.01)  # no ink lost off the edges


def test_deskew_matches_bilinear_sampling_at_the_sheared_coordinates(mnist):
    """The two-blend implementation is plain bilinear sampling at (y + cy - c, x + cx - c + α (y - c))."""
    from digitnet.augment import bilinear
    images = mnist.train.images[:64].reshape(64, -1) / np.float32(255)
    alpha, cy, cx = slant_and_centre(images)
    grid = np.arange(28) - 13.5
    src_y = np.broadcast_to((grid[None, :] + cy[:, None])[:, :, None], (64, 28, 28)).astype(np.float32)
    src_x = (grid[None, None, :] + cx[:, None, None] + np.clip(alpha, -1, 1)[:, None, None] * grid[None, :, None])
    expected = bilinear(images.reshape(64, 28, 28), src_y, src_x.astype(np.float32)).reshape(64, -1)
    np.testing.assert_allclose(deskew(images), expected, atol=1e-5)


def test_blank_images_and_dtypes():
    blank = np.zeros((2, 784), np.float64)
    assert deskew(blank).dtype == np.float64 and not deskew(blank).any()
    assert deskew(np.zeros((1, 784), np.uint8)).dtype == np.float32


def test_a_deskewing_model_reads_pixels_and_its_file_says_so(tmp_path, rng):
    model = MLP([784, 8, 10], "relu", deskew=True)
    x = rng.random((3, 784)).astype(np.float32)
    plain = MLP([784, 8, 10], "relu")
    plain.set_params(model.params)
    np.testing.assert_allclose(model.logits(x), plain.logits(deskew(x)), rtol=1e-6)
    loaded = load_model(save_model(tmp_path / "m.safetensors", model))
    assert loaded.deskew and loaded.config()["deskew"] is True
    np.testing.assert_array_equal(loaded.logits(x), model.logits(x))


def test_deskewing_needs_square_images():
    with pytest.raises(Exception, match="square"):
        MLP([100 + 1, 8, 10], deskew=True)


def test_deskewing_helps_the_default_recipe_on_its_validation_split(mnist):
    """Chosen on the validation split (never the test set): 2 epochs of the default recipe
    without its made-up digits and non-digits, with and without deskewing."""
    config = RECIPES["default"].updated(epochs=2, synthetic_digits=0, outliers=0, augmented_copies=0)
    scores = {flag: train(config.updated(deskew=flag), mnist).history.last["val_accuracy"] for flag in (False, True)}
    assert scores[True] >= 0.975 and scores[True] > scores[False]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_onnx_graph_deskews_like_the_model(mnist, dtype):
    import onnxruntime as ort

    from digitnet.export.onnx_model import to_onnx
    model = MLP([784, 64, 10], "relu", deskew=True, dtype=dtype, rng=1)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    X = (mnist.test.images[:2000].reshape(2000, -1) / 255).astype(dtype)
    X[0] = 0  # a blank image too
    probabilities, labels = session.run(None, {"pixels": X})
    assert {p.key: p.value for p in to_onnx(model).metadata_props}["deskew"] == "true"
    expected = model.predict_proba(X)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(labels, expected.argmax(axis=1))


def test_the_browser_deskews_like_the_model(mnist, tmp_path):
    """digitnet.js (the page without a server) under node: the same deskewed pixels and logits."""
    import json
    import subprocess
    from importlib import resources

    from digitnet.export.web import model_script
    model = MLP([784, 32, 10], "relu", deskew=True, rng=2)
    X = mnist.test.images[:40].reshape(40, -1) / np.float32(255)
    (tmp_path / "model.js").write_text(model_script(model))
    script = ("globalThis.window = globalThis; globalThis.atob = (s) => Buffer.from(s, 'base64').toString('binary');"
              "require(process.argv[1]); require(process.argv[2]); let s = '';"
              "process.stdin.on('data', (c) => s += c).on('end', () => { const xs = JSON.parse(s);"
              "const model = Digitnet.loadModel(window.DIGITNET_MODEL);"
              "console.log(JSON.stringify(xs.map((x) => [Array.from(Digitnet.deskew(Float32Array.from(x), model.constants)),"
              "Array.from(Digitnet.logits(model, Float32Array.from(x)))]))); });")
    static = resources.files("digitnet.serve") / "static"
    done = subprocess.run(["node", "-e", script, str(tmp_path / "model.js"), str(static / "digitnet.js")],
                          input=json.dumps(X.tolist()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    np.testing.assert_allclose(np.array([a[0] for a in answers]), deskew(X), atol=1e-6)
    np.testing.assert_allclose(np.array([a[1] for a in answers]), model.logits(X), atol=1e-4)
