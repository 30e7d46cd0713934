"""Datasets fetched on first use: download, checksum refusal, mirror fallback, offline message — against a
local HTTP server on 127.0.0.1 serving generated IDX files."""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from digitnet import DataError, datasets
from digitnet.data.idx import encode_idx
from digitnet.data.registry import FILES


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)  # shutdown() waits a poll
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def generated_dataset():
    """Four small IDX files: (gz bytes, md5 of gz, sha256 of raw) per file stem."""
    rng = np.random.default_rng(0)
    arrays = {
        FILES[0]: rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), FILES[1]: rng.integers(0, 10, 50).astype(np.uint8),
        FILES[2]: rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), FILES[3]: rng.integers(0, 10, 20).astype(np.uint8),
    }
    out = {}
    for stem, array in arrays.items():
        raw = encode_idx(array)
        gz = gzip.compress(raw, mtime=0)
        out[stem] = (gz, hashlib.md5(gz).hexdigest(), hashlib.sha256(raw).hexdigest())
    return out


@pytest.fixture
def registered(monkeypatch, tmp_path, server):
    """A registry entry 'testset' whose mirrors are directories of the local server."""
    root, base = server
    files = generated_dataset()
    info = dataclasses.replace(datasets.REGISTRY["fashion-mnist"], name="testset",
                               urls=(f"{base}/mirror1/", f"{base}/mirror2/"),
                               md5={s: f[1] for s, f in files.items()}, sha256={s: f[2] for s, f in files.items()})
    monkeypatch.setitem(datasets.REGISTRY, "testset", info)
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    return root, files, tmp_path / "cache" / "datasets" / "testset"


def publish(root, mirror, files, corrupt=()):
    (root / mirror).mkdir(exist_ok=True)
    for stem, (gz, _, _) in files.items():
        data = bytearray(gz)
        if stem in corrupt:
            data[len(data) // 2] ^= 0xFF
        (root / mirror / f"{stem}.gz").write_bytes(bytes(data))


def test_downloads_on_first_use_and_verifies(registered):
    root, files, cache = registered
    publish(root, "mirror1", files)
    ds = datasets.load("testset")
    assert ds.name == "testset" and ds.train.features().shape == (50, 784) and len(ds.test) == 20
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in FILES)
    assert ds.sha256 == {s: f[2] for s, f in files.items()}
    (root / "mirror1" / f"{FILES[0]}.gz").unlink()  # second load: from the cache, no network
    assert datasets.load("testset").train.images.shape == (50, 28, 28)


def test_mirror_fallback_when_the_first_is_missing(registered):
    root, files, cache = registered
    publish(root, "mirror2", files)  # mirror1 answers 404
    assert len(datasets.load("testset").train) == 50


def test_corrupted_bytes_are_refused_and_nothing_is_cached(registered):
    root, files, cache = registered
    publish(root, "mirror1", files, corrupt=(FILES[2],))
    publish(root, "mirror2", files, corrupt=(FILES[2],))
    with pytest.raises(DataError, match="checksum mismatch") as info:
        datasets.load("testset")
    assert f"{FILES[2]}.gz" in str(info.value) and str(cache) in str(info.value)
    assert not (cache / f"{FILES[2]}.gz").exists()
    assert not [p for p in cache.iterdir() if FILES[2] in p.name]  # no partial or temporary file either


def test_corrupted_first_mirror_falls_back_to_a_good_one(registered):
    root, files, cache = registered
    publish(root, "mirror1", files, corrupt=FILES)
    publish(root, "mirror2", files)
    assert len(datasets.load("testset").test) == 20


def test_offline_message_says_what_to_download_and_where(monkeypatch, tmp_path):
    info = dataclasses.replace(datasets.REGISTRY["kmnist"], urls=("http://127.0.0.1:9/kmnist/",))
    monkeypatch.setitem(datasets.REGISTRY, "kmnist", info)
    monkeypatch.setenv("DIGITNET_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError) as exc:
        datasets.load("kmnist")
    message = str(exc.value)
    assert "kmnist is not available offline" in message and "http://127.0.0.1:9/kmnist/train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "cache" / "datasets" / "kmnist") in message and "--data DIR" in message


def test_datasets_cli(registered, capsys):
    from digitnet.app.cli import main

    root, files, cache = registered
    publish(root, "mirror2", files)
    assert main(["datasets", "download", "testset"]) == 0
    assert "testset downloaded and verified" in capsys.readouterr().err  # a message: on stderr
    assert main(["datasets", "verify", "testset"]) == 0
    assert capsys.readouterr().out.count(" ok") == 4
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "embedded" in out and "downloaded (" in out
    with pytest.raises(SystemExit) as info:
        main(["datasets", "download", "nope"])
    assert info.value.code == 2


DEBIAN = "/usr/share/datasets/fashion-mnist"


def test_debian_fashion_mnist_is_identified_and_trains():
    """.ci/run installs Debian's dataset-fashion-mnist; it is recognised by content, not by its archives."""
    ds = datasets.load(DEBIAN)
    assert ds.name == "fashion-mnist" and ds.classes[9] == "Ankle boot"
    assert (len(ds.train), len(ds.test)) == (60000, 10000)
    from digitnet.run.recipes import TrainConfig, train

    result = train(TrainConfig(hidden=(64,), epochs=1, data=DEBIAN), ds)
    assert result.metadata["test_accuracy"] > 0.78
    assert result.metadata["dataset"] == "fashion-mnist"
