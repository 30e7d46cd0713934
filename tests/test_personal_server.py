"""Personal learning and the server, trusted: the personal set's checks, races and salvage, the fine-tuning
state machine, the model's classes, the server's lifecycle (restart, temporary files, old models) and its
messages. Each test reproduces a defect found by trying them."""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from digitnet import MLP, save_model
from digitnet.app.cli import main
from digitnet.app.serve import create_app, learning
from digitnet.data import idx
from digitnet.data.idx import write_idx
from digitnet.errors import UsageError
from digitnet.run import personal

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _image(mnist, i):
    return mnist.test.images[i] / 255.0


def _tiny(tmp_path, name="m.safetensors", sizes=(784, 8, 10), seed=0, **meta):
    """A small model file (its weights are random: these tests are about the server, not its accuracy)."""
    return save_model(tmp_path / name, MLP(list(sizes), rng=seed), meta)


def _fill(mnist, n=12):
    for i in range(n):
        personal.add(_image(mnist, i), int(mnist.test.labels[i]))


def _wait(client, seconds=60):
    """The fine-tuning job once it is no longer running (or as it is after ``seconds``)."""
    deadline = time.monotonic() + seconds
    job = client.get("/api/finetune").json()
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get("/api/finetune").json()
    return job


def _quick_finetune(model, images, labels, dataset, **kwargs):
    """Stands in for the real fine-tuning (a minute of training): a changed copy of the model, at once."""
    tuned = copy.deepcopy(model)
    tuned.set_params({name: value * 1.5 for name, value in model.params.items()})
    tuned.metadata = {**model.metadata, "finetuned": {"personal_samples": len(images)}}
    return SimpleNamespace(model=tuned, seconds=0.01, samples=len(images), test_accuracy_before=0.5,
                           test_accuracy_after=0.5)


# ---- the fine-tuning state machine: every exception ends in `failed`, with its message ----

def test_a_finetune_failing_with_any_exception_ends_failed_and_a_new_one_may_start(tmp_path, mnist, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("weights went sideways")

    monkeypatch.setattr(learning, "finetune", broken)
    _fill(mnist)
    with TestClient(create_app(_tiny(tmp_path))) as client:
        assert client.post("/api/finetune").status_code == 202
        job = _wait(client)
        assert job["state"] == "failed" and "weights went sideways" in job["message"], job
        assert client.post("/api/finetune").status_code == 202  # not stuck "running": the next run starts
        assert _wait(client)["state"] == "failed"


def test_a_save_that_cannot_happen_fails_before_training(tmp_path, mnist, monkeypatch, digitnet_home):
    trained = []
    monkeypatch.setattr(learning, "finetune", lambda *a, **k: trained.append(1) or _quick_finetune(*a, **k))
    _fill(mnist)
    digitnet_home.mkdir(exist_ok=True)
    (digitnet_home / "models").write_text("a file where the models directory should be")
    with TestClient(create_app(_tiny(tmp_path))) as client:
        response = client.post("/api/finetune")
        assert response.status_code == 507 and str(digitnet_home / "models") in response.json()["detail"]
        assert client.get("/api/finetune").json()["state"] != "running"
    assert trained == []  # refused before any training


# ---- a model reads its own classes: the personal set holds digits ----

@pytest.mark.parametrize("meta", [{"sizes": (784, 8, 3)}, {"classes": FASHION, "dataset": "fashion-mnist"}],
                         ids=["3 classes", "fashion-mnist"])
def test_a_model_of_other_classes_neither_keeps_nor_learns_digits(tmp_path, mnist, meta):
    _fill(mnist)
    path = _tiny(tmp_path, **meta)
    with TestClient(create_app(path)) as client:
        started = client.post("/api/finetune")
        assert started.status_code == 409 and "digits" in started.json()["detail"], started.json()
        assert client.get("/api/finetune").json()["state"] != "running"
        kept = client.post("/api/corrections", json={"pixels": list(_image(mnist, 0).ravel()), "label": 0})
        assert kept.status_code == 409 and "digits" in kept.json()["detail"]
    assert sum(personal.counts()) == 12  # the set is unchanged


def test_finetune_refuses_labels_the_model_has_no_class_for(mnist):
    from digitnet.run.finetune import finetune

    images, labels = mnist.test.images[:12], mnist.test.labels[:12].astype(np.uint8)
    with pytest.raises(UsageError, match="label"):
        finetune(MLP([784, 8, 3], rng=0), images, labels, mnist, epochs=1)


def test_the_cli_finetune_refuses_a_model_of_other_classes(tmp_path, mnist, monkeypatch, capsys):
    from digitnet.run import finetune as finetune_module

    monkeypatch.setattr(finetune_module, "finetune", lambda *a, **k: pytest.fail("it trained"))
    _fill(mnist)
    path = _tiny(tmp_path, classes=FASHION)  # trained on a folder of 10 classes that are not digits
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", str(path)])
    assert exit_.value.code == 2 and "digits" in capsys.readouterr().err


def test_a_model_of_other_classes_reads_without_the_digit_geometry(tmp_path):
    """Two marks side by side are `several_marks` for a digit model; a sandal has two parts."""
    from digitnet import read

    picture = np.zeros((100, 100), np.float32)
    picture[30:70, 10:30] = picture[30:70, 70:90] = 1.0
    assert read(MLP([784, 8, 10], rng=0), picture).reason == "several_marks"
    clothes = MLP([784, 8, 10], rng=0)
    clothes.metadata = {"classes": FASHION}
    assert read(clothes, picture).reason in (None, "unfamiliar")


def test_serve_refuses_a_model_that_does_not_read_pictures(tmp_path, capsys):
    path = _tiny(tmp_path, sizes=(100, 8, 10))
    with pytest.raises(UsageError, match="784"):
        create_app(path)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(path)])
    assert exit_.value.code == 2 and "784 inputs" in capsys.readouterr().err


# ---- the read race: concurrent corrections and reads ----

def test_read_idx_reads_the_file_it_opened_when_a_writer_renames_over_it(tmp_path, monkeypatch):
    path = tmp_path / "labels"
    write_idx(path, np.arange(5, dtype=np.uint8))
    real_open = open

    def open_then_replace(file, *args, **kwargs):
        handle = real_open(file, *args, **kwargs)
        if Path(file) == path:  # a writer renames a longer file over it just after it was opened
            write_idx(path, np.arange(9, dtype=np.uint8))
        return handle

    monkeypatch.setattr(idx, "open", open_then_replace, raising=False)
    assert idx.read_idx(path).tolist() == [0, 1, 2, 3, 4]


def test_corrections_and_reads_from_12_threads_all_succeed(tmp_path, mnist):
    pixels = [list(_image(mnist, i).ravel()) for i in range(25)]
    statuses: list[int] = []
    with TestClient(create_app(_tiny(tmp_path))) as client:
        def worker(k):
            for j in range(25):
                statuses.append(client.post("/api/corrections", json={"pixels": pixels[j], "label": k % 10}).status_code)
                statuses.append(client.get("/api/corrections").status_code)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses.count(200) == 600, {s: statuses.count(s) for s in set(statuses)}
        assert client.get("/api/corrections").json()["count"] == 300


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(model_path, port, *extra):
    return subprocess.Popen([sys.executable, "-m", "digitnet", "serve", str(model_path), "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _until_healthy(port, server, seconds=60):
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer")


def test_corrections_and_reads_across_two_worker_processes_all_succeed(tmp_path, mnist):
    import httpx

    port, path = _free_port(), _tiny(tmp_path)
    server = _serve(path, port, "--workers", "2")
    statuses: list[int] = []
    try:
        _until_healthy(port, server)
        pixels = list(_image(mnist, 0).ravel())

        def worker(k):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                for _ in range(20):
                    statuses.append(http.post("/api/corrections", json={"pixels": pixels, "label": k % 10}).status_code)
                    statuses.append(http.get("/api/corrections").status_code)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses.count(200) == 800, {s: statuses.count(s) for s in set(statuses)}
        assert httpx.get(f"http://127.0.0.1:{port}/api/corrections").json()["counts"] == [40] * 10
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---- a damaged personal set: named, never a traceback, never written over; repaired keeping its intact prefix ----

def _damage(kind: str, mnist) -> None:
    """A personal set of 15 samples, damaged as ``kind`` says (from sample 12 on, where it can be)."""
    folder = personal.directory()
    images, labels = mnist.test.images[:15].copy(), mnist.test.labels[:15].astype(np.uint8)
    if kind == "int32 label -5":
        labels = labels.astype(np.int32)
        labels[12] = -5
    elif kind == "uint8 label 200":
        labels[12] = 200
    elif kind == "int8 label -1":
        labels = labels.astype(np.int8)
        labels[12] = -1
    elif kind == "float images with NaN":
        images = images.astype(np.float32)
        images[12, 3, 3] = np.nan
    write_idx(folder / personal.IMAGES, images)
    write_idx(folder / personal.LABELS, labels)


DAMAGE = ["int32 label -5", "uint8 label 200", "int8 label -1", "float images with NaN"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_set_is_refused_by_name_and_left_as_it_is(kind, tmp_path, mnist, capsys):
    _damage(kind, mnist)
    files = {name: (personal.directory() / name).read_bytes() for name in (personal.IMAGES, personal.LABELS)}
    with TestClient(create_app(_tiny(tmp_path))) as client:
        for response in (client.get("/api/corrections"), client.post("/api/finetune"),
                         client.post("/api/corrections", json={"pixels": list(_image(mnist, 0).ravel()), "label": 3})):
            detail = response.json()["detail"]
            assert response.status_code == 503 and "repair personal" in detail and str(personal.directory()) in detail
    assert {name: (personal.directory() / name).read_bytes() for name in files} == files  # nothing saved
    assert main(["datasets", "list"]) == 0
    assert "damaged" in capsys.readouterr().out
    assert main(["datasets", "export", "personal", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert str(personal.directory()) in err and "Traceback" not in err


@pytest.mark.parametrize("kind", DAMAGE)
def test_finetune_from_a_damaged_folder_is_an_error(kind, tmp_path, mnist, monkeypatch, capsys):
    from digitnet.run import finetune as finetune_module

    monkeypatch.setattr(finetune_module, "finetune", lambda *a, **k: pytest.fail("it trained"))
    _damage(kind, mnist)
    assert main(["finetune", str(_tiny(tmp_path)), "--data", str(personal.directory())]) == 1
    err = capsys.readouterr().err
    assert str(personal.directory()) in err and "Traceback" not in err


@pytest.mark.parametrize("kind", DAMAGE)
def test_repair_keeps_the_intact_prefix(kind, mnist, capsys):
    _damage(kind, mnist)
    assert main(["datasets", "repair", "personal"]) == 0
    out = capsys.readouterr().out
    assert "kept 12" in out and "3 dropped" in out
    images, labels = personal.load()
    np.testing.assert_array_equal(images, mnist.test.images[:12])
    assert labels.tolist() == mnist.test.labels[:12].tolist()
    backups = list(personal.directory().glob("damaged-*"))
    assert len(backups) == 1 and {p.name for p in backups[0].iterdir()} == {personal.IMAGES, personal.LABELS}
    assert personal.add(_image(mnist, 20), 4) == 13  # usable again


def test_repair_keeps_the_whole_images_of_a_truncated_file(mnist, capsys):
    _fill(mnist, 5)
    path = personal.directory() / personal.IMAGES
    path.write_bytes(path.read_bytes()[:-400])  # the last image cut in half
    assert main(["datasets", "repair", "personal"]) == 0
    assert "kept 4" in capsys.readouterr().out
    assert personal.load()[1].tolist() == mnist.test.labels[:4].tolist()


def test_repair_of_a_healthy_set_changes_nothing(mnist, capsys):
    _fill(mnist, 3)
    before = (personal.directory() / personal.LABELS).read_bytes()
    assert main(["datasets", "repair", "personal"]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert (personal.directory() / personal.LABELS).read_bytes() == before
    assert not list(personal.directory().glob("damaged-*"))


# ---- lifecycle: a restart finds the personal model; temporary files and old models are cleaned up ----

def test_a_restart_reloads_the_personal_model_of_the_same_base(tmp_path, mnist, monkeypatch):
    monkeypatch.setattr(learning, "finetune", _quick_finetune)
    _fill(mnist)
    path = _tiny(tmp_path)
    with TestClient(create_app(path)) as client:
        client.post("/api/finetune")
        assert _wait(client)["state"] == "done"
    with TestClient(create_app(path)) as client:  # the server restarted
        assert client.get("/api/finetune").json()["personal_available"]
        assert client.post("/api/model/use", json={"model": "personal"}).json()["using"] == "personal"
    with TestClient(create_app(_tiny(tmp_path, "other.safetensors", seed=1))) as client:  # another base model
        assert not client.get("/api/finetune").json()["personal_available"]


def test_old_temporary_files_are_removed_on_start(tmp_path, digitnet_home):
    old, fresh = [], []
    for folder in (digitnet_home / "models", digitnet_home / "personal"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, bucket, age in ((".x.safetensors.a1b2c3d4.tmp", old, 7200), (".y.b2c3d4e5.tmp", fresh, 10)):
            (folder / name).write_bytes(b"left by a process killed mid-write")
            os.utime(folder / name, (time.time() - age, time.time() - age))
            bucket.append(folder / name)
    keep = digitnet_home / "models" / "notes.tmp"  # not one of ours
    keep.write_text("x")
    os.utime(keep, (time.time() - 7200, time.time() - 7200))
    create_app(_tiny(tmp_path))
    assert not any(p.exists() for p in old) and all(p.exists() for p in fresh) and keep.exists()


def test_only_the_newest_personal_models_are_kept(tmp_path, mnist, monkeypatch, digitnet_home):
    monkeypatch.setattr(learning, "finetune", _quick_finetune)
    _fill(mnist)
    with TestClient(create_app(_tiny(tmp_path))) as client:
        for i in range(5):
            client.post("/api/finetune")
            assert _wait(client)["state"] == "done"
            for made in (digitnet_home / "models").glob("personal-*.safetensors"):  # as if made on other days
                if not made.name.startswith("personal-2020"):
                    made.rename(made.with_name(f"personal-2020010{i}-000000.safetensors"))
        client.post("/api/finetune")
        assert _wait(client)["state"] == "done"
    left = sorted(p.name for p in (digitnet_home / "models").glob("personal-*.safetensors"))
    assert len(left) == learning.KEEP_PERSONAL_MODELS and "personal-20200104-000000.safetensors" in left, left
    assert not any(name.startswith("personal-2020010") and name < "personal-20200103" for name in left)


def test_starting_a_finetune_reads_the_set_off_the_event_loop(tmp_path, mnist, monkeypatch):
    import httpx

    monkeypatch.setattr(learning, "finetune", _quick_finetune)
    _fill(mnist)
    read_on = set()
    real = personal.load

    def recording_load(*args, **kwargs):
        read_on.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(personal, "load", recording_load)
    app = create_app(_tiny(tmp_path))

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            assert (await client.post("/api/finetune")).status_code == 202
            return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert read_on and loop_thread not in read_on


# ---- messages ----

def test_with_several_workers_fine_tuning_says_it_is_off_and_why(tmp_path):
    with TestClient(create_app(_tiny(tmp_path), learning=False)) as client:
        job = client.get("/api/finetune").json()
        assert job["state"] == "off" and "worker" in job["message"]
        refused = client.post("/api/model/use", json={"model": "personal"})
        assert refused.status_code == 409 and "worker" in refused.json()["detail"]
        assert "POST /api/finetune first" not in refused.json()["detail"]
        assert client.post("/api/finetune").status_code == 409


def test_two_files_in_one_upload_are_named_as_such(tmp_path):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (20, 20), 255).save(buffer, "PNG")
    files = [("file", ("a.png", buffer.getvalue(), "image/png")), ("file", ("b.png", buffer.getvalue(), "image/png"))]
    with TestClient(create_app(_tiny(tmp_path))) as client:
        response = client.post("/api/predict", files=files)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "HTTPException" not in detail and "one file" in detail, detail


def test_finetune_from_a_folder_that_is_not_there_says_so(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    with pytest.raises(SystemExit) as exit_:
        main(["finetune", str(_tiny(tmp_path)), "--data", str(missing)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"{missing}: no such directory" in err and "0 personal samples" not in err
