"""Training images made by code, beside MNIST's: non-digits to refuse, and digits as others write them.

- Non-digits for outlier exposure (Hendrycks, Mazeika & Dietterich 2019,
  https://arxiv.org/abs/1812.04606): trained with a uniform target (label -1,
  :func:`~digitnet.nn.losses.softmax_cross_entropy`), so the network learns to answer them
  with no confidence. Scribbles, shapes, loops, composites and glyphs (:mod:`digitnet.synthetic.draw`),
  and pairs of digits side by side.
- Digits that are not MNIST's: typeset in the fonts matplotlib ships, and drawn from
  stroke templates with a shaky hand (jittered points, random slant, width and brush).

All go through the same preprocessing as a user's picture. Drawing and preparing takes
a few milliseconds per image, so the drawn sets are made once and cached (IDX, in the
user cache directory); pairs of digits are made from the training images of each run,
which keeps its validation digits out of them. None of the handwriting fonts that
``benchmarks/handwriting.py`` measures with is used here.
"""

from __future__ import annotations

import numpy as np

from .. import paths
from . import draw as synth
from ..data.augment import Augment
from ..data.idx import read_idx, write_idx
from ..reading.preprocess import crop_to_work_scale, place, prepare
from ..errors import DataError

VERSION = 5  # of the generators: a new version makes new cache files
DRAWN_FAMILIES = ("scribble", "shape", "loop", "composite", "glyph")
DRAWERS = {"scribble": synth.scribble, "shape": synth.shape, "loop": synth.loop, "composite": synth.composite}


def drawn(n: int, draw: int = 0) -> np.ndarray:
    """``n`` drawn non-digits (uint8, (n, 28, 28), MNIST-style), as many of each family; cached.
    ``draw``: which random draw of them (0: the standard one; see :func:`digits`)."""
    return _cached(f"nondigits-v{VERSION}-{n}{_suffix(draw)}",
                   lambda: make_drawn(n, np.random.default_rng([VERSION, n, *_more(draw, 0)])))


def digits(n: int, draw: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits not from MNIST (uint8 images (n, 28, 28), labels (n,)): half typeset, half drawn; cached.

    ``draw`` picks another random draw of the same kinds (0: the standard one). A network's refusal of
    non-digits it never saw depends on the draw it was trained with (``benchmarks/handwriting.py
    --synthetic-draws`` measures how much), so it is a setting of its own, apart from the seed."""
    labels = np.arange(n) % 10
    images = _cached(f"digits-v{VERSION}-{n}{_suffix(draw)}",
                     lambda: make_digits(labels, np.random.default_rng([VERSION, n, 1, *_more(draw, 1)])))
    return images, labels


def _suffix(draw: int) -> str:
    return f"-draw{draw}" if draw else ""


def _more(draw: int, kind: int) -> list[int]:
    """The generator's extra key for a draw (none for draw 0, so the standard draw stays what it was)."""
    return [kind, draw] if draw else []


def _cached(name: str, make) -> np.ndarray:
    path = paths.cache_dir() / "synthetic" / f"{name}-idx3-ubyte.gz"
    if path.is_file():
        try:
            return read_idx(path)
        except DataError:
            pass  # a damaged cache file is made again
    images = make()
    try:
        write_idx(path, images)
    except OSError:
        pass  # no cache: made again next time
    return images


#: typeset characters are too regular: half of them get a hand's wobble (elastic distortion) and slant
WOBBLE = Augment(rotate=8.0, shear=10.0, elastic_alpha=20.0, elastic_sigma=4.5)


def _wobble(images: np.ndarray, which: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flat = images[which].reshape(int(which.sum()), -1) / np.float32(255)
    images[which] = np.round(np.clip(WOBBLE(flat, rng), 0, 1) * 255).reshape(-1, 28, 28)
    return images


def make_digits(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((len(labels), 28, 28), np.uint8)
    fonts = synth.matplotlib_fonts()
    for i, d in enumerate(labels):
        if i % 2:
            grey = synth.text(str(d), fonts[rng.integers(len(fonts))], rng, canvas=96)
        else:
            grey = synth.draw(synth.shaky(synth.DIGIT_STROKES[int(d)], rng), size=(112, 112), box=(24, 16, 88, 96),
                              width=float(rng.uniform(3, 16)), dark_on_light=bool(rng.random() < 0.5))
        out[i] = np.round(prepare(grey) * 255)
    return _wobble(out, (np.arange(len(labels)) % 4) == 1, rng)  # half the typeset ones


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
    glyphs = np.array([DRAWN_FAMILIES[i % len(DRAWN_FAMILIES)] == "glyph" for i in range(n)])
    return _wobble(out, glyphs & (rng.random(n) < 0.5), rng)


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


def nondigits(images: np.ndarray, n: int, seed: int, draw: int = 0) -> np.ndarray:
    """``n`` non-digits for one run: two thirds drawn (cached; ``draw``: which draw, see :func:`digits`),
    one third pairs of ``images``."""
    n_pairs = n // 3
    return np.concatenate([drawn(n - n_pairs, draw), pairs(images, n_pairs, np.random.default_rng([seed, 7]))])
