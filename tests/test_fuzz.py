"""Property-based fuzzing: every generated input either loads correctly or raises digitnet's own error."""

import gzip
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitnet import MLP, DataError, ModelFileError, load_model, save_model
from digitnet.data.idx import TYPE_CODES, encode_idx, read_idx
from digitnet.run.modelfile import encode

EXAMPLES = 2500
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
WORKDIR = Path(tempfile.mkdtemp(prefix="digitnet-fuzz-"))
COUNT = {"idx": 0, "model": 0}


def flip_bytes(draw, data: bytearray) -> None:
    """XOR one to four random bytes of ``data`` in place."""
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= draw(st.integers(1, 255))


IDX_CODE = st.sampled_from(list(TYPE_CODES))
IDX_SHAPE = st.lists(st.integers(0, 4), min_size=1, max_size=3)
IDX_KIND = st.sampled_from(["valid", "truncate", "extend", "flip", "header", "random"])
IDX_DIMS = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=4)


@st.composite
def idx_bytes(draw):
    """Valid IDX files, then mutated: truncated, extended, bytes flipped, headers rewritten, gzipped."""
    code = draw(IDX_CODE)
    shape = tuple(draw(IDX_SHAPE))
    array = np.zeros(shape, TYPE_CODES[code].newbyteorder("=")) + draw(st.integers(0, 100))
    data = bytearray(encode_idx(array))
    kind = draw(IDX_KIND)
    if kind == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=16))
    elif kind == "flip" and data:
        flip_bytes(draw, data)
    elif kind == "header":
        dims = draw(IDX_DIMS)
        data = bytearray([0, 0, draw(st.integers(0, 255)), len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data[4:]
    elif kind == "random":
        data = bytearray(draw(st.binary(max_size=64)))
    if draw(st.booleans()):
        data = bytearray(gzip.compress(bytes(data)))
        if draw(st.booleans()):  # a damaged gzip stream
            data = data[:draw(st.integers(0, len(data)))]
    return kind, bytes(data), array


@FUZZ
@given(idx_bytes())
def test_idx_reader_never_crashes(case):
    kind, data, array = case
    path = WORKDIR / "fuzz-idx"
    path.write_bytes(data)
    COUNT["idx"] += 1
    try:
        result = read_idx(path)
    except DataError as exc:
        assert str(path) in str(exc)
        return
    if kind == "valid":
        np.testing.assert_array_equal(result, array)


def _model_file() -> bytes:
    path = WORKDIR / "base.safetensors"
    save_model(path, MLP([6, 4, 3], "tanh", rng=0), {"test_accuracy": 0.5})
    return path.read_bytes()


BASE = None
# strategies built once (building one inside the composite made Hypothesis validate it again for every example)
HEADER = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                      lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                      max_leaves=8)
VALUE = st.one_of(st.integers(-3, 2**21), st.text(max_size=6), st.booleans(), st.none(), st.floats())
SIZES = st.lists(st.integers(-1, 8), max_size=4) | VALUE
ACTIVATION = st.sampled_from(["tanh", "relu", "nope"]) | VALUE
DTYPE = st.sampled_from(["float32", "float64", "int8"]) | VALUE
DROPOUT = VALUE | st.just(0.0)
LEAF = st.none() | st.booleans() | st.integers(-2, 2**63) | st.floats() | st.text(max_size=6)
FIELD = st.sampled_from(["classes", "test_accuracy", "train_seconds", "calibration", "temperature",
                         "threshold", "config", "epochs", "hidden", "recipe", "seed", "history", "x"])
DOC = st.recursive(LEAF, lambda c: st.lists(c, max_size=11) | st.dictionaries(FIELD, c, max_size=4), max_leaves=16)


@st.composite
def model_bytes(draw):
    """A valid model file, then: bytes flipped or cut, header JSON rewritten, or metadata/tensors replaced."""
    global BASE
    BASE = BASE or _model_file()
    data = bytearray(BASE)
    kind = draw(st.sampled_from(["valid", "flip", "truncate", "header", "metadata", "digitnet", "tensors", "random"]))
    if kind == "flip":
        flip_bytes(draw, data)
    elif kind == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif kind == "header":
        (n,) = struct.unpack("<Q", data[:8])
        header = draw(HEADER)
        raw = json.dumps(header).encode()
        data = bytearray(struct.pack("<Q", len(raw))) + raw + data[8 + n:]
    elif kind in ("metadata", "tensors"):
        config = {"sizes": draw(SIZES), "activation": draw(ACTIVATION), "dtype": draw(DTYPE), "dropout": draw(DROPOUT)}
        tensors = {"W1": np.zeros((6, 4), np.float32), "b1": np.zeros(4, np.float32),
                   "W2": np.zeros((4, 3), np.float32), "b2": np.zeros(3, np.float32)}
        if kind == "tensors":
            for _ in range(draw(st.integers(1, 3))):
                name = draw(st.sampled_from(["W1", "b1", "W2", "b2", "W3", "x"]))
                shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
                dtype = draw(st.sampled_from([np.float32, np.float64, np.int32, np.uint8]))
                tensors[name] = np.full(shape, draw(st.sampled_from([0.0, 1.0, np.nan, np.inf])), np.float64).astype(dtype) \
                    if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype)
        meta = {"format": draw(st.sampled_from(["digitnet-model", "other"])),
                "format_version": draw(st.sampled_from(["1", "2", "x"])), "model": json.dumps(config),
                "digitnet": draw(st.sampled_from(["{}", "[]", "nope", '{"a": 1}']))}
        data = bytearray(encode(tensors, meta))
    elif kind == "digitnet":  # the checksum is valid: only the schema stands between this JSON and the code
        doc = draw(DOC)
        (n,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8:8 + n])["__metadata__"]
        meta["digitnet"] = json.dumps(doc)
        data = bytearray(encode(safetensors.numpy.load(bytes(data)), meta))
    elif kind == "random":
        data = bytearray(draw(st.binary(max_size=200)))
    return kind, bytes(data)


@FUZZ
@given(model_bytes())
def test_model_loader_never_crashes(case):
    kind, data = case
    path = WORKDIR / "fuzz.safetensors"
    path.write_bytes(data)
    COUNT["model"] += 1
    try:
        model = load_model(path)
    except ModelFileError as exc:
        assert str(path) in str(exc)
        assert kind != "valid"
        return
    assert model.predict(np.zeros((1, model.sizes[0]), model.dtype)).shape == (1,)
    from digitnet.reading.verdict import read  # what predict and the server do with a loaded model's metadata

    assert read(model, np.zeros((28, 28), np.float32)).verdict == "not_a_digit"


def test_fuzzers_ran_thousands_of_inputs():
    """Runs after the two fuzz tests (file order): each tried EXAMPLES generated inputs."""
    assert COUNT["idx"] >= EXAMPLES and COUNT["model"] >= EXAMPLES, COUNT
