"""Deskewing (``--deskew``): the slant goes, the centre of mass moves to the centre, the model does it
itself wherever it reads pixels, and it helps the network learn MNIST."""

import numpy as np
import pytest

from digitnet import MLP, load_model, save_model
from digitnet.data.deskew import deskew, slant_and_centre
from digitnet.run.recipes import RECIPES, train


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
    from digitnet.data.augment import bilinear
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
    model = MLP([784, 8, 10], "relu", deskew=True)  # True: "on"
    x = rng.random((3, 784)).astype(np.float32)
    plain = MLP([784, 8, 10], "relu")
    plain.set_params(model.params)
    np.testing.assert_allclose(model.logits(x), plain.logits(deskew(x)), rtol=1e-6)
    loaded = load_model(save_model(tmp_path / "m.safetensors", model))
    assert loaded.deskew == "on" and loaded.config()["deskew"] == "on"
    np.testing.assert_array_equal(loaded.logits(x), model.logits(x))


def test_a_model_that_reads_both_views_averages_their_logits(tmp_path, rng):
    model = MLP([784, 8, 10], "relu", deskew="both", rng=3)
    x = rng.random((5, 784)).astype(np.float32)
    plain = MLP([784, 8, 10], "relu")
    plain.set_params(model.params)
    np.testing.assert_allclose(model.logits(x), (plain.logits(x) + plain.logits(deskew(x))) / 2, rtol=1e-5, atol=1e-6)
    assert model.prepare(x).shape == (10, 784)  # training rows: both views of each row, view after view
    np.testing.assert_array_equal(model.prepare(x)[5:], deskew(x))
    loaded = load_model(save_model(tmp_path / "m.safetensors", model))
    assert loaded.deskew == "both"
    np.testing.assert_array_equal(loaded.logits(x), model.logits(x))


def test_model_files_written_before_both_existed_still_load(tmp_path):
    """Files from before the three modes said deskew true or false."""
    import json

    from digitnet.run.modelfile import FORMAT, encode, read_file
    for old, mode in ((True, "on"), (False, "off")):
        path = save_model(tmp_path / f"{old}.safetensors", MLP([784, 8, 10], "relu", deskew=mode))
        tensors, metadata = read_file(path, FORMAT)
        model_json = json.loads(metadata["model"])
        model_json["deskew"] = old
        metadata["model"] = json.dumps(model_json)
        path.write_bytes(encode(tensors, metadata))
        assert load_model(path).deskew == mode


def test_deskewing_needs_square_images():
    with pytest.raises(Exception, match="square"):
        MLP([100 + 1, 8, 10], deskew=True)


def test_deskewing_helps_the_default_recipe_on_its_validation_split(mnist):
    """Chosen on the validation split (never the test set): 2 epochs of the default recipe
    without its made-up digits and non-digits, with and without deskewing."""
    config = RECIPES["default"].updated(epochs=2, synthetic_digits=0, outliers=0, augmented_copies=0, deskew="off")
    scores = {mode: train(config.updated(deskew=mode), mnist).history.last["val_accuracy"] for mode in ("off", "on")}
    assert scores["on"] >= 0.975 and scores["on"] > scores["off"]


@pytest.mark.parametrize("dtype, mode", [("float32", "on"), ("float64", "on"), ("float32", "both"), ("float64", "both")])
def test_the_onnx_graph_deskews_like_the_model(mnist, dtype, mode):
    import onnxruntime as ort

    from digitnet.app.export.onnx_model import to_onnx
    model = MLP([784, 64, 10], "relu", deskew=mode, dtype=dtype, rng=1)
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    X = (mnist.test.images[:2000].reshape(2000, -1) / 255).astype(dtype)
    X[0] = 0  # a blank image too
    probabilities, labels, _ = session.run(None, {"pixels": X})
    assert {p.key: p.value for p in to_onnx(model).metadata_props}["deskew"] == mode
    expected = model.predict_proba(X)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    np.testing.assert_array_equal(labels, expected.argmax(axis=1))


@pytest.mark.parametrize("mode", ["on", "both"])
def test_the_browser_deskews_like_the_model(mnist, tmp_path, mode):
    """digitnet.js (the page without a server) under node: the same deskewed pixels and logits."""
    import json
    import subprocess
    from importlib import resources

    from digitnet.app.export.web import model_script
    model = MLP([784, 32, 10], "relu", deskew=mode, rng=2)
    X = mnist.test.images[:40].reshape(40, -1) / np.float32(255)
    (tmp_path / "model.js").write_text(model_script(model))
    script = ("globalThis.window = globalThis; globalThis.atob = (s) => Buffer.from(s, 'base64').toString('binary');"
              "require(process.argv[1]); require(process.argv[2]); let s = '';"
              "process.stdin.on('data', (c) => s += c).on('end', () => { const xs = JSON.parse(s);"
              "const model = Digitnet.loadModel(window.DIGITNET_MODEL);"
              "console.log(JSON.stringify(xs.map((x) => [Array.from(Digitnet.deskew(Float32Array.from(x), model.constants)),"
              "Array.from(Digitnet.logits(model, Float32Array.from(x)))]))); });")
    static = resources.files("digitnet.app.serve") / "static"
    done = subprocess.run(["node", "-e", script, str(tmp_path / "model.js"), str(static / "digitnet.js")],
                          input=json.dumps(X.tolist()), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    np.testing.assert_allclose(np.array([a[0] for a in answers]), deskew(X), atol=1e-6)
    np.testing.assert_allclose(np.array([a[1] for a in answers]), model.logits(X), atol=1e-4)


def test_distorted_batches_of_a_two_view_model_cover_every_row_in_both_views(mnist):
    """With distortions made per batch, an epoch is every (row, view) pair: twice the steps, each
    label twice, and the training accuracy still a share of the rows."""
    from digitnet.data.augment import Augment
    from digitnet.nn.optim import Adam
    from digitnet.training.batches import MiniBatches
    from digitnet.training.fit import fit

    X = mnist.train.images[:2000].reshape(2000, -1) / np.float32(255)
    y = mnist.train.labels[:2000].astype(np.int64)
    model = MLP([784, 64, 10], "relu", deskew="both", rng=0)
    batches = MiniBatches(model, X, y, 128, augment=Augment(shift=1.0))
    batches.start_epoch(0, np.random.default_rng(0))
    labels = np.concatenate([batches.batch(i)[1] for i in range(batches.steps)])
    assert batches.n == 4000 and batches.steps == 32 and np.array_equal(np.bincount(labels), 2 * np.bincount(y))
    optimizer = Adam(3e-3)
    history = fit(model, optimizer, X, y, epochs=2, batch_size=128, augment=Augment(shift=1.0),
                  validation=(mnist.train.images[2000:3000].reshape(1000, -1) / np.float32(255), mnist.train.labels[2000:3000]))
    assert optimizer.t == 2 * 32 and 0.8 < history.last["accuracy"] <= 1 and history.last["val_accuracy"] > 0.85


def test_the_command_line_takes_a_mode_and_a_bare_flag_means_on():
    from digitnet.app.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "--deskew"]).deskew == "on"
    assert parser.parse_args(["train", "--deskew", "both"]).deskew == "both"
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["train", "--deskew", "maybe"])
    assert stop.value.code == 2
