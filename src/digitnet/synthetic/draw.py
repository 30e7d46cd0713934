"""Pictures made by code: digits and non-digits drawn as strokes, and text rendered from fonts.

Used to train the network to refuse what is not a digit (outlier exposure), to test the
preprocessing and the verdicts, and to benchmark handwriting that is not MNIST's. Every
function takes an explicit ``numpy.random.Generator`` and returns greyscale float32 arrays
in [0, 1] (paper 1, ink 0: dark on light, as people draw), unless it says otherwise.

Families of non-digits, by what they are and where they are used:

- training (outlier exposure): ``scribble``, ``shape``, ``loop``, ``composite``, ``glyph`` (letters and symbols
  that are not digit-like, in the fonts matplotlib ships), ``pair`` (two MNIST digits side by side);
- held out, only for measuring refusals: ``doodle`` (faces, hearts, houses, suns, spirals,
  clouds: different code, never seen in training), letters in handwriting fonts, Fashion-MNIST.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Digits as a person draws them: strokes of (x, y) points in a unit box (y down).
DIGIT_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5 + 0.42 * math.sin(t), 0.5 - 0.48 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 25)]],
    1: [[(0.35, 0.2), (0.55, 0.0), (0.55, 1.0)]],
    2: [[(0.1, 0.25), (0.3, 0.03), (0.65, 0.02), (0.85, 0.2), (0.8, 0.45), (0.1, 1.0), (0.95, 1.0)]],
    3: [[(0.15, 0.1), (0.45, 0.0), (0.8, 0.1), (0.8, 0.35), (0.45, 0.48), (0.85, 0.62), (0.85, 0.88),
         (0.5, 1.0), (0.12, 0.9)]],
    4: [[(0.7, 1.0), (0.7, 0.0), (0.05, 0.7), (0.95, 0.7)]],
    5: [[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.55, 0.38), (0.85, 0.55), (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)]],
    6: [[(0.75, 0.0), (0.35, 0.2), (0.15, 0.6), (0.25, 0.95), (0.6, 1.0), (0.85, 0.75), (0.7, 0.5), (0.35, 0.5),
         (0.17, 0.65)]],
    7: [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)]],
    8: [[(0.5, 0.5), (0.15, 0.3), (0.5, 0.0), (0.85, 0.25), (0.5, 0.5), (0.12, 0.75), (0.5, 1.0), (0.88, 0.75),
         (0.5, 0.5)]],
    9: [[(0.8, 0.3), (0.5, 0.48), (0.2, 0.3), (0.45, 0.0), (0.8, 0.15), (0.8, 0.5), (0.7, 1.0)]],
}


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turns: float = 1.0, n: int = 25):
    """Points on an ellipse, clockwise from ``start`` (radians from the top) over ``turns`` of a full turn."""
    return [(cx + rx * math.sin(start + t), cy - ry * math.cos(start + t)) for t in np.linspace(0, 2 * math.pi * turns, n)]


#: The world's common ways of writing each digit, beyond :data:`DIGIT_STROKES` (the American school forms MNIST
#: mostly holds): strokes in a unit box, by style name. Continental, British, Indian and East Asian school
#: hands write many of these; a reader should know them before anyone has to teach it.
DIGIT_STYLES: dict[int, dict[str, list[list[tuple[float, float]]]]] = {
    0: {"slashed": [_ellipse(0.5, 0.5, 0.38, 0.48), [(0.2, 0.95), (0.8, 0.05)]],
        "dotted": [_ellipse(0.5, 0.5, 0.38, 0.48), [(0.5, 0.5), (0.51, 0.51)]],
        "narrow": [_ellipse(0.5, 0.5, 0.25, 0.5)]},
    1: {"flag": [[(0.15, 0.35), (0.6, 0.0), (0.6, 1.0)]],
        "flag and base": [[(0.2, 0.3), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],
        "base": [[(0.5, 0.0), (0.5, 1.0)], [(0.25, 1.0), (0.75, 1.0)]],
        "continental": [[(0.1, 0.5), (0.6, 0.0), (0.6, 1.0)]],
        "serifed": [[(0.35, 0.12), (0.5, 0.0), (0.5, 1.0)], [(0.3, 1.0), (0.7, 1.0)]]},
    2: {"looped": [[(0.12, 0.25), (0.35, 0.02), (0.7, 0.02), (0.85, 0.22), (0.75, 0.45), (0.22, 0.9),
                    (0.12, 0.82), (0.25, 0.75), (0.35, 0.95), (0.95, 0.98)]]},
    3: {"flat top": [[(0.1, 0.0), (0.85, 0.0), (0.4, 0.42), (0.8, 0.55), (0.88, 0.82), (0.5, 1.0), (0.1, 0.88)]],
        "open": [[(0.1, 0.15), (0.5, 0.0), (0.85, 0.2), (0.55, 0.48), (0.9, 0.72), (0.55, 1.0), (0.1, 0.85)]]},
    4: {"open": [[(0.45, 0.0), (0.08, 0.65), (0.95, 0.65)], [(0.72, 0.3), (0.72, 1.0)]],
        "two strokes": [[(0.25, 0.0), (0.12, 0.6), (0.92, 0.6)], [(0.7, 0.05), (0.7, 1.0)]],
        "closed": [[(0.65, 1.0), (0.65, 0.0), (0.1, 0.65), (0.95, 0.65)]]},
    5: {"separate bar": [[(0.28, 0.02), (0.22, 0.45), (0.55, 0.38), (0.85, 0.55), (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)],
                         [(0.3, 0.0), (0.88, 0.0)]],
        "round": [[(0.85, 0.0), (0.25, 0.0), (0.2, 0.4), (0.6, 0.35), (0.9, 0.65), (0.7, 0.95), (0.3, 0.98), (0.12, 0.85)]]},
    6: {"straight": [[(0.7, 0.0), (0.25, 0.55), (0.2, 0.85), (0.5, 1.0), (0.8, 0.82), (0.7, 0.55), (0.4, 0.55), (0.22, 0.7)]],
        "curled": [[(0.8, 0.1), (0.55, 0.0), (0.25, 0.25), (0.15, 0.65), (0.35, 1.0), (0.75, 0.95), (0.85, 0.7),
                    (0.6, 0.5), (0.3, 0.6)]]},
    7: {"crossed": [[(0.05, 0.0), (0.95, 0.0), (0.4, 1.0)], [(0.3, 0.52), (0.85, 0.52)]],
        "hooked": [[(0.05, 0.18), (0.1, 0.0), (0.95, 0.0), (0.4, 1.0)]],
        "curved": [[(0.05, 0.05), (0.95, 0.0), (0.6, 0.45), (0.45, 1.0)]],
        "crossed hooked": [[(0.05, 0.18), (0.1, 0.0), (0.95, 0.0), (0.45, 1.0)], [(0.35, 0.5), (0.9, 0.5)]]},
    8: {"two loops": [_ellipse(0.5, 0.26, 0.3, 0.26), _ellipse(0.5, 0.74, 0.38, 0.26)],
        "figure": [[(0.8, 0.1), (0.5, 0.0), (0.2, 0.2), (0.8, 0.75), (0.5, 1.0), (0.2, 0.75), (0.8, 0.25), (0.5, 0.0)]]},
    9: {"straight stem": [[(0.8, 0.3), (0.5, 0.48), (0.2, 0.3), (0.45, 0.0), (0.8, 0.15), (0.8, 0.5), (0.8, 1.0)]],
        "g-like": [[(0.8, 0.3), (0.5, 0.5), (0.2, 0.3), (0.45, 0.0), (0.8, 0.15), (0.8, 0.5), (0.75, 0.9),
                    (0.5, 1.0), (0.2, 0.92)]],
        "round": [_ellipse(0.5, 0.3, 0.32, 0.3, start=1.6, n=22) + [(0.82, 0.3), (0.82, 0.6), (0.6, 1.0)]]},
}

#: Letters and symbols that share strokes with digits (B and 8, S and 5, Z and 2, g and 9, ...): trained as
#: non-digits so that the network does not read them as digits. O, I and l are left out on purpose: they
#: are genuinely ambiguous, and "unsure" or a digit is an honest answer for them.
LOOKALIKE_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "B": [[(0.2, 0.0), (0.2, 1.0)], [(0.2, 0.0), (0.65, 0.0), (0.8, 0.12), (0.8, 0.36), (0.62, 0.48), (0.2, 0.48)],
          [(0.2, 0.48), (0.7, 0.48), (0.88, 0.62), (0.88, 0.88), (0.7, 1.0), (0.2, 1.0)]],
    "S": [[(0.85, 0.12), (0.55, 0.0), (0.2, 0.08), (0.15, 0.3), (0.5, 0.5), (0.85, 0.7), (0.8, 0.92), (0.45, 1.0),
           (0.12, 0.88)]],
    "Z": [[(0.1, 0.0), (0.9, 0.0), (0.1, 1.0), (0.9, 1.0)]],
    "?": [[(0.15, 0.2), (0.45, 0.0), (0.8, 0.12), (0.8, 0.35), (0.5, 0.55), (0.5, 0.75)], [(0.5, 0.95), (0.51, 0.97)]],
    "&": [[(0.9, 1.0), (0.3, 0.4), (0.3, 0.1), (0.5, 0.0), (0.65, 0.12), (0.6, 0.3), (0.15, 0.65), (0.2, 0.92),
           (0.5, 1.0), (0.9, 0.55)]],
    "$": [[(0.85, 0.22), (0.55, 0.1), (0.2, 0.18), (0.2, 0.38), (0.5, 0.5), (0.8, 0.62), (0.8, 0.85), (0.45, 0.92),
           (0.12, 0.82)], [(0.5, 0.0), (0.5, 1.0)]],
    "g": [_ellipse(0.5, 0.3, 0.3, 0.28, n=20), [(0.8, 0.05), (0.8, 0.85), (0.6, 1.0), (0.3, 1.0), (0.15, 0.88)]],
    "q": [_ellipse(0.45, 0.3, 0.3, 0.28, n=20), [(0.75, 0.05), (0.75, 1.0), (0.95, 0.9)]],
    "P": [[(0.2, 1.0), (0.2, 0.0), (0.7, 0.0), (0.85, 0.15), (0.85, 0.35), (0.7, 0.5), (0.2, 0.5)]],
    "R": [[(0.2, 1.0), (0.2, 0.0), (0.7, 0.0), (0.85, 0.15), (0.85, 0.35), (0.7, 0.5), (0.2, 0.5), (0.85, 1.0)]],
    "b": [[(0.2, 0.0), (0.2, 1.0)], _ellipse(0.5, 0.72, 0.3, 0.28, start=-math.pi / 2, n=20)],
    "d": [[(0.8, 0.0), (0.8, 1.0)], _ellipse(0.5, 0.72, 0.3, 0.28, start=math.pi / 2, n=20)],
    "y": [[(0.15, 0.0), (0.5, 0.55)], [(0.85, 0.0), (0.3, 1.0)]],
    "J": [[(0.2, 0.0), (0.85, 0.0)], [(0.6, 0.0), (0.6, 0.8), (0.45, 1.0), (0.2, 0.95), (0.1, 0.8)]],
    "G": [[(0.85, 0.15), (0.55, 0.0), (0.2, 0.15), (0.1, 0.5), (0.25, 0.88), (0.55, 1.0), (0.85, 0.85), (0.85, 0.55),
           (0.55, 0.55)]],
    "e": [[(0.15, 0.55), (0.85, 0.55), (0.75, 0.25), (0.5, 0.15), (0.2, 0.3), (0.15, 0.65), (0.4, 0.95), (0.85, 0.85)]],
    "A": [[(0.05, 1.0), (0.5, 0.0), (0.95, 1.0)], [(0.25, 0.6), (0.75, 0.6)]],
    "T": [[(0.05, 0.0), (0.95, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "L": [[(0.2, 0.0), (0.2, 1.0), (0.85, 1.0)]],
    "%": [_ellipse(0.22, 0.18, 0.15, 0.16, n=14), [(0.85, 0.0), (0.15, 1.0)], _ellipse(0.78, 0.82, 0.15, 0.16, n=14)],
    "#": [[(0.35, 0.0), (0.25, 1.0)], [(0.75, 0.0), (0.65, 1.0)], [(0.05, 0.33), (0.95, 0.33)], [(0.05, 0.67), (0.95, 0.67)]],
}


def draw(strokes, *, size=(280, 280), box=(0, 0, 280, 280), width: float = 21.0, dark_on_light: bool = True,
         background: float | None = None, hollow: float = 0.0) -> np.ndarray:
    """Strokes (lists of unit-box points) drawn into ``box`` (x0, y0, x1, y1) of a canvas with a round brush;
    ``hollow`` > 0 draws only the strokes' outlines, that many pixels thick (like an outline font)."""
    scale = 4  # drawn large, then reduced: anti-aliased like a canvas
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    background = paper if background is None else int(background * 255)
    img = Image.new("L", (size[0] * scale, size[1] * scale), background)
    pen = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    units = [[((x0 + x * (x1 - x0)) * scale, (y0 + y * (y1 - y0)) * scale) for x, y in stroke] for stroke in strokes]
    passes = [(width, ink)] + ([(width - 2 * hollow, background)] if 0 < 2 * hollow < width else [])
    for brush, colour in passes:  # a hollow stroke: the ink, then its inside in paper
        r = brush * scale / 2
        for points in units:
            if len(points) > 1:
                pen.line(points, fill=colour, width=max(1, round(brush * scale)), joint="curve")
            for px, py in points:
                pen.ellipse((px - r, py - r, px + r, py + r), fill=colour)
    img = img.resize(size, Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255


def shaky(strokes, rng: np.random.Generator, jitter: float = 0.035, max_rotate: float = 15.0):
    """The strokes as a different hand draws them: each point moved a little, the whole slanted,
    rotated and squeezed at random."""
    angle, slant = np.deg2rad(rng.uniform(-max_rotate, max_rotate)), rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.7, 1.15), rng.uniform(0.9, 1.1)
    c, s = math.cos(angle), math.sin(angle)
    out = []
    for stroke in strokes:
        p = np.asarray(stroke, float) - 0.5 + rng.normal(0, jitter, (len(stroke), 2))
        p = p * [sx, sy]
        p[:, 0] += slant * -p[:, 1]
        out.append(((p @ [[c, s], [-s, c]]) + 0.5).tolist())
    return out


def hand(strokes, rng: np.random.Generator):
    """The strokes as one of many hands writes them: :func:`shaky` with a wobble of its own size, each stroke
    set down a little apart from the others, and half the hands writing in smooth curves rather than in
    straight pieces (Chaikin's corner cutting, twice)."""
    out = shaky(strokes, rng, jitter=float(rng.uniform(0.015, 0.06)), max_rotate=20.0)
    out = [(np.asarray(stroke) + rng.normal(0, 0.025, 2)).tolist() for stroke in out]
    return [_chaikin(stroke, 2) for stroke in out] if rng.random() < 0.5 else out


def _chaikin(points, rounds: int):
    p = np.asarray(points, float)
    for _ in range(rounds):
        if len(p) < 3:
            break
        q, r = 0.75 * p[:-1] + 0.25 * p[1:], 0.25 * p[:-1] + 0.75 * p[1:]
        p = np.vstack([p[:1], np.stack([q, r], 1).reshape(-1, 2), p[-1:]])
    return p.tolist()


def digit(d: int, **kwargs) -> np.ndarray:
    """Digit ``d`` drawn from :data:`DIGIT_STROKES` (see :func:`draw` for the options)."""
    return draw(DIGIT_STROKES[d], **kwargs)


# ---- non-digits for training (outlier exposure) ----

def scribble(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A random scribble: a smoothed random walk, a zigzag, or a few random straight strokes."""
    kind = rng.integers(3)
    if kind == 0:
        steps = rng.normal(0, 0.25, (int(rng.integers(6, 16)), 2)).cumsum(axis=0)
        return [_unit(steps).tolist()]
    if kind == 1:
        n = int(rng.integers(6, 10))
        xs = np.linspace(0, 1, n)
        ys = np.where(np.arange(n) % 2 == 0, 0.0, 1.0) + rng.normal(0, 0.08, n)
        pts = np.stack([xs, ys], 1) if rng.random() < 0.5 else np.stack([ys, xs], 1)
        return [_unit(pts).tolist()]
    return [rng.random((2, 2)).tolist() for _ in range(int(rng.integers(3, 6)))]


def shape(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A geometric shape: triangle, square, star, cross, plus, arrow, check mark, or wavy line."""
    kind = rng.integers(8)
    if kind == 0:
        return [[(0.5, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.0)]]
    if kind == 1:
        return [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]]
    if kind == 2:
        pts = [(0.5 + 0.5 * math.sin(a), 0.5 - 0.5 * math.cos(a)) for a in np.arange(6) * 4 * math.pi / 5]
        return [pts]
    if kind == 3:
        return [[(0, 0), (1, 1)], [(1, 0), (0, 1)]]
    if kind == 4:
        return [[(0.5, 0), (0.5, 1)], [(0, 0.5), (1, 0.5)]]
    if kind == 5:
        return [[(0, 0.5), (1, 0.5)], [(0.7, 0.2), (1, 0.5), (0.7, 0.8)]]
    if kind == 6:
        return [[(0, 0.55), (0.35, 1.0), (1.0, 0.0)]]
    t = np.linspace(0, 1, 30)
    return [np.stack([t, 0.5 + 0.3 * np.sin(t * 2 * math.pi * rng.uniform(1.5, 3))], 1).tolist()]


def loop(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A closed curve with three to seven lobes, or a random polygon: loopy, but like no digit."""
    t = np.linspace(0, 2 * math.pi, 60)
    if rng.random() < 0.5:
        k = int(rng.integers(3, 8))
        r = 1 + rng.uniform(0.25, 0.5) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    else:
        corners = np.sort(rng.uniform(0, 2 * math.pi, int(rng.integers(5, 9))))
        r = np.interp(t, np.append(corners, corners[0] + 2 * math.pi), rng.uniform(0.4, 1.0, len(corners) + 1),
                      period=2 * math.pi)
    return [_unit(np.stack([r * np.cos(t), r * np.sin(t)], 1)).tolist()]


def composite(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """Two or three shapes, loops or scribbles: each in its own random part of the box, or (half the time)
    built into one figure, stacked one on another or one inside another, as pictograms are."""
    if rng.random() < 0.5:
        return _built(rng)
    strokes = []
    for _ in range(int(rng.integers(2, 4))):
        part = [scribble, shape, loop][int(rng.integers(3))](rng)
        x0, y0 = rng.uniform(0, 0.5, 2)
        w, h = rng.uniform(0.3, 0.6, 2)
        strokes += [[(x0 + x * w, y0 + y * h) for x, y in stroke] for stroke in part]
    return strokes


def _built(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """Shapes and loops put together: a stack (each on top of the last, touching) or a nest (one inside another)."""
    parts = [[shape, loop][int(rng.integers(2))](rng) for _ in range(int(rng.integers(2, 4)))]
    strokes = []
    if rng.random() < 0.5:  # stacked, top to bottom
        heights = rng.uniform(0.25, 0.6, len(parts))
        heights /= heights.sum()
        y = 0.0
        for part, h in zip(parts, heights):
            w = rng.uniform(0.5, 1.0)
            x0 = rng.uniform(0, 1 - w)
            strokes += [[(x0 + x * w, y + v * h) for x, v in stroke] for stroke in part]
            y += h
    else:  # nested, outside in
        size = 1.0
        for part in parts:
            x0 = y0 = (1 - size) / 2
            strokes += [[(x0 + x * size, y0 + v * size) for x, v in stroke] for stroke in part]
            size *= rng.uniform(0.35, 0.6)
    return strokes


def doodle(rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """Held out: a smiley, heart, house, sun, spiral or cloud (never used for training)."""
    kind = rng.integers(6)
    ring = [(0.5 + 0.5 * math.sin(t), 0.5 - 0.5 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 30)]
    if kind == 0:  # smiley
        mouth = [(0.5 + 0.28 * math.sin(t), 0.55 + 0.2 * math.cos(t)) for t in np.linspace(2.2, 4.1, 10)]
        return [ring, [(0.33, 0.35), (0.34, 0.36)], [(0.66, 0.35), (0.67, 0.36)], mouth]
    if kind == 1:  # heart
        t = np.linspace(0, 2 * math.pi, 40)
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return [_unit(np.stack([x, -y], 1)).tolist()]
    if kind == 2:  # house
        return [[(0.1, 0.45), (0.5, 0.0), (0.9, 0.45)], [(0.2, 0.4), (0.2, 1.0), (0.8, 1.0), (0.8, 0.4)],
                [(0.42, 1.0), (0.42, 0.7), (0.58, 0.7), (0.58, 1.0)]]
    if kind == 3:  # sun
        small = [(0.5 + 0.22 * math.sin(t), 0.5 - 0.22 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 20)]
        rays = [[(0.5 + 0.32 * math.sin(a), 0.5 - 0.32 * math.cos(a)), (0.5 + 0.5 * math.sin(a), 0.5 - 0.5 * math.cos(a))]
                for a in np.arange(8) * math.pi / 4]
        return [small, *rays]
    if kind == 4:  # spiral
        t = np.linspace(0, 4 * math.pi, 60)
        return [_unit(np.stack([t * np.cos(t), t * np.sin(t)], 1)).tolist()]
    bumps = [(0.15 + 0.7 * i / 4 + 0.12 * math.sin(t), 0.45 - 0.18 * abs(math.cos(t)))  # cloud
             for i in range(5) for t in np.linspace(-math.pi / 2, math.pi / 2, 6)]
    return [bumps + [(0.85, 0.6), (0.15, 0.6), bumps[0]]]


def _unit(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    points = points - points.min(axis=0)
    return points / max(points.max(), 1e-9)


# ---- text from fonts ----

def matplotlib_fonts() -> list[Path]:
    """The text fonts matplotlib ships (DejaVu, STIX General, Computer Modern): always there, offline."""
    import matplotlib

    folder = Path(matplotlib.get_data_path(), "fonts", "ttf")
    computer_modern = [folder / f"{name}.ttf" for name in ("cmr10", "cmss10", "cmtt10", "cmb10")]
    dejavu = [p for p in folder.glob("DejaVu*.ttf") if "Display" not in p.name]  # the Display faces have no letters
    return sorted([*dejavu, *folder.glob("STIXGeneral*.ttf"), *(p for p in computer_modern if p.exists())])


HANDWRITING_FONT_DIRS = ("/usr/share/fonts/truetype/fifthhorseman", "/usr/share/fonts/truetype/breip",
                         "/usr/share/fonts/opentype/bwht", "/usr/share/fonts/truetype/femkeklaver",
                         "/usr/share/fonts/opentype/comic-neue", "/usr/share/fonts/opentype/dancingscript",
                         "/usr/share/fonts/truetype/humor-sans", "/usr/share/fonts/opentype/kaushanscript")


def handwriting_fonts() -> dict[str, list[Path]]:
    """Debian's handwriting-style fonts that are installed, by family (its directory)."""
    found = {}
    for directory in map(Path, HANDWRITING_FONT_DIRS):
        files = sorted(p for p in directory.glob("*") if p.suffix in (".ttf", ".otf"))
        if files:
            found[directory.name] = files
    return found


def text(chars: str, font: Path, rng: np.random.Generator, *, canvas: int | None = None,
         hollow: bool = False) -> np.ndarray:
    """``chars`` rendered from ``font`` with a random size, position, slant, stroke width, canvas size,
    and dark-on-light or light-on-dark paper; ``hollow``: only the glyphs' outlines, like an outline font."""
    canvas = canvas or int(rng.integers(64, 320))
    size = max(8, int(canvas * rng.uniform(0.3, 0.7)))
    face = ImageFont.truetype(str(font), size)
    light_paper = rng.random() < 0.7
    paper, ink = (255, 0) if light_paper else (0, 255)
    img = Image.new("L", (canvas * 2, canvas * 2), paper)
    pen = ImageDraw.Draw(img)
    stroke = int(rng.integers(1, max(1, size // 30) + 2)) if hollow else int(rng.integers(0, max(1, size // 25) + 1))
    x0, y0, x1, y1 = pen.textbbox((0, 0), chars, font=face, stroke_width=stroke)
    pos = (canvas - (x0 + x1) / 2 + rng.uniform(-0.2, 0.2) * canvas, canvas - (y0 + y1) / 2 + rng.uniform(-0.2, 0.2) * canvas)
    pen.text(pos, chars, font=face, fill=paper if hollow else ink, stroke_width=stroke, stroke_fill=ink)
    slant = rng.uniform(-0.3, 0.3)
    img = img.transform(img.size, Image.Transform.AFFINE, (1, slant, -slant * canvas, 0, 1, 0),
                        resample=Image.Resampling.BILINEAR, fillcolor=paper)
    img = img.crop((canvas // 2, canvas // 2, canvas // 2 + canvas, canvas // 2 + canvas))
    return np.asarray(img, dtype=np.float32) / 255


#: Letters and symbols that no one would take for a digit (O, l, I, S, Z, B, g, q, ... are left out).
NOT_DIGIT_LIKE = "ACEFHKMNPRUVWXYacdefhkmnprtuvwxy#%&@*+=?!<>{}[]~"
