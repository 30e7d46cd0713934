import json
import struct

import numpy as np
import pytest

from digitnet import MLP, ModelFileError, load_model, save_model
from digitnet.run.modelfile import encode


def test_round_trip_is_bit_identical(tmp_path, rng):
    for dtype in ("float32", "float64"):
        model = MLP([784, 32, 16, 10], "relu", dtype=dtype, rng=5)
        path = save_model(tmp_path / f"m-{dtype}.safetensors", model, {"note": "hi", "test_accuracy": 0.5})
        back = load_model(path)
        assert back.config() == model.config() and back.metadata == {"note": "hi", "test_accuracy": 0.5}
        for name, p in model.params.items():
            assert back.params[name].dtype == p.dtype
            np.testing.assert_array_equal(back.params[name], p)
        X = rng.random((50, 784)).astype(dtype)
        np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_no_temp_files_left(tmp_path):
    save_model(tmp_path / "m.safetensors", MLP([4, 3, 2]))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.fixture
def saved(tmp_path):
    return save_model(tmp_path / "m.safetensors", MLP([6, 5, 3], "tanh", rng=1))


def test_tampered_tensor_bytes_fail(saved):
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum mismatch: the file was modified or corrupted"):
        load_model(saved)


def test_truncated_file_fails(saved):
    data = saved.read_bytes()
    for cut in (0, 5, 40, len(data) - 4):
        saved.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match=str(saved.name)):
            load_model(saved)


def rewrite(path, tensors, **meta_changes):
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    meta = json.loads(path.read_bytes()[8:8 + n])["__metadata__"]
    meta.update(meta_changes)
    path.write_bytes(encode(tensors, meta))  # encode writes a fresh checksum: a "valid" file with these changes


def test_unknown_format_version(saved):
    model = load_model(saved)
    rewrite(saved, model.params, format_version="99")
    with pytest.raises(ModelFileError, match="unknown format version '99' \\(this digitnet reads versions 1 and 2\\)"):
        load_model(saved)


def test_shapes_that_do_not_chain(saved):
    params = dict(load_model(saved).params)
    params["W2"] = np.zeros((4, 3), np.float32)
    rewrite(saved, params)
    with pytest.raises(ModelFileError, match="W2 has shape \\(4, 3\\), expected \\(5, 3\\)"):
        load_model(saved)


def test_missing_and_extra_tensors(saved):
    params = dict(load_model(saved).params)
    params["W9"] = params.pop("b2")
    rewrite(saved, params)
    with pytest.raises(ModelFileError, match="missing \\['b2'\\], unexpected \\['W9'\\]"):
        load_model(saved)


def test_wrong_dtype(saved):
    params = {k: v.astype(np.float64) for k, v in load_model(saved).params.items()}
    rewrite(saved, params)
    with pytest.raises(ModelFileError, match="W1 is float64, expected float32"):
        load_model(saved)


def test_bad_architecture_in_metadata(saved):
    params = load_model(saved).params
    rewrite(saved, params, model=json.dumps({"sizes": [6, 5, 3], "activation": "swish", "dtype": "float32"}))
    with pytest.raises(ModelFileError, match="unknown activation 'swish'"):
        load_model(saved)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"hello world, this is not a model")
    with pytest.raises(ModelFileError, match="x.safetensors"):
        load_model(path)
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")
