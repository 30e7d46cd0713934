"""Fused elementwise kernels, compiled with numba: the fast path of the network's elementwise math.

Each kernel here does in one pass over memory what the NumPy reference does in several. The
reference stays where a reader looks for the math (:mod:`~digitnet.nn.optim`,
:mod:`~digitnet.nn.layers`, :mod:`~digitnet.nn.losses`); each of those calls the kernel first and
runs its own NumPy code when the kernel declines (returns False or None): on the reference path
(``DIGITNET_KERNELS=numpy``, or numba missing: :mod:`digitnet.compiled`), or for an input it was not
written for (another dtype, an unexpected memory layout). Matrix products stay NumPy's (BLAS).

Every kernel performs, element by element, the same IEEE operations in the same order and in the
same precision as its reference (constants rounded to the array's dtype as NumPy rounds a Python
float), so the results are bit-identical to it; ``tests/test_kernels.py`` checks every one. What
numba would compute differently from NumPy is left to NumPy: ``exp``, ``log`` and ``tanh`` (NumPy's
SIMD versions and numba's libm differ in the last bit), and sums whose order NumPy chooses
(pairwise). ``fastmath`` stays off: no reassociation, no fused multiply-add.

The loops below are plain Python, compiled on first use (one compilation per dtype, cached on disk:
:mod:`digitnet.compiled`). Adam's, the one big pass (every parameter, every step), is cut over the
cores with :func:`digitnet.parallel.elementwise` (numba releases the GIL); the others work on one
batch's activations, which fit in cache, and run on the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import compiled, parallel
from ..data.deskew import shifts

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
#: fewer elements than this per thread and a fused Adam costs less than handing work to another thread
ADAM_MIN_PIECE = 1 << 18


# ---- the loops: compiled with numba (njit) on first use, one small function each (numba compiles a
# function when it is first called with new types: a run compiles only the loops it uses) ----

def _adam_loop(p, g, m, v, b1, c1, b2, c2, eps_t, lr_t):  # pragma: no cover (compiled)
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * b1 + gi * c1               # m = β1 m + (1 - β1) g
        vi = v[i] * b2 + gi * gi * c2          # v = β2 v + (1 - β2) g²
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - mi / (np.sqrt(vi) + eps_t) * lr_t


# Adam's weight decay, as its reference applies it (nn/optim.py): coupled (added to the gradient), toward zero
# or an anchor; decoupled (AdamW: applied to the parameter first), toward zero or an anchor.
L2, L2_ANCHOR, DECOUPLED, DECOUPLED_ANCHOR = range(4)


def _adam_decay_loop(p, g, m, v, a, decay, c, b1, c1, b2, c2, eps_t, lr_t):  # pragma: no cover (compiled)
    for i in range(p.size):
        pi, gi = p[i], g[i]
        if decay == L2:
            gi = gi + c * pi                   # g + λ p
        elif decay == L2_ANCHOR:
            gi = gi + c * (pi - a[i])          # g + λ (p - p₀)
        elif decay == DECOUPLED:
            pi = pi * c                        # p (1 - lr λ)
        else:
            pi = pi - c * (pi - a[i])          # p - lr λ (p - p₀)
        mi = m[i] * b1 + gi * c1
        vi = v[i] * b2 + gi * gi * c2
        m[i] = mi
        v[i] = vi
        p[i] = pi - mi / (np.sqrt(vi) + eps_t) * lr_t


# Forward: yT (features, samples), C order, flat; each feature's row plus its bias, then the activation.
# Constants come typed as the arrays' dtype (a bare 0 is an int64, and int64 with float32 computes in float64).

def _bias_loop(y, b, n):  # pragma: no cover (compiled)
    for j in range(b.size):
        for i in range(j * n, (j + 1) * n):
            y[i] = y[i] + b[j]


def _bias_relu_loop(y, b, n, zero):  # pragma: no cover (compiled)
    for j in range(b.size):
        for i in range(j * n, (j + 1) * n):
            z = y[i] + b[j]
            y[i] = zero if z <= zero else z    # np.maximum(z, 0): NaN stays NaN, -0 becomes 0


def _bias_leaky_relu_loop(y, b, n, slope):  # pragma: no cover (compiled)
    for j in range(b.size):
        for i in range(j * n, (j + 1) * n):
            z = y[i] + b[j]
            az = slope * z
            y[i] = z if z >= az else az        # np.maximum(z, a z)


# Backward: dy *= f'(z), written from the output y; dy and y flat, in the same memory order.

def _relu_backward_loop(dy, y, zero, one):  # pragma: no cover (compiled)
    for i in range(dy.size):
        dy[i] = dy[i] * (one if y[i] > zero else zero)                      # dy *= y > 0


def _leaky_relu_backward_loop(dy, y, zero, one, slope, one_less):  # pragma: no cover (compiled)
    for i in range(dy.size):
        dy[i] = dy[i] * ((one if y[i] > zero else zero) * one_less + slope)  # dy *= (y > 0)(1 - a) + a


def _tanh_backward_loop(dy, y, one):  # pragma: no cover (compiled)
    for i in range(dy.size):
        dy[i] = dy[i] * (one - y[i] * y[i])                                 # dy *= 1 - y²


def _sigmoid_backward_loop(dy, y, one):  # pragma: no cover (compiled)
    for i in range(dy.size):
        dy[i] = dy[i] * y[i] * (one - y[i])                                 # dy *= y, then dy *= 1 - y


# The loss: z is the logits' memory, classes x samples (zT, C order), flat: sample i, class j at j n + i.

def _loss_shift_loop(z, n, labels, cols, top, z_true, z_sum):  # pragma: no cover (compiled)
    """Each sample's logits minus their max, in place; its label's column (0 for an outlier, label < 0), its
    shifted logit there, and the sum of its shifted logits class after class (NumPy's order for this layout).
    Returns -1, having touched nothing, if a label is out of range (the reference then raises its IndexError),
    else the number of outliers."""
    k = z.size // n
    outliers = 0
    for i in range(n):
        label = labels[i]
        if label >= k:
            return -1
        if label < 0:
            outliers += 1
            label = 0
        cols[i] = label
    for i in range(n):
        top[i] = z[i]
    for j in range(1, k):
        for i in range(n):
            x = z[j * n + i]
            if x > top[i] or x != x:           # NaN wins, as in np.max
                top[i] = x
    for j in range(k):
        for i in range(n):
            z[j * n + i] = z[j * n + i] - top[i]
    for i in range(n):
        z_true[i] = z[cols[i] * n + i]
        z_sum[i] = z[i]
    for j in range(1, k):
        for i in range(n):
            z_sum[i] = z_sum[i] + z[j * n + i]
    return outliers


def _loss_finish_loop(z, n, cols, sums, lse, z_true, z_sum, c1, ck, smoothing, scale, per_sample, label_grad):  # pragma: no cover
    """Per-sample loss lse - (1 - ε) z_y - (ε / K) Σ z, and the gradient (softmax - T) scale, in place, from
    exp(z) and its sums; c1 and ck are 1 - ε and ε / K of each sample."""
    k = z.size // n
    for i in range(n):
        loss = lse[i] - c1[i] * z_true[i]
        if smoothing:
            loss = loss - ck[i] * z_sum[i]
        per_sample[i] = loss
        x = z[cols[i] * n + i] / sums[i] - c1[i]   # the label's class: p - (1 - ε), then - ε / K
        if smoothing:
            x = x - ck[i]
        label_grad[i] = x * scale
    for j in range(k):
        for i in range(n):
            x = z[j * n + i] / sums[i]
            if smoothing:
                x = x - ck[i]
            z[j * n + i] = x * scale
    for i in range(n):
        z[cols[i] * n + i] = label_grad[i]


def _unit_float_loop(pixels, out, scale):  # pragma: no cover (compiled)
    for i in range(pixels.size):
        out[i] = pixels[i]                     # exact: every uint8 is a float
        out[i] = out[i] / scale


def _deskew_loop(images, ky, fy, kx, fx, side, out, middle, zero):  # pragma: no cover (compiled)
    """data/deskew.py's two blends, image by image: rows y + ky and y + ky + 1 by fy, then along each row y,
    columns x + kx[y] and x + kx[y] + 1 by fx[y]; zero read outside the picture."""
    for i in range(images.shape[0]):
        for y in range(side):
            r0 = y + ky[i]
            for x in range(side):
                b0 = images[i, r0 * side + x] if 0 <= r0 < side else zero
                b1 = images[i, (r0 + 1) * side + x] if 0 <= r0 + 1 < side else zero
                middle[y, x] = (b1 - b0) * fy[i] + b0
        for y in range(side):
            k, f = kx[i, y], fx[i, y]
            for x in range(side):
                t0 = middle[y, x + k] if 0 <= x + k < side else zero
                t1 = middle[y, x + k + 1] if 0 <= x + k + 1 < side else zero
                out[i, y * side + x] = (t1 - t0) * f + t0


_LOOPS: dict[str, Callable] = {f.__name__: f for f in (
    _adam_loop, _adam_decay_loop, _bias_loop, _bias_relu_loop, _bias_leaky_relu_loop, _relu_backward_loop,
    _leaky_relu_backward_loop, _tanh_backward_loop, _sigmoid_backward_loop, _loss_shift_loop, _loss_finish_loop,
    _unit_float_loop, _deskew_loop)}
_compiled: dict[str, Callable] = {}


def kernel(name: str) -> Callable | None:
    """The compiled loop ``name``, or None on the reference path (:func:`digitnet.compiled.mode`)."""
    numba = compiled.numba()
    if numba is None:
        return None
    function = _compiled.get(name)
    if function is None:
        function = _compiled[name] = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")(_LOOPS[name])
    return function


def _flat(*arrays: np.ndarray) -> list[np.ndarray] | None:
    """The arrays as flat views in memory order, if they share dtype (a float), shape and one contiguous layout."""
    first = arrays[0]
    if first.dtype not in FLOATS or not (first.flags.c_contiguous or first.flags.f_contiguous):
        return None
    if any(a.dtype != first.dtype or a.shape != first.shape or a.strides != first.strides for a in arrays[1:]):
        return None
    return [a.ravel(order="K") for a in arrays]


# ---- the kernels, as the reference code calls them ----

def adam(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, *, beta1: float, beta2: float,
         lr: float, lr_t: float, eps_t: float, weight_decay: float = 0.0, decoupled: bool = False,
         anchor: np.ndarray | None = None) -> bool:
    """One Adam (or AdamW, ``decoupled``) step on one parameter, in place, as :class:`~digitnet.nn.optim.Adam`
    computes it: the weight decay (toward ``anchor`` if given), the two moments and the update in one pass.
    False (nothing done) on the reference path or for arrays it does not take."""
    loop = kernel("_adam_decay_loop" if weight_decay else "_adam_loop")
    if loop is None:
        return False
    flat = _flat(param, grad, m, v, *(() if anchor is None or not weight_decay else (anchor,)))
    if flat is None:
        return False
    t = param.dtype.type
    constants: tuple = (t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps_t), t(lr_t))
    if weight_decay:
        if decoupled:
            decay, c = (DECOUPLED, 1 - lr * weight_decay) if anchor is None else (DECOUPLED_ANCHOR, lr * weight_decay)
        else:
            decay, c = (L2, weight_decay) if anchor is None else (L2_ANCHOR, weight_decay)
        constants = (decay, t(c), *constants)
        if anchor is None:
            flat.append(flat[0])  # not read: any array of the right type

    def run(*arrays, loop=loop):
        loop(*arrays, *constants)

    parallel.elementwise(run, *flat, min_piece=ADAM_MIN_PIECE)
    return True


#: activation name -> its forward loop with the bias (tanh and sigmoid are NumPy's: see the module's docstring)
FORWARD = {"relu": "_bias_relu_loop", "leaky_relu": "_bias_leaky_relu_loop", "identity": "_bias_loop"}
BACKWARD = {"relu": "_relu_backward_loop", "leaky_relu": "_leaky_relu_backward_loop", "tanh": "_tanh_backward_loop",
            "sigmoid": "_sigmoid_backward_loop"}


def bias_activation(name: str, x: np.ndarray, b: np.ndarray, slope: float = 0.0) -> bool:
    """``x += b`` then the activation ``name`` in place, in one pass, for ``x`` (samples, features) stored
    features x samples (a Dense layer's output). False (nothing done) when the kernel does not apply."""
    loop = kernel(FORWARD[name]) if name in FORWARD else None
    if loop is None or x.dtype not in FLOATS or b.dtype != x.dtype or not x.T.flags.c_contiguous or b.shape != x.shape[1:]:
        return False
    t = x.dtype.type
    extra = {"relu": (t(0),), "leaky_relu": (t(slope),), "identity": ()}[name]
    loop(x.T.reshape(-1), b, x.shape[0], *extra)
    return True


def activation_backward(name: str, dy: np.ndarray, y: np.ndarray, slope: float = 0.0) -> bool:
    """``dy *= f'(z)`` in place from the activation's output ``y``, in one pass. False when it does not apply."""
    loop = kernel(BACKWARD[name]) if name in BACKWARD else None
    flat = _flat(dy, y) if isinstance(y, np.ndarray) else None
    if loop is None or flat is None:
        return False
    t = dy.dtype.type
    extra = {"relu": (t(0), t(1)), "leaky_relu": (t(0), t(1), t(slope), t(1 - slope)), "tanh": (t(1),),
             "sigmoid": (t(1),)}[name]
    loop(flat[0], flat[1], *extra)
    return True


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, label_smoothing: float,
                          scale: float) -> float | None:
    """:func:`~digitnet.nn.losses.softmax_cross_entropy` in place on ``logits`` (samples, classes), stored
    classes x samples (a Dense layer's output): the mean loss, with ``logits`` turned into the gradient
    (softmax - T) ``scale``. None (nothing done) when the kernel does not apply. ``exp``, the sums of the
    exponentials and ``log`` are NumPy's, between the two fused passes."""
    shift, finish = kernel("_loss_shift_loop"), kernel("_loss_finish_loop")
    n, k = logits.shape
    if (shift is None or finish is None or n < 2 or k < 2 or logits.dtype not in FLOATS or not logits.T.flags.c_contiguous
            or not isinstance(labels, np.ndarray) or labels.shape != (n,) or labels.dtype.kind not in "iu"):
        return None
    dtype, z = logits.dtype, logits.T.reshape(-1)
    top, z_true, z_sum, per_sample = (np.empty(n, dtype) for _ in range(4))
    cols = np.empty(n, np.int64)
    outliers = shift(z, n, labels, cols, top, z_true, z_sum)
    if outliers < 0:
        return None  # a label out of range: untouched, for the reference to raise its error
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    lse = np.log(sums)
    if outliers:  # as the reference: ε per sample, 1 on outliers, computed in the array's dtype
        eps = np.where(labels < 0, 1.0, label_smoothing).astype(dtype)
        c1, ck = 1 - eps, eps / k
    else:  # one ε, a Python float rounded to the dtype
        c1, ck = np.full(n, 1 - label_smoothing, dtype), np.full(n, label_smoothing / k, dtype)
    smoothing = bool(outliers) or bool(label_smoothing)
    finish(z, n, cols, sums, lse, z_true, z_sum, c1, ck, smoothing, dtype.type(scale), per_sample, top)
    return float(per_sample.mean())


def unit_float(pixels: np.ndarray, dtype=np.float32) -> np.ndarray:
    """``pixels / 255`` (uint8 in, ``dtype`` out, same shape) in one pass over the cores; NumPy's
    ``pixels / dtype(255)`` on the reference path. The same values either way."""
    dtype = np.dtype(dtype)
    loop = kernel("_unit_float_loop") if dtype in FLOATS and pixels.dtype == np.uint8 else None
    if loop is None or not pixels.flags.c_contiguous:
        return (pixels / dtype.type(255)).astype(dtype, copy=False)
    out = np.empty(pixels.shape, dtype)
    scale = dtype.type(255)
    parallel.elementwise(lambda a, b: loop(a, b, scale), pixels.reshape(-1), out.reshape(-1))
    return out


#: fewer images than this and a deskew stays NumPy's: one picture read by the server never starts numba
DESKEW_MIN_IMAGES = 64


def deskew(images: np.ndarray) -> np.ndarray | None:
    """:func:`digitnet.data.deskew.deskew` of float ``images`` (n, side²) with the two blends fused into one compiled
    pass per image (the moments, slant and shifts are the reference's own code: :func:`digitnet.data.deskew.shifts`);
    None (nothing done) on the reference path, for other inputs, or for fewer than :data:`DESKEW_MIN_IMAGES` images."""
    loop = kernel("_deskew_loop") if len(images) >= DESKEW_MIN_IMAGES else None
    if loop is None or images.ndim != 2 or images.dtype not in FLOATS or not images.flags.c_contiguous:
        return None
    d = images.shape[1]
    side = round(np.sqrt(d))
    if side * side != d:
        return None
    dtype, pad = images.dtype, side + 1
    ky, fy, kx, fx = shifts(images, side, dtype)
    out = np.empty_like(images)
    loop(images, np.clip(ky, -pad, side).astype(np.int64), fy, np.clip(kx, -pad, side).astype(np.int64), fx, side, out,
         np.empty((side, side), dtype), dtype.type(0))
    return out

