"""The digitnet command end to end: train, evaluate, predict on a saved model; bad arguments exit 2."""

import subprocess
import sys

import pytest
from PIL import Image

import background
from digitnet.app.cli import main
from quick import PLAIN
from tutorial_log import PUBLISHED


def digitnet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "digitnet", *map(str, args)], capture_output=True, text=True, env=env)


#: a small model trained through the command, for the commands that read one
TRAINED = background.digitnet("cli-train", "train", "--hidden", "64", "--epochs", "1", "--seed", "3", *PLAIN,
                              "--out", "{folder}/small.safetensors")


pytestmark = pytest.mark.background(TRAINED)  # started as soon as this file's tests are collected


@pytest.fixture
def trained(ran):
    result = ran(TRAINED)
    assert result.returncode == 0, result.stderr
    return result.folder / "small.safetensors", result.stdout


def test_train_saves_a_model_and_reports_test_accuracy(trained):
    path, out = trained
    assert path.is_file()
    assert "test accuracy: 9" in out and f"model saved to {path}" in out
    assert "\x1b[" not in out  # not a terminal: no escape codes


def test_evaluate(trained, capsys):
    path, _ = trained
    assert main(["evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "95% CI" in out and "confusion matrix" in out


def test_predict_index_shows_the_image_and_ten_probabilities(trained, capsys):
    path, _ = trained
    assert main(["predict", str(path), "--index", "0"]) == 0
    out = capsys.readouterr().out
    assert "test image 0 (true label 7)" in out and "predicted: 7" in out
    assert "█" in out and out.count("%") >= 11


def test_predict_without_a_model_uses_the_latest(trained, digitnet_home, capsys):
    path, _ = trained
    from digitnet import paths

    paths.remember_latest(path)
    assert main(["predict", "--index", "0"]) == 0
    assert "predicted: 7" in capsys.readouterr().out


def test_python_dash_m_digitnet_is_the_command():
    result = digitnet("--version")
    assert result.returncode == 0 and result.stdout.startswith("digitnet ")


def test_predict_png(trained, mnist, tmp_path, capsys):
    path, _ = trained
    # Test image 1 (a 2), drawn dark on light and larger, as a user would scan it.
    big = Image.fromarray(255 - mnist.test.images[1]).resize((140, 140), Image.Resampling.BICUBIC)
    png = tmp_path / "two.png"
    big.save(png)
    assert main(["predict", str(path), str(png)]) == 0
    assert "predicted: 2" in capsys.readouterr().out


#: the tutorial's run through the command, on the default path: the compiled kernels
SEED = background.digitnet("seed-cli", "train", "--recipe", "seed", "--out", "{folder}/seed.safetensors",
                           env={"DIGITNET_KERNELS": None})


@pytest.mark.background(SEED)
def test_seed_recipe_prints_the_tutorials_lines(ran):
    result = ran(SEED)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Cost after")]  # progress: on stderr
    # on the compiled kernels (tests/test_tutorial.py: the same on the NumPy path), each line followed by the
    # mean cross-entropy the tutorial's cost stands for
    assert [line.split("  | ")[0] for line in lines] == PUBLISHED
    assert "test accuracy: 86.5" in result.stdout


def test_default_output_goes_to_the_user_data_dir_and_becomes_latest(digitnet_home, capsys):
    assert main(["train", "--hidden", "16", "--epochs", "1", *PLAIN]) == 0
    out = capsys.readouterr().out
    saved = list((digitnet_home / "models").glob("default-*.safetensors"))
    assert len(saved) == 1 and str(saved[0]) in out
    assert main(["evaluate"]) == 0  # no MODEL: the latest


@pytest.mark.parametrize("args, message", [
    (["train", "--lr", "-1"], "learning rate must be > 0"),
    (["train", "--batch-size", "0"], "batch size must be >= 1"),
    (["train", "--batch-size", "lots"], "'lots' is not an integer"),
    (["train", "--activation", "swish"], "invalid choice: 'swish'"),
    (["train", "--hidden", "16,x"], "not a comma-separated list"),
    (["train", "--recipe", "nope"], "unknown recipe 'nope'"),
    (["train", "--epochs", "0"], "epochs must be >= 1"),
    (["train", "--dropout", "1.5"], "dropout must be < 1"),
    (["predict", "m.safetensors"], "give either --index N or one or more IMAGE files"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_data_errors_exit_1(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.safetensors")]) == 1
    assert "none.safetensors: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    model = tmp_path / "m.safetensors"
    from digitnet import MLP, save_model

    save_model(model, MLP([784, 8, 10]))
    assert main(["predict", str(model), str(bad)]) == 1
    assert "bad.png: not a readable image" in capsys.readouterr().err


def test_config_file_and_flag_precedence(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('hidden = [8]\nepochs = 1\nbatch_size = "full"\nlr = 0.5\noptimizer = "sgd"\nschedule = "constant"\n')
    out = tmp_path / "m.safetensors"
    assert main(["train", "--config", str(config), "--hidden", "12", *PLAIN, "--out", str(out)]) == 0
    from digitnet import load_model

    model = load_model(out)
    assert model.sizes == [784, 12, 10]
    assert model.metadata["config"]["batch_size"] is None and model.metadata["config"]["lr"] == 0.5
    config.write_text("hiden = [8]\n")
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", str(config)])
    assert info.value.code == 2 and "unknown setting(s) hiden" in capsys.readouterr().err


def test_options_anywhere_among_the_positionals_of_every_command(trained, tmp_path, capsys):
    """`predict MODEL --json A B` (defect: argparse stopped taking positionals after an option), and the
    same for every command that takes positionals: each parses to the same arguments either way."""
    from digitnet.app.cli import build_parser

    path, _ = trained
    pictures = []
    for k in range(2):
        pictures.append(tmp_path / f"d{k}.png")
        Image.new("L", (40, 40), 255).save(pictures[-1])
    assert main(["predict", str(path), "--json", *map(str, pictures)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all('"verdict"' in line for line in lines)
    parser = build_parser()
    for a, b in ((["predict", "m.safetensors", "a.png", "b.png", "--json"],
                  ["predict", "--json", "m.safetensors", "a.png", "b.png"]),
                 (["evaluate", "m.safetensors", "--json"], ["evaluate", "--json", "m.safetensors"]),
                 (["report", "m.safetensors", "--out", "r"], ["report", "--out", "r", "m.safetensors"]),
                 (["card", "m.safetensors", "--out", "c.md"], ["card", "--out", "c.md", "m.safetensors"]),
                 (["export", "m.safetensors", "--onnx", "m.onnx"], ["export", "--onnx", "m.onnx", "m.safetensors"]),
                 (["finetune", "m.safetensors", "--epochs", "2"], ["finetune", "--epochs", "2", "m.safetensors"]),
                 (["serve", "m.safetensors", "--port", "9"], ["serve", "--port", "9", "m.safetensors"]),
                 (["datasets", "verify", "mnist"], ["datasets", "verify", "mnist"]),
                 (["datasets", "export", "personal", "d"], ["datasets", "export", "personal", "d"])):
        assert vars(parser.parse_args(a)) == vars(parser.parse_args(b)), (a, b)
    assert vars(parser.parse_args(["predict", "--json", "m.safetensors", "a.png", "b.png"]))["paths"][2].name == "b.png"
