"""Checkpoints survive a crash: a training process killed with SIGKILL and resumed ends bit-identical."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import platformdirs
import pytest

import background
from digitnet import datasets, load_model
from digitnet.errors import ModelFileError
from digitnet.run.checkpoint import Checkpointer, checkpoints, read, restore
from digitnet.run.recipes import TrainConfig, build, train
from quick import PLAIN, mnist_folder

#: the default recipe (its made-up sets, both views, augmentation, dropout, epochs) on 6,000 MNIST digits, with
#: a twentieth of its made-up sets and a smaller network: 57 steps an epoch
ARGS = ["train", "--hidden", "64,32", "--epochs", "14", "--dropout", "0.1", "--validation", "0.1", "--seed", "5",
        "--synthetic-digits", "500", "--outliers", "700", "--low-resolution", "400", "--restyled-digits", "250"]


def kernels_env(path: str) -> dict:
    return {**os.environ, "DIGITNET_KERNELS": path}


def digitnet(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "digitnet", *map(str, args)], capture_output=True, text=True, **kwargs)


#: a data directory of the four IDX files: 6,000 MNIST training digits and 1,000 test digits (written when the
#: tests are collected, so that the reference run can start in the background then)
SIX_THOUSAND = mnist_folder(background.folder("six-thousand"), datasets.load("mnist"), 6000, 1000)
REFERENCE = background.digitnet("checkpoint-reference", *ARGS, "--data", str(SIX_THOUSAND), "--out", "{folder}/ref.safetensors",
                                one_core=False)  # the BLAS as the killed and resumed runs have it: compared bit for bit


@pytest.fixture
def reference(ran):
    """The run never killed, on the default path of the math."""
    result = ran(REFERENCE)
    assert result.returncode == 0, result.stderr
    return load_model(result.folder / "ref.safetensors")


@pytest.mark.background(REFERENCE)
@pytest.mark.parametrize("target_step, delay, killed_path, resumed_path",
                         [(37, 0.0, "numba", "numpy"), (400, 0.013, "numpy", "numba"), (600, 0.031, "numba", "numba")])
def test_sigkill_at_any_moment_then_resume_is_bit_identical(tmp_path, reference, target_step, delay,
                                                            killed_path, resumed_path):
    """Killed just after the checkpoint at step 37, and a little after those at steps 400 and 600
    (of 798; mid-step or mid-write), then resumed; the two parts on either path of the math (the compiled
    kernels or the NumPy reference, DIGITNET_KERNELS), against a reference trained on the default one."""
    ckpt, out = tmp_path / "ckpt", tmp_path / "run.safetensors"
    proc = subprocess.Popen([sys.executable, "-m", "digitnet", *ARGS, "--data", str(SIX_THOUSAND), "--checkpoint-dir", str(ckpt),
                             "--checkpoint-every", "37", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=kernels_env(killed_path))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = checkpoints(ckpt)
        if found and int(found[-1].stem.split("-")[1]) >= target_step:
            break
        time.sleep(0.005)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()
    killed_at = read(checkpoints(ckpt)[-1])[2]
    resumed = digitnet("train", "--resume", ckpt, env=kernels_env(resumed_path))
    assert resumed.returncode == 0, resumed.stderr
    model = load_model(out)
    for name, value in reference.params.items():
        assert np.array_equal(model.params[name], value), f"{name} differs after resuming at {killed_at['epoch']}"
    assert [r["loss"] for r in model.metadata["history"]["records"]] == \
           [r["loss"] for r in reference.metadata["history"]["records"]]


def test_keep_last_k_and_no_temp_files(tmp_path, mnist):
    train(TrainConfig(hidden=(16,), epochs=3), mnist, checkpoint_dir=tmp_path, checkpoint_every=100, keep=2)
    # the run's lock file stays, empty of state
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".lock"))
    assert names == [p.name for p in checkpoints(tmp_path)] and len(names) == 2
    assert names[-1] == "ckpt-0000001407.safetensors"  # 3 epochs x 469 steps


def test_divergence_stops_with_a_clear_message_and_keeps_good_files(tmp_path):
    ckpt, out = tmp_path / "ckpt", tmp_path / "m.safetensors"
    result = digitnet("train", "--hidden", "32", "--epochs", "3", "--optimizer", "sgd", "--schedule", "step", *PLAIN,
                      "--lr", "1e9", "--checkpoint-dir", ckpt, "--checkpoint-every", "50", "--out", out)
    assert result.returncode == 1
    assert "training stopped:" in result.stderr and "step" in result.stderr and "learning rate 1e+09" in result.stderr
    assert "try a smaller learning rate" in result.stderr
    assert not out.exists()
    for path in checkpoints(ckpt):  # whatever was written before is intact and finite
        tensors = read(path)[0]
        assert all(np.isfinite(t).all() for k, t in tensors.items() if k.startswith("model/"))


def test_resume_refuses_an_empty_or_foreign_directory(tmp_path, capsys):
    from digitnet.app.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", str(tmp_path)])
    assert info.value.code == 2 and "no checkpoints" in capsys.readouterr().err
    train(TrainConfig(hidden=(8,), epochs=1), __import__("digitnet").datasets.load("mnist"), checkpoint_dir=tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["train", "--checkpoint-dir", str(tmp_path)])
    assert info.value.code == 2 and "already holds checkpoints" in capsys.readouterr().err


def test_tampered_checkpoint_is_refused(tmp_path, mnist):
    config = TrainConfig(hidden=(8,), epochs=1)
    train(config, mnist, checkpoint_dir=tmp_path)
    path = checkpoints(tmp_path)[-1]
    data = bytearray(path.read_bytes())
    data[-10] ^= 1
    path.write_bytes(bytes(data))
    model, optimizer = build(config, 784, 10, 469)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        restore(path, model, optimizer)


def test_checkpointer_rejects_nonsense():
    from digitnet import UsageError

    with pytest.raises(UsageError, match="keep >= 1"):
        Checkpointer("x", keep=0)



def test_module_fixtures_train_outside_the_users_model_directory(reference):
    """The reference model above is trained in a module-scoped fixture, set up before each test's own
    DIGITNET_HOME: it used to point the user's own `latest` marker at a temporary file."""
    marker = platformdirs.user_data_path("digitnet") / "models" / "latest"
    assert not (marker.is_file() and "pytest-" in marker.read_text())
