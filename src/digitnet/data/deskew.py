"""Deskewing: each image sheared so that its slant is gone, and moved so that its centre of mass
is at the centre (LeCun et al. 1998 report that it helps every classifier they tried on MNIST).

With the ink's centre of mass (cy, cx) and second moments, the slant is α = cov(y, x) / var(y):
how far the ink leans right per row down. Output pixel (y, x) reads the input, bilinearly, at

    (y + cy - c,  x + cx - c + α (y - c)),    c = (side - 1) / 2,

so the leaning axis through the centre of mass becomes the upright one through the centre.
An image without ink is left as it is.
"""

from __future__ import annotations

import functools

import numpy as np

MAX_SLANT = 1.0  # the slant corrected is at most 45 degrees (a flat dash has no meaningful slant)


@functools.cache
def moment_coordinates(side: int) -> np.ndarray:
    """(side², 5): 1, y, x, y², y x for each pixel, in row-major order (made once per side, read-only)."""
    ys, xs = np.divmod(np.arange(side * side, dtype=np.float64), side)
    coordinates = np.stack([np.ones_like(ys), ys, xs, ys * ys, ys * xs], axis=1)
    coordinates.flags.writeable = False
    return coordinates


def slant_and_centre(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(α, cy, cx) of each row of ``images`` (n, side²), from its moments (in float64)."""
    side = int(round(np.sqrt(images.shape[1])))
    sums = np.asarray(images, np.float64) @ moment_coordinates(side)
    mass = np.where(sums[:, 0] > 0, sums[:, 0], 1.0)
    cy, cx = sums[:, 1] / mass, sums[:, 2] / mass
    var_y = sums[:, 3] / mass - cy * cy
    cov = sums[:, 4] / mass - cy * cx
    alpha = np.where(var_y > 1e-6, cov / np.where(var_y > 1e-6, var_y, 1.0), 0.0)
    c = (side - 1) / 2
    blank = sums[:, 0] <= 0
    return np.where(blank, 0.0, alpha), np.where(blank, c, cy), np.where(blank, c, cx)


def shifts(images: np.ndarray, side: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each deskewed image reads: whole rows ``ky + fy`` further down (n,), and row y of each image
    ``kx + fx`` further along (n, side); ``ky``, ``kx`` whole pixels (floats), ``fy``, ``fx`` the fractions in
    ``dtype``. The slant is clipped to :data:`MAX_SLANT`. Shared by :func:`deskew` and its compiled form."""
    alpha, cy, cx = slant_and_centre(images)
    alpha = np.clip(alpha, -MAX_SLANT, MAX_SLANT)
    c = (side - 1) / 2
    ky = np.floor(cy - c)
    fy = (cy - c - ky).astype(dtype)
    shift = (cx - c)[:, None] + alpha[:, None] * (np.arange(side) - c)  # (n, side)
    kx = np.floor(shift)
    fx = (shift - kx).astype(dtype)
    return ky, fy, kx, fx


def deskew(images: np.ndarray) -> np.ndarray:
    """Deskewed copies of ``images`` (n, side²) with values >= 0, in their dtype (float32 for integers).

    The shift down is the same for every row, so the bilinear sampling is done as two blends: rows
    (by the fraction of that shift), then each row along itself (by the fraction of its own shift).
    Zero is read outside the image."""
    images = np.asarray(images)
    n, d = images.shape
    side = int(round(np.sqrt(d)))
    dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    ky, fy, kx, fx = shifts(images, side, dtype)
    fy, fx = fy[:, None, None], fx[:, :, None]
    pad = side + 1  # zeros around the image: a shift of side pixels or more reads nothing but zeros
    which = np.arange(n)[:, None]
    # rows: output row y blends input rows y + ky and y + ky + 1 (ky the same for the whole image)
    tall = np.zeros((n, side + 2 * pad, side), dtype)
    tall[:, pad:pad + side] = images.reshape(n, side, side)
    rows = pad + np.clip(ky, -pad, side).astype(np.intp)[:, None] + np.arange(side + 1)
    block = tall[which, rows]  # (n, side + 1, side)
    blended = np.zeros((n, side, side + 2 * pad), dtype)
    middle = blended[:, :, pad:pad + side]
    np.subtract(block[:, 1:], block[:, :-1], out=middle)
    middle *= fy
    middle += block[:, :-1]
    # columns: output (y, x) blends (y, x + kx) and (y, x + kx + 1), kx for each row
    windows = np.lib.stride_tricks.sliding_window_view(blended, side + 1, axis=2)
    taps = windows[which, np.arange(side), pad + np.clip(kx, -pad, side).astype(np.intp)]  # (n, side, side + 1)
    out = np.subtract(taps[:, :, 1:], taps[:, :, :-1])
    out *= fx
    out += taps[:, :, :-1]
    return out.reshape(n, d)
