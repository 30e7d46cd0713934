"""Data augmentation for 28x28 digits, vectorized over the batch.

Random affine maps (shift, rotation, scale, shear) and elastic distortions
(Simard, Steinkraus & Platt 2003, https://doi.org/10.1109/ICDAR.2003.1227801:
uniform random displacement fields smoothed by a Gaussian of width ``sigma``,
scaled by ``alpha``), applied by bilinear sampling with black outside the frame.
Labels are unchanged; a zero-strength augmentation returns the images as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UsageError


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """G such that ``G @ f`` blurs the columns of ``f`` (size x ...) with a Gaussian of width ``sigma``,
    renormalised at the borders. Smoothing a field along both axes is ``G @ field @ G.T``."""
    i = np.arange(size)
    g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return (g / g.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Augment:
    """Random distortions of images of shape (n, side*side), values kept in [0, 1].

    shift : max translation, pixels.     rotate : max rotation, degrees.
    scale : max relative zoom (0.1: 0.9x to 1.1x, independently per axis).
    shear : max shear angle, degrees.
    elastic_alpha, elastic_sigma : elastic distortion strength and smoothness (pixels).
    thickness : max change of stroke thickness, as a fraction of a one-pixel dilation (or erosion)
        on each side of a stroke (0 to 1).
    """

    shift: float = 0.0
    rotate: float = 0.0
    scale: float = 0.0
    shear: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 5.0
    thickness: float = 0.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and value >= 0):
                raise UsageError(f"augmentation {name} must be a finite number >= 0, got {value}")
        if self.elastic_sigma <= 0 or self.scale >= 1 or self.thickness > 1:
            raise UsageError(f"augmentation needs elastic_sigma > 0 and scale < 1, "
                             f"got elastic_sigma={self.elastic_sigma}, scale={self.scale}; "
                             f"and thickness <= 1, got {self.thickness}")

    @property
    def identity(self) -> bool:
        return self.shift == self.rotate == self.scale == self.shear == self.elastic_alpha == self.thickness == 0

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Distorted copies of ``images`` (n, side*side), same dtype."""
        n, d = images.shape
        side = int(round(np.sqrt(d)))
        if side * side != d:
            raise UsageError(f"augmentation needs square images, got {d} pixels")
        if self.identity:
            return images.copy()
        if self.shift == self.rotate == self.scale == self.shear == self.elastic_alpha == 0:  # thickness only
            out = images.reshape(n, side, side)
            return _thicken(out, np.asarray(rng.uniform(-self.thickness, self.thickness, n)).astype(out.dtype)).reshape(n, d)
        f32 = np.float32
        centre = (side - 1) / 2
        ys, xs = np.meshgrid(np.arange(side, dtype=f32) - centre, np.arange(side, dtype=f32) - centre, indexing="ij")
        # Inverse map: for each output pixel, where to read in the input.
        theta = np.deg2rad(rng.uniform(-self.rotate, self.rotate, n)).astype(f32)
        shear = np.deg2rad(rng.uniform(-self.shear, self.shear, n)).astype(f32)
        sy = np.asarray(rng.uniform(1 - self.scale, 1 + self.scale, n)).astype(f32)
        sx = np.asarray(rng.uniform(1 - self.scale, 1 + self.scale, n)).astype(f32)
        ty, tx = (rng.uniform(-self.shift, self.shift, (2, n)).astype(f32))
        cos, sin, tan = np.cos(theta), np.sin(theta), np.tan(shear)
        # forward map M = R(theta) @ Shear @ diag(sy, sx); its inverse, entry by entry
        a, b = cos * sy, (cos * tan - sin) * sx  # row y: [a b]
        c, e = sin * sy, (sin * tan + cos) * sx  # row x: [c e]
        det = a * e - b * c
        yo, xo = ys[None] - ty[:, None, None], xs[None] - tx[:, None, None]
        src_y = (e[:, None, None] * yo - b[:, None, None] * xo) / det[:, None, None] + centre
        src_x = (-c[:, None, None] * yo + a[:, None, None] * xo) / det[:, None, None] + centre
        if self.elastic_alpha:
            gT = gaussian_matrix(side, self.elastic_sigma).T
            for src in (src_y, src_x):
                field = rng.random((n, side, side), dtype=f32)
                field -= 0.5
                field *= 2  # uniform in [-1, 1)
                # G F Gᵀ as two large products: blur the rows, then (transposed) the columns
                rows = (field.reshape(n * side, side) @ gT).reshape(n, side, side)
                smooth = (rows.transpose(0, 2, 1).reshape(n * side, side) @ gT).reshape(n, side, side).transpose(0, 2, 1)
                src += f32(self.elastic_alpha) * smooth
        out = bilinear(images.reshape(n, side, side), src_y, src_x)
        if self.thickness:
            out = _thicken(out, np.asarray(rng.uniform(-self.thickness, self.thickness, n)).astype(out.dtype))
        return out.reshape(n, d).astype(images.dtype, copy=False)


def _thicken(images: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Strokes thickened (amount > 0) or thinned (< 0) by up to one pixel on each side: each image moves
    that fraction of the way to its dilation (or erosion) by a 3x3 cross."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    shifted = (padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:])
    grow, shrink = amount > 0, amount < 0
    out = images.copy()
    if grow.any():
        dilated = np.maximum.reduce([images[grow], *(s[grow] for s in shifted)])
        out[grow] += amount[grow, None, None] * (dilated - images[grow])
    if shrink.any():
        eroded = np.minimum.reduce([images[shrink], *(s[shrink] for s in shifted)])
        out[shrink] += -amount[shrink, None, None] * (eroded - images[shrink])
    return out


def bilinear(images: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """Sample ``images`` (n, h, w) at fractional coordinates, zero outside."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2), images.dtype)
    padded[:, 1:-1, 1:-1] = images
    y = np.clip(src_y + 1, 0, h + 1 - 1e-3)  # +1: into padded coordinates; outside reads the zero border
    x = np.clip(src_x + 1, 0, w + 1 - 1e-3)
    y0, x0 = np.floor(y), np.floor(x)
    fy, fx = (y - y0).astype(images.dtype), (x - x0).astype(images.dtype)
    stride = w + 2
    corner = (y0.astype(np.intp) * stride + x0.astype(np.intp)) + (np.arange(n) * (h + 2) * stride)[:, None, None]
    flat = padded.ravel()
    top = flat[corner]
    top += (flat[corner + 1] - top) * fx
    bottom = flat[corner + stride]
    bottom += (flat[corner + stride + 1] - bottom) * fx
    top += (bottom - top) * fy
    return top
