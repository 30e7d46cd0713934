"""Taking a model elsewhere: ONNX (same answers as digitnet), a model card, JSON from the command line."""

import json
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml

import background
from digitnet import ACTIVATIONS, MLP, evaluate, save_model
from digitnet.app.cli import main
from digitnet.app.export.onnx_model import to_onnx
from digitnet.reading.verdict import decide
from quick import PLAIN


def _run(proto, X):
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    probabilities, labels = session.run(["probabilities", "label"], {"pixels": X})
    return probabilities, labels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_and_dtype_exports_with_the_same_answers(mnist, activation, dtype):
    model = MLP([784, 48, 32, 10], activation, rng=5, dtype=dtype)  # two hidden layers: depth is exercised
    X = mnist.test.features(dtype)
    probabilities, labels = _run(to_onnx(model), X)
    assert probabilities.dtype == np.dtype(dtype) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=0, atol=1e-5)


def test_one_layer_and_deep_models_export(mnist):
    X = mnist.test.features()[:500]
    for sizes in ([784, 10], [784, 32, 32, 32, 32, 10]):
        model = MLP(sizes, "tanh", rng=2)
        np.testing.assert_array_equal(_run(to_onnx(model), X)[1], model.predict(X))


def test_the_default_model_through_the_command_on_all_10000_test_images(default_model, mnist, tmp_path):
    path = save_model(tmp_path / "m.safetensors", default_model)
    out = tmp_path / "m.onnx"
    assert main(["export", str(path), "--onnx", str(out)]) == 0
    proto = onnx.load(out)
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["pixels"]
    assert [o.name for o in proto.graph.output] == ["probabilities", "label", "logits"]
    assert {op.domain: op.version for op in proto.opset_import}[""] == 17
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["architecture"] == "784-256-256-10 relu" and json.loads(props["classes"]) == [str(i) for i in range(10)]
    assert float(props["test_accuracy"]) == default_model.metadata["test_accuracy"]
    assert "digitnet_version" in props and "preprocessing" in props and "temperature" in json.loads(props["calibration"])
    X = mnist.test.features()
    probabilities, labels = _run(proto, X)
    np.testing.assert_array_equal(labels, default_model.predict(X))  # every one of the 10,000
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"pixels": X})
    assert np.abs(logits - default_model.logits(X)).max() <= 1e-4
    # the probabilities are calibrated: the confidences read() reports, not the raw softmax
    temperature = default_model.metadata["calibration"]["temperature"]
    assert temperature != 1 and float(props["temperature"]) == temperature
    readings = decide(default_model, mnist.test.images[:200] / np.float32(255), [None] * 200)
    assert np.abs(probabilities[:200] - np.array([r.probabilities for r in readings])).max() <= 1e-5


def test_export_without_onnx_installed_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    path = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails, as when it is not installed
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(path), "--onnx", str(tmp_path / "m.onnx")])
    assert exit_.value.code == 2
    assert "pip install 'digitnet[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_export_needs_a_format(tmp_path):
    path = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(path)])
    assert exit_.value.code == 2


def test_model_card_has_front_matter_and_measured_sections(default_model, mnist, tmp_path, capsys):
    path = save_model(tmp_path / "m.safetensors", default_model)
    results = tmp_path / "hw.json"
    results.write_text(json.dumps({"results": {"default": {
        "digits": {"fontA": {"n": 10, "correct": 9, "refused": 1, "wrong": 0},
                   "fontB": {"n": 10, "correct": 5, "refused": 3, "wrong": 2}},
        "nondigits": {"doodles": {"n": 20, "refused": 19}}}}}))
    card = tmp_path / "README.md"
    assert main(["card", str(path), "--out", str(card), "--handwriting", str(results)]) == 0
    text = card.read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["library_name"] == "digitnet" and front["license"] == "cc-by-sa-3.0" and front["datasets"] == ["mnist"]
    accuracy = evaluate(default_model, mnist.test).accuracy
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] == pytest.approx(accuracy)
    for section in ("## Intended use", "## Training", "## Evaluation", "## Limitations", "## Licence"):
        assert section in text
    assert "Creative Commons Attribution-Share Alike 3.0" in text and "MIT License" in text  # weights: the data's terms
    assert f"{accuracy * 100:.2f}%" in text and "Refusals on the test digits" in text
    assert "70.0% read correctly, 20.0% refused, 10.0% wrong" in text and "doodles 95.0%" in text
    assert "fontB (50% read correctly)" in text  # the worst font is named
    assert "seed 0" in text and "s of training on" in text  # recipe, seed and machine


def test_evaluate_json_and_datasets_list_json(default_model, tmp_path, capsys):
    path = save_model(tmp_path / "m.safetensors", default_model)
    assert main(["evaluate", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"accuracy", "interval", "per_class", "confusion", "correct", "total"}
    assert result["total"] == 10000 and np.asarray(result["confusion"]).sum() == 10000
    assert result["interval"][0] < result["accuracy"] < result["interval"][1] and len(result["per_class"]) == 10
    assert main(["datasets", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in rows} >= {"mnist", "fashion-mnist", "kmnist"}
    assert all(set(r) == {"name", "description", "state", "path"} for r in rows)


def _coloured_train(name: str, **extra: str) -> str:
    """Training through the command on a colour terminal's environment (with ``extra``)."""
    return background.digitnet(name, "train", "--hidden", "16", "--epochs", "1", *PLAIN, "--out", "{folder}/m.safetensors",
                               env={"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color", **extra})


COLOUR, NO_COLOUR = _coloured_train("colour-train"), _coloured_train("no-colour-train", NO_COLOR="1")


@pytest.mark.background(COLOUR)
@pytest.mark.background(NO_COLOUR)
def test_no_color_is_honoured(ran):
    """A colour terminal gets coloured progress bars; with NO_COLOR, styles (bold) but no colour.
    Results go to stdout, progress to stderr."""
    colour = re.compile(r"\x1b\[(3[0-7]|9[0-7]|38;)[0-9;]*m")  # foreground colours, 16 and 256
    coloured, plain = ran(COLOUR), ran(NO_COLOUR)
    assert coloured.returncode == 0 and plain.returncode == 0, coloured.stderr + plain.stderr
    assert colour.search(coloured.stderr)  # the progress bars, on stderr
    assert "test accuracy" in plain.stdout and "\x1b[1m" in plain.stderr and not colour.search(plain.stdout + plain.stderr)


def test_web_export_carries_the_weights_and_the_rules_constants(default_model, tmp_path):
    import base64

    from digitnet.app.export.web import export_web
    from digitnet.reading.geometry import GEOMETRY

    size = export_web(default_model, tmp_path / "web")
    files = {f.name for f in (tmp_path / "web").iterdir()}
    assert files == {"index.html", "model.js", "digitnet.js", "app.js", "style.css", "favicon.svg"}
    assert size == sum(f.stat().st_size for f in (tmp_path / "web").iterdir())
    script = (tmp_path / "web" / "model.js").read_text()
    spec = json.loads(script[script.index("{"):script.rindex("}") + 1])
    weights = np.frombuffer(base64.b64decode(spec["weights"]), "<f4")
    np.testing.assert_array_equal(weights, np.concatenate([p.ravel() for p in default_model.params.values()]))
    assert spec["constants"].items() >= GEOMETRY.items()
    assert spec["calibration"]["temperature"] == default_model.metadata["calibration"]["temperature"]
    html = (tmp_path / "web" / "index.html").read_text()
    assert "/static/" not in html and html.index("model.js") < html.index("digitnet.js") < html.index("app.js")


def test_web_export_refuses_a_model_that_is_not_for_28x28_pictures(tmp_path):
    path = save_model(tmp_path / "m.safetensors", MLP([64, 8, 10]))
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(path), "--web", str(tmp_path / "web")])
    assert exit_.value.code == 2
