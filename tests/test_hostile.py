"""Hostile input, each reproducing a reported defect: no traceback, a clear message naming the path, exit 1."""

import os
import subprocess
import sys

import pytest

from digitnet.cli import main


def digitnet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "digitnet", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("flag", ["--out", "--log"])
def test_an_output_file_that_is_a_directory_is_refused_before_training(tmp_path, flag, capsys):
    target = tmp_path / "d"
    target.mkdir()
    args = ["train", "--hidden", "8", "--epochs", "1", "--outliers", "0", "--validation", "0", flag, str(target)]
    if flag != "--out":
        args += ["--out", str(tmp_path / "m.safetensors")]
    assert main(args) == 1
    err = capsys.readouterr()
    assert f"{flag} {target}: is a directory" in err.err and "Traceback" not in err.err
    assert "training" not in err.out  # refused before any training started


@pytest.mark.parametrize("flag", ["--plots", "--checkpoint-dir"])
def test_an_output_directory_that_is_a_file_is_refused_before_training(tmp_path, flag, capsys):
    target = tmp_path / "f"
    target.write_text("x")
    assert main(["train", "--hidden", "8", "--epochs", "1", flag, str(target), "--out", str(tmp_path / "m.safetensors")]) == 1
    assert f"{flag} {target}: is a file, expected a directory" in capsys.readouterr().err


def test_unwritable_output_directory(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a path under a file instead
            target = tmp_path / "file"
            target.write_text("x")
            out = target / "sub" / "m.safetensors"
        else:
            out = locked / "m.safetensors"
        assert main(["train", "--hidden", "8", "--epochs", "1", "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert "--out" in err and "Traceback" not in err
    finally:
        locked.chmod(0o700)


def test_report_and_augment_outputs_are_checked(tmp_path, capsys):
    target = tmp_path / "d"
    target.mkdir()
    assert main(["augment", "--show", str(target)]) == 1
    assert f"--show {target}: is a directory" in capsys.readouterr().err
    afile = tmp_path / "f"
    afile.write_text("x")
    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    assert main(["report", str(model), "--out", str(afile)]) == 1
    assert f"--out {afile}: is a file, expected a directory" in capsys.readouterr().err


def test_an_unwritable_latest_pointer_is_a_warning_not_a_failure(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").write_text("not a directory")  # the pointer cannot be written under it
    out = tmp_path / "m.safetensors"
    result = digitnet("train", "--hidden", "8", "--epochs", "1", "--outliers", "0", "--validation", "0",
                      "--out", out, env={"DIGITNET_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert out.is_file() and f"model saved to {out}" in result.stdout
    assert "warning: could not record" in result.stderr and "Traceback" not in result.stderr
