import gzip

import numpy as np
import pytest

from digitnet import DataError, datasets
from digitnet.data.idx import TYPE_CODES, encode_idx, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type(tmp_path, dtype, suffix, rng):
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"a-idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_all_type_codes_covered():
    assert set(TYPE_CODES) == {0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E}


def header(code=0x08, dims=(2, 3)):
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes()


@pytest.mark.parametrize("data, message", [
    (b"", "truncated: ends before the 4-byte IDX magic"),
    (b"\x01\x02\x08\x01" + bytes(8), "not an IDX file (magic bytes 01020801"),
    (header(code=0x07) + bytes(6), "unknown IDX type code 0x07"),
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0]), "truncated: ends before 3 dimension sizes"),
    (header() + bytes(5), "header claims shape (2, 3) = 6 data bytes, file holds 5"),
    (header() + bytes(7), "header claims shape (2, 3) = 6 data bytes, file holds 7"),
    (header(dims=(2**32 - 1, 28, 28)) + bytes(10), "header claims shape (4294967295, 28, 28)"),
])
def test_malformed_raw_files(tmp_path, data, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(DataError, match=str(path)) as info:
        read_idx(path)
    assert message in str(info.value)


def test_truncated_gzip_data_and_corrupt_stream(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(header() + bytes(4)))
    # found from the gzip trailer before inflating anything: the stream holds 16 bytes in all, not 16 + 6 - 4
    with pytest.raises(DataError, match="header claims shape \\(2, 3\\) = 6 data bytes, but the gzip stream holds 16 bytes"):
        read_idx(path)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(header() + bytes(6000))[:30])
    with pytest.raises(DataError, match="cut.gz"):
        read_idx(cut)


def test_sha256_mismatch_is_refused(tmp_path):
    path = tmp_path / "a-idx"
    path.write_bytes(encode_idx(np.zeros((2, 2), np.uint8)))
    with pytest.raises(DataError, match="SHA-256 of the uncompressed data is .* expected 00"):
        read_idx(path, sha256="00" * 32)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")


def write_dataset(directory, n_train=5, n_test=3, labels_max=9, test_labels=None):
    rng = np.random.default_rng(0)
    write_idx(directory / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(directory / "train-labels-idx1-ubyte.gz", rng.integers(0, labels_max + 1, n_train).astype(np.uint8))
    write_idx(directory / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
    labels = test_labels if test_labels is not None else rng.integers(0, 10, n_test).astype(np.uint8)
    write_idx(directory / "t10k-labels-idx1-ubyte", labels)


def test_any_directory_of_idx_files_loads(tmp_path):
    write_dataset(tmp_path)
    ds = datasets.load(tmp_path)
    assert ds.train.features().shape == (5, 784) and ds.train.features().dtype == np.float32
    assert ds.test.images.shape == (3, 28, 28) and ds.test.images.dtype == np.uint8
    assert 0 <= ds.train.features().min() and ds.train.features().max() <= 1
    np.testing.assert_array_equal(ds.train.features(), ds.train.images.reshape(5, -1) / np.float32(255))


def test_label_out_of_range_and_count_mismatch(tmp_path):
    write_dataset(tmp_path, test_labels=np.array([1, 12, 3], np.uint8))
    with pytest.raises(DataError, match="label 12 at index 1 is out of range \\(expected 0 to 9\\)"):
        datasets.load(tmp_path)
    write_dataset(tmp_path, test_labels=np.array([1, 2], np.uint8))
    with pytest.raises(DataError, match="holds 3 images but .* holds 2 labels"):
        datasets.load(tmp_path)


def test_missing_file_in_directory(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        datasets.load(tmp_path)


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        datasets.load("nope")


def test_embedded_mnist(mnist):
    assert mnist.name == "mnist"
    assert (len(mnist.train), len(mnist.test)) == (60000, 10000)
    assert mnist.train.features().shape == (60000, 784) and mnist.train.features().dtype == np.float32
    assert mnist.test.labels[:4].tolist() == [7, 2, 1, 0]
    assert mnist.sha256["train-images-idx3-ubyte"].startswith("ba891046")


def test_registered_dataset_with_wrong_bytes_is_refused(tmp_path, monkeypatch):
    write_dataset(tmp_path)
    monkeypatch.setattr(datasets, "embedded_dir", lambda: tmp_path)
    with pytest.raises(DataError, match="expected ba891046.* for mnist: the file is corrupted"):
        datasets.load("mnist")


def test_shared_copy_is_identified_as_mnist(mnist):
    from pathlib import Path

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    if not shared.is_dir():
        shared = datasets.embedded_dir()
    ds = datasets.load(shared)
    assert ds.name == "mnist"
    np.testing.assert_array_equal(ds.test.labels, mnist.test.labels)
