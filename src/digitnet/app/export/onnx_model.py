"""A model as an ONNX graph, built with the ``onnx`` package's helpers (``pip install digitnet[onnx]``).

The graph is the network itself, one node per step, so that any ONNX runtime computes
what :meth:`digitnet.MLP.predict_proba` computes::

    pixels [N, 784] -> Gemm(W1, b1) -> Tanh -> Gemm(W2, b2) -> ... -> Gemm(WL, bL) -> logits
    logits / T -> Softmax -> probabilities [N, classes]   (T: the calibrated temperature)
    logits -> ArgMax  -> label [N] (int64)
    logits            -> logits [N, classes]              (the network's own, before the temperature)

A model that deskews (``--deskew on``) has the deskewing in front: its moments (MatMul), its
slant and centre, and a bilinear GridSample at the sheared coordinates. One that reads both views
(``--deskew both``) runs the network on the pixels and their deskewed copies as one batch
(Concat), then averages the two halves' logits (Reshape, ReduceMean).

The input is already prepared (a 28x28 picture cropped, scaled and centred like MNIST's, in
[0, 1], flattened): :func:`digitnet.prepare` does that. The probabilities are calibrated: the
logits are divided by the temperature fitted on the model's validation split (1 for a model
without one), so they are the confidences :func:`digitnet.read` reports. The thresholds that
turn them into a verdict are in the metadata (``calibration``), with the architecture, dataset,
classes, test accuracy, preprocessing and digitnet version.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...fileio import atomic_write_bytes
from ...nn.layers import ACTIVATIONS
from ...version import __version__

OPSET = 17  # ai.onnx opset the graph is written for: Gemm, Tanh, Relu, LeakyRelu, Sigmoid, Softmax, ArgMax
#             (and for a model that deskews: GridSample, from opset 16)
PREPROCESSING = ("grey picture -> ink found and cropped -> stroke width normalized to MNIST's -> "
                 "scaled to fit 20x20 -> placed in 28x28 by its centre of mass -> [0, 1], row-major, 784 floats")
DESKEW_WORDS = {"off": "", "on": " (the graph then deskews them itself)",
                "both": " (the graph then reads them as they are and deskewed, and averages the two logits)"}
METADATA_KEYS = ("dataset", "classes", "test_accuracy", "test_samples", "recipe", "config", "calibration", "created")


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise UsageError("ONNX export needs the onnx package: pip install 'digitnet[onnx]'") from None
    return onnx, helper, numpy_helper


def _activation_node(helper, name: str, x: str, y: str):
    spec = ACTIVATIONS[name]  # its ONNX operator is registered with it
    return helper.make_node(spec.onnx, [x], [y], **spec.onnx_attributes)


def metadata_props(model) -> dict[str, str]:
    """What a reader of the ONNX file should know, as strings (ONNX metadata is text)."""
    props = {"architecture": "-".join(map(str, model.sizes)) + f" {model.activation}",
             "sizes": json.dumps(model.sizes), "activation": model.activation, "dtype": model.dtype.name,
             "preprocessing": PREPROCESSING + DESKEW_WORDS[model.deskew],
             "deskew": model.deskew, "digitnet_version": __version__, "input": "pixels",
             "outputs": "probabilities (calibrated: softmax of logits / temperature), label, logits",
             "temperature": repr(temperature(model))}
    for key in METADATA_KEYS:
        if key in model.metadata:
            value = model.metadata[key]
            props[key] = value if isinstance(value, str) else json.dumps(value)
    return props


def temperature(model) -> float:
    """The calibrated temperature the graph divides the logits by (1 for an uncalibrated model)."""
    from ...reading.contract import Calibration

    return float(Calibration.of(model).temperature)


def to_onnx(model, *, dtype: str | None = None):
    """An ``onnx.ModelProto`` of ``model`` (checked by ``onnx.checker``).

    ``dtype``: ``"float32"`` or ``"float64"`` for the graph's numbers (default: the model's own).
    """
    onnx, helper, numpy_helper = _require_onnx()
    number = np.dtype(dtype or model.dtype)
    if number not in (np.float32, np.float64):
        raise UsageError(f"ONNX dtype must be float32 or float64, got {number}")
    elem = helper.np_dtype_to_tensor_dtype(number)
    nodes: list = []
    initializers: list = []
    x = "pixels"
    if model.deskew != "off":
        x = _deskew_nodes(helper, numpy_helper, int(round(model.sizes[0] ** 0.5)), elem, nodes, initializers)
    if model.deskew == "both":  # both views as one batch of 2N rows: the pixels, then their deskewed copies
        nodes.append(helper.make_node("Concat", ["pixels", x], ["views"], axis=0, name="views"))
        x = "views"
    last = len(model.dense)
    for i, layer in enumerate(model.dense, 1):
        W, b = f"W{i}", f"b{i}"
        initializers += [numpy_helper.from_array(np.ascontiguousarray(layer.params["W"], number), W),
                         numpy_helper.from_array(np.ascontiguousarray(layer.params["b"], number), b)]
        z = "logits" if i == last and model.deskew != "both" else f"z{i}"
        nodes.append(helper.make_node("Gemm", [x, W, b], [z], name=f"dense{i}"))
        if i < last:
            x = f"a{i}"
            nodes.append(_activation_node(helper, model.activation, z, x))
    if model.deskew == "both":  # [2N, C] -> [2, N, C] -> the mean of the two views' logits
        initializers.append(numpy_helper.from_array(np.array([2, -1, model.sizes[-1]], np.int64), "views_shape"))
        nodes.append(helper.make_node("Reshape", [f"z{last}", "views_shape"], ["view_logits"], name="split_views"))
        nodes.append(helper.make_node("ReduceMean", ["view_logits"], ["logits"], axes=[0], keepdims=0,
                                      name="mean_of_views"))
    initializers.append(numpy_helper.from_array(np.array(temperature(model), number), "temperature"))
    nodes.append(helper.make_node("Div", ["logits", "temperature"], ["calibrated_logits"], name="temperature"))
    nodes.append(helper.make_node("Softmax", ["calibrated_logits"], ["probabilities"], axis=1))
    nodes.append(helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0))
    graph = helper.make_graph(
        nodes, "digitnet", [helper.make_tensor_value_info("pixels", elem, ["N", model.sizes[0]])],
        [helper.make_tensor_value_info("probabilities", elem, ["N", model.sizes[-1]]),
         helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info("logits", elem, ["N", model.sizes[-1]])],
        initializer=initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="digitnet",
                              producer_version=__version__, doc_string=f"digitnet MLP {model.sizes} {model.activation}")
    proto.ir_version = 8  # readable by onnxruntime >= 1.11
    helper.set_model_props(proto, metadata_props(model))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _deskew_nodes(helper, numpy_helper, side: int, elem: int, nodes: list, initializers: list) -> str:
    """Nodes that deskew ``pixels`` as :func:`digitnet.data.deskew.deskew` does: the moments in
    double precision, then GridSample (bilinear, zeros outside) at the sheared coordinates, in
    single precision (a float64 graph casts around it: onnxruntime has no double GridSample).
    Returns the name of the deskewed [N, side²] tensor."""
    from ...data.deskew import MAX_SLANT, moment_coordinates

    c = (side - 1) / 2
    grid = np.arange(side, dtype=np.float64) - c
    constants = {"coords": moment_coordinates(side), "gy": np.broadcast_to(grid[:, None], (1, side, side)).copy(),
                 "gx": np.broadcast_to(grid[None, :], (1, side, side)).copy(), "zero": np.array(0.0),
                 "one": np.array(1.0), "centre": np.array(c), "tiny": np.array(1e-6), "to_unit": np.array(2 / (side - 1)),
                 "min_slant": np.array(-MAX_SLANT), "max_slant": np.array(MAX_SLANT),
                 "fives": np.array([1, 1, 1, 1, 1], np.int64), "last": np.array([2], np.int64),
                 "image_shape": np.array([-1, 1, side, side], np.int64), "flat_shape": np.array([-1, side * side], np.int64),
                 "axis3": np.array([3], np.int64)}
    initializers += [numpy_helper.from_array(np.asarray(v), f"deskew_{k}") for k, v in constants.items()]
    k = {name: f"deskew_{name}" for name in constants}

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], name=f"deskew_{output}", **attrs))
        return output

    pixels64 = node("Cast", ["pixels"], "pixels64", to=11)  # DOUBLE
    sums = node("MatMul", [pixels64, k["coords"]], "sums")
    nodes.append(helper.make_node("Split", [sums, k["fives"]], ["m", "sy", "sx", "syy", "syx"], axis=1, name="deskew_split"))
    blank = node("LessOrEqual", ["m", k["zero"]], "blank")
    mass = node("Where", [blank, k["one"], "m"], "mass")
    cy = node("Div", ["sy", mass], "cy")
    cx = node("Div", ["sx", mass], "cx")
    var_y = node("Sub", [node("Div", ["syy", mass], "eyy"), node("Mul", [cy, cy], "cy2")], "var_y")
    cov = node("Sub", [node("Div", ["syx", mass], "eyx"), node("Mul", [cy, cx], "cycx")], "cov")
    spread = node("Greater", [var_y, k["tiny"]], "spread")
    slant = node("Where", [spread, node("Div", [cov, node("Where", [spread, var_y, k["one"]], "safe_var")], "ratio"),
                           k["zero"]], "slant")
    slant = node("Clip", [node("Where", [blank, k["zero"], slant], "slant0"), k["min_slant"], k["max_slant"]], "alpha")
    cy = node("Where", [blank, k["centre"], cy], "cy_or_centre")
    cx = node("Where", [blank, k["centre"], cx], "cx_or_centre")
    cy, cx, slant = (node("Unsqueeze", [t, k["last"]], f"{t}_3d") for t in (cy, cx, slant))  # [N, 1, 1]
    # pixel coordinates read, then GridSample's [-1, 1] (align_corners: -1 and 1 are the outer pixels' centres)
    src_y = node("Add", [k["gy"], cy], "src_y")  # y - c + cy
    src_x = node("Add", [node("Add", [k["gx"], cx], "gx_cx"), node("Mul", [slant, k["gy"]], "lean")], "src_x")
    unit_y = node("Sub", [node("Mul", [src_y, k["to_unit"]], "sy2"), k["one"]], "unit_y")
    unit_x = node("Sub", [node("Mul", [src_x, k["to_unit"]], "sx2"), k["one"]], "unit_x")
    grid = node("Concat", [node("Unsqueeze", [unit_x, k["axis3"]], "gx4"), node("Unsqueeze", [unit_y, k["axis3"]], "gy4")],
                "grid64", axis=3)
    grid = node("Cast", [grid], "grid", to=1)  # FLOAT: onnxruntime samples in single precision only
    image = node("Reshape", [node("Cast", ["pixels"], "pixels32", to=1), k["image_shape"]], "image")
    sampled = node("GridSample", [image, grid], "sampled", align_corners=1, mode="bilinear", padding_mode="zeros")
    return node("Cast", [node("Reshape", [sampled, k["flat_shape"]], "deskewed32")], "deskewed", to=elem)


def export_onnx(model, path: str | Path, *, dtype: str | None = None) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically)."""
    proto = to_onnx(model, dtype=dtype)
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path
