"""The default reads the world's handwriting, not only MNIST's: the common styles, low-resolution scans, and it
refuses letters that look like digits. Every family here comes from generators held out of training
(benchmarks/hands.py: its own templates, a pen, its own scanner; MNIST's test digits) at a draw of its own.
The thresholds sit a few points under what the default measured over seeds (README, benchmarks/handwriting.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import hands
from digitnet.reading.verdict import read

DRAW = 11  # the tests' own draw of the held-out hand (the published benchmark uses another)


def _rates(model, items):
    readings = [read(model, picture) for picture, _ in items]
    right = np.mean([r.verdict == "digit" and r.label == d for r, (_, d) in zip(readings, items)])
    return float(right), float(np.mean([r.verdict != "digit" for r in readings]))


@pytest.fixture(scope="module")
def styles():
    rng = np.random.default_rng([DRAW, 1])
    return {(d, name): [(hands.pen(strokes, rng), d) for _ in range(8)]
            for d, kinds in hands.STYLES.items() for name, strokes in kinds.items()}


def test_the_worlds_common_styles_are_read(default_model, styles):
    right, refused = _rates(default_model, [item for items in styles.values() for item in items])
    assert right >= STYLES_RIGHT and refused <= STYLES_REFUSED, (right, refused)


#: the continental 1 (a flag reaching halfway down, like an upside-down V) is the hardest: read right 38-50% (README)
HARDEST = {(1, "continental"): 0.25}


@pytest.mark.parametrize("style", [(d, name) for d, kinds in hands.STYLES.items() for name in kinds], ids=str)
def test_each_style_is_read(default_model, styles, style):
    """A flagged 1 is not a 7, a slashed or crossed 0 is not an 8 or a non-digit, an open 4 is a 4, ... (most of 8)."""
    right, _ = _rates(default_model, styles[style])
    assert right >= HARDEST.get(style, 0.6), (style, right)


def test_low_resolution_scans_are_read(default_model, mnist):
    rng = np.random.default_rng([DRAW, 2])
    chosen = rng.choice(len(mnist.test), 300, replace=False)
    items = [(hands.scan(mnist.test.images[i], rng), int(mnist.test.labels[i])) for i in chosen]
    right, refused = _rates(default_model, items)
    assert right >= LOWRES_RIGHT and refused <= LOWRES_REFUSED, (right, refused)


def test_letters_that_look_like_digits_are_refused_or_unsure(default_model):
    """B, S, Z, ?, &, $, g, q in the held-out hand: refused, or "unsure" (O, I, l are left out: truly ambiguous)."""
    rng = np.random.default_rng([DRAW, 3])
    chars = list(hands.LOOKALIKES)
    readings = [read(default_model, hands.pen(hands.LOOKALIKES[chars[k % len(chars)]], rng)) for k in range(160)]
    assert np.mean([r.verdict != "digit" for r in readings]) >= LOOKALIKES_REFUSED


# measured on the default of seeds 0-2 at this draw (natural BLAS kernel): styles 95.7-96.6% right, 2.9-4.3% refused;
# scans 92.0-92.7% right, 6.3-7.3% refused; look-alike letters 62-71% refused or unsure
STYLES_RIGHT, STYLES_REFUSED = 0.92, 0.07
LOWRES_RIGHT, LOWRES_REFUSED = 0.88, 0.11
LOOKALIKES_REFUSED = 0.55
