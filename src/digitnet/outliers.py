"""Non-digits for outlier exposure: images a digit reader should refuse, made by code.

Outlier exposure (Hendrycks, Mazeika & Dietterich 2019, https://arxiv.org/abs/1812.04606)
trains on such images with a uniform target (label -1, :func:`~digitnet.losses.softmax_cross_entropy`),
so the network learns to answer them with no confidence. The families used here are
listed in :mod:`digitnet.synth`; all go through the same preprocessing as a user's
drawing. Scribbles, shapes and glyphs take a few milliseconds each to draw and prepare,
so they are made once and cached (IDX, in the user cache directory); pairs of digits are
made from the training images of each run, which keeps its validation digits out of them.
"""

from __future__ import annotations

import numpy as np

from . import paths, synth
from .data.idx import read_idx, write_idx
from .data.preprocess import crop_to_work_scale, place, prepare
from .errors import DataError

VERSION = 3  # of the generator: a new version makes a new cache file
DRAWN_FAMILIES = ("scribble", "shape", "loop", "composite", "glyph")
DRAWERS = {"scribble": synth.scribble, "shape": synth.shape, "loop": synth.loop, "composite": synth.composite}


def drawn(n: int) -> np.ndarray:
    """``n`` drawn non-digits (uint8, (n, 28, 28), MNIST-style), as many of each family; cached."""
    path = paths.cache_dir() / "outliers" / f"drawn-v{VERSION}-{n}-idx3-ubyte.gz"
    if path.is_file():
        try:
            images = read_idx(path)
            if images.shape == (n, 28, 28) and images.dtype == np.uint8:
                return images
        except DataError:
            pass  # a damaged cache file is made again
    images = make_drawn(n, np.random.default_rng([VERSION, n]))
    try:
        write_idx(path, images)
    except OSError:
        pass  # no cache: made again next time
    return images


def make_drawn(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, 28, 28), np.uint8)
    fonts = synth.matplotlib_fonts()
    for i in range(n):
        family = DRAWN_FAMILIES[i % len(DRAWN_FAMILIES)]
        while True:
            if family == "glyph":
                char = synth.NOT_DIGIT_LIKE[rng.integers(len(synth.NOT_DIGIT_LIKE))]
                grey = synth.text(char, fonts[rng.integers(len(fonts))], rng, canvas=96)
            else:
                strokes = DRAWERS[family](rng)
                grey = synth.draw(strokes, size=(112, 112), box=(16, 16, 96, 96), width=float(rng.uniform(3, 16)),
                                  dark_on_light=bool(rng.random() < 0.5))
            try:
                out[i] = np.round(prepare(grey) * 255)
                break
            except DataError:  # nothing visible was drawn: draw another
                continue
    return out


def pairs(images: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` pictures of two digits side by side (uint8, (n, 28, 28)), from ``images`` (m, 28, 28) uint8."""
    out = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        a, b = (crop_to_work_scale(images[j] / np.float32(255)) for j in rng.integers(len(images), size=2))
        h = max(a.shape[0], b.shape[0])
        gap = int(rng.integers(0, 12))
        canvas = np.zeros((h, a.shape[1] + gap + b.shape[1]), np.float32)
        canvas[:a.shape[0], :a.shape[1]] = a
        canvas[:b.shape[0], a.shape[1] + gap:] = b
        out[i] = np.round(place(canvas) * 255)
    return out


def training_set(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` non-digits for one run: two thirds drawn (cached), one third pairs of ``images``."""
    n_pairs = n // 3
    return np.concatenate([drawn(n - n_pairs), pairs(images, n_pairs, np.random.default_rng([seed, 7]))])
