"""The reader's faster forms give scipy's textbook answers exactly: the disk-shaped erosion and dilation of the
stroke step, the stroke width, the geometry's joined pieces and enclosed gaps; and a refused drawing skips
the stroke step (Python and digitnet.js alike, tests/test_browser.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from digitnet import MLP
from digitnet.reading import geometry, preprocess
from digitnet.reading.verdict import read


def random_masks(count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, w = rng.integers(1, 70, size=2)
        noise = ndimage.gaussian_filter(rng.random((h, w)), sigma=rng.uniform(0.5, 3))  # blobs, gaps and rings
        yield noise > np.quantile(noise, rng.uniform(0.2, 0.9))


@pytest.mark.parametrize("erode", [True, False])
def test_the_disk_filter_is_scipys_grey_morphology(erode):
    rng = np.random.default_rng(1)
    for trial in range(200):
        h, w = rng.integers(1, 60, size=2)
        image = (rng.random((h, w)) * (rng.random((h, w)) < 0.6)).astype(np.float32)
        radius = int(rng.integers(1, 25))
        padded = np.pad(image, radius + 1)
        morph = ndimage.grey_erosion if erode else ndimage.grey_dilation
        expected = morph(padded, footprint=preprocess._disk(radius))
        assert np.array_equal(preprocess.disk_filter(padded, radius, erode=erode), expected), (trial, radius)


def test_stroke_width_counts_scipys_boundary():
    for mask in random_masks(300):
        area = np.count_nonzero(mask)
        boundary = np.count_nonzero(mask & ~ndimage.binary_erosion(mask))
        expected = 2 * area / max(boundary, 1) if area else 0.0
        assert preprocess.stroke_width(mask.astype(np.float32)) == expected


def test_joined_pieces_and_enclosed_gaps_are_scipys():
    """k dilations with the 4-neighbour cross are the pixels within k taxicab steps of the ink; the gaps
    binary_fill_holes fills are the paper that touches no edge; their areas and depths as ndimage measures them."""
    for mask in random_masks(300, seed=2):
        if not mask.any():
            continue
        steps = ndimage.distance_transform_cdt(~mask, metric="taxicab")
        for k in (1, 2, 5):
            assert np.array_equal(steps <= k, ndimage.binary_dilation(mask, iterations=k))
        holes, n = ndimage.label(ndimage.binary_fill_holes(mask) & ~mask)
        areas, farthest = geometry._holes(mask, steps)
        index = np.arange(1, n + 1)
        assert np.array_equal(areas, ndimage.sum_labels(np.ones_like(mask), holes, index=index))
        assert np.array_equal(farthest, ndimage.maximum(steps, holes, index=index))


def test_the_stroke_step_is_skipped_for_ink_the_geometry_refuses(monkeypatch):
    """A dash is refused by the geometry: its picture is placed as drawn, never thinned; a digit is thinned."""
    model = MLP([784, 8, 10], "relu", rng=0)
    calls = []
    real = preprocess.normalize_stroke
    monkeypatch.setattr("digitnet.reading.verdict.normalize_stroke", lambda work: calls.append(work) or real(work))
    dash = np.ones((200, 200), np.float32)
    dash[95:110, 20:180] = 0
    reading = read(model, dash)
    assert reading.reason == "not_digit_like" and calls == []
    one = np.ones((200, 200), np.float32)
    one[20:180, 90:125] = 0  # a thick upright bar: a 1 drawn with a big brush
    reading = read(model, one)
    assert reading.reason not in ("too_small", "several_marks", "not_digit_like") and len(calls) == 1  # (an untrained network)
    assert reading.image.shape == (28, 28) and reading.image.max() > 0.5


def test_reading_a_picture_never_starts_numba(tmp_path):
    """The server's first reading must not wait for numba's import and start-up (~0.5 s): reading one picture,
    prepared or drawn, runs on NumPy alone, with the kernels on."""
    script = ("import sys, numpy as np; from digitnet import MLP, read; m = MLP([784, 16, 10], 'relu', deskew='both'); "
              "p = np.ones((200, 200), np.float32); p[50:150, 90:110] = 0; read(m, p); "
              "read(m, np.zeros((28, 28), np.float32) + np.eye(28, dtype=np.float32), prepared=True); "
              "print('numba' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "DIGITNET_KERNELS"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
