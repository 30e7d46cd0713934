"""Held-out hands for benchmarks/handwriting.py: pictures made by code that training never sees.

Training draws digits and look-alike letters with :mod:`digitnet.synthetic.draw` (polyline templates, a
jittered "shaky hand", a round brush). Measuring with the same generator and another random draw would
measure the generator, not the reader. So the benchmark draws with a different hand, written apart from
training's:

- its own templates for every style (control points of smooth curves, written separately, not copied
  from :data:`digitnet.synthetic.draw.DIGIT_STYLES`);
- a pen, not a brush: Catmull-Rom curves through the control points, a stroke width that swells and
  thins with the pen's pressure, a slant and a size of the writer's, grey ink on a canvas of any size;
- its own low-resolution scanner: block counts of a bitmap (as the forms of old data sets were coded),
  averages over square cells, then nearest, bilinear or Lanczos enlargement, on MNIST's *test* digits and
  on digits from the handwriting fonts (neither ever trained on).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw


def _arc(cx, cy, rx, ry, a0, a1, n=9):
    """Control points on an ellipse from angle a0 to a1 (degrees, 0 = top, clockwise)."""
    return [(cx + rx * math.sin(math.radians(a)), cy - ry * math.cos(math.radians(a))) for a in np.linspace(a0, a1, n)]


#: digit -> style -> strokes of control points (unit box, y down). The styles people write beyond MNIST's.
STYLES: dict[int, dict[str, list[list[tuple[float, float]]]]] = {
    0: {"plain": [_arc(0.5, 0.5, 0.4, 0.5, 0, 360, 13)],
        "slashed": [_arc(0.5, 0.5, 0.36, 0.5, 10, 370, 13), [(0.12, 1.02), (0.88, -0.02)]],
        "crossed": [_arc(0.5, 0.5, 0.36, 0.5, 0, 360, 13), [(0.25, 0.58), (0.75, 0.42)]],
        "dotted": [_arc(0.5, 0.5, 0.38, 0.5, 0, 360, 13), [(0.49, 0.5), (0.52, 0.52)]]},
    1: {"plain": [[(0.52, 0.0), (0.5, 0.5), (0.48, 1.0)]],
        "long flag": [[(0.08, 0.42), (0.35, 0.2), (0.62, 0.0), (0.6, 0.5), (0.6, 1.0)]],
        "flag and base": [[(0.28, 0.22), (0.56, 0.0), (0.56, 0.5), (0.56, 1.0)], [(0.22, 1.0), (0.9, 1.0)]],
        "base only": [[(0.52, 0.0), (0.52, 1.0)], [(0.2, 1.0), (0.84, 1.0)]],
        "continental": [[(0.02, 0.6), (0.3, 0.3), (0.64, 0.0), (0.64, 0.5), (0.64, 1.0)]]},
    2: {"plain": [[(0.12, 0.22), (0.45, 0.0), (0.82, 0.15), (0.7, 0.5), (0.12, 1.0), (0.9, 0.98)]],
        "looped": [[(0.1, 0.22), (0.45, 0.0), (0.82, 0.2), (0.65, 0.55), (0.25, 0.88), (0.15, 0.78), (0.32, 0.72),
                    (0.38, 0.95), (0.92, 0.98)]]},
    3: {"plain": [[(0.12, 0.12), (0.5, 0.0), (0.82, 0.2), (0.45, 0.48), (0.85, 0.72), (0.5, 1.0), (0.1, 0.88)]],
        "flat top": [[(0.08, 0.02), (0.88, 0.0), (0.42, 0.4), (0.85, 0.6), (0.8, 0.9), (0.45, 1.0), (0.08, 0.88)]]},
    4: {"plain": [[(0.68, 1.0), (0.68, 0.0), (0.05, 0.68), (0.95, 0.68)]],
        "open": [[(0.38, 0.0), (0.1, 0.62), (0.95, 0.62)], [(0.75, 0.22), (0.75, 1.0)]],
        "two strokes": [[(0.3, 0.0), (0.18, 0.58), (0.92, 0.58)], [(0.68, 0.02), (0.7, 1.0)]]},
    5: {"plain": [[(0.85, 0.02), (0.25, 0.0), (0.2, 0.42), (0.6, 0.36), (0.88, 0.68), (0.5, 1.0), (0.1, 0.86)]],
        "separate bar": [[(0.3, 0.05), (0.24, 0.44), (0.62, 0.38), (0.88, 0.7), (0.5, 1.0), (0.1, 0.86)],
                         [(0.28, 0.0), (0.9, 0.02)]]},
    6: {"plain": [[(0.75, 0.0), (0.3, 0.3), (0.18, 0.72), (0.5, 1.0), (0.82, 0.75), (0.5, 0.5), (0.22, 0.68)]]},
    7: {"plain": [[(0.06, 0.02), (0.94, 0.0), (0.42, 1.0)]],
        "crossed": [[(0.06, 0.02), (0.94, 0.0), (0.42, 1.0)], [(0.28, 0.55), (0.82, 0.48)]],
        "hooked": [[(0.04, 0.22), (0.1, 0.02), (0.94, 0.0), (0.45, 1.0)]]},
    8: {"plain": [[(0.52, 0.48), (0.18, 0.25), (0.5, 0.0), (0.82, 0.25), (0.5, 0.48), (0.15, 0.76), (0.5, 1.0),
                   (0.85, 0.76), (0.52, 0.48)]]},
    9: {"plain": [[(0.82, 0.22), (0.5, 0.45), (0.18, 0.25), (0.5, 0.0), (0.82, 0.2), (0.75, 0.6), (0.6, 1.0)]],
        "straight stem": [[(0.8, 0.3), (0.5, 0.46), (0.2, 0.26), (0.5, 0.0), (0.8, 0.12), (0.8, 0.55), (0.8, 1.0)]],
        "like g": [[(0.8, 0.28), (0.5, 0.48), (0.2, 0.26), (0.5, 0.0), (0.8, 0.12), (0.8, 0.55), (0.74, 0.92),
                    (0.45, 1.0), (0.18, 0.9)]]},
}

#: letters and symbols that share strokes with digits, in this hand (refusing them, or "unsure", is right)
LOOKALIKES: dict[str, list[list[tuple[float, float]]]] = {
    "B": [[(0.22, 0.0), (0.22, 1.0)], [(0.22, 0.0), (0.7, 0.04), (0.78, 0.25), (0.62, 0.46), (0.22, 0.48)],
          [(0.22, 0.48), (0.75, 0.52), (0.88, 0.76), (0.7, 0.98), (0.22, 1.0)]],
    "S": [[(0.85, 0.15), (0.5, 0.0), (0.18, 0.2), (0.45, 0.48), (0.85, 0.75), (0.5, 1.0), (0.12, 0.85)]],
    "Z": [[(0.08, 0.02), (0.92, 0.0), (0.08, 0.98), (0.92, 1.0)]],
    "?": [[(0.12, 0.22), (0.5, 0.0), (0.82, 0.25), (0.5, 0.55), (0.5, 0.75)], [(0.49, 0.95), (0.51, 0.97)]],
    "&": [[(0.92, 0.98), (0.28, 0.35), (0.45, 0.0), (0.65, 0.25), (0.15, 0.7), (0.45, 1.0), (0.88, 0.55)]],
    "$": [[(0.82, 0.2), (0.5, 0.08), (0.18, 0.28), (0.5, 0.5), (0.82, 0.72), (0.5, 0.92), (0.15, 0.8)],
          [(0.5, -0.05), (0.5, 1.05)]],
    "g": [_arc(0.48, 0.3, 0.3, 0.3, 90, 450, 11), [(0.78, 0.05), (0.78, 0.7), (0.5, 1.0), (0.15, 0.85)]],
    "q": [_arc(0.45, 0.3, 0.3, 0.3, 90, 450, 11), [(0.76, 0.05), (0.76, 1.0), (0.95, 0.88)]],
}


def _catmull_rom(points: list[tuple[float, float]], per_segment: int = 10) -> np.ndarray:
    """A smooth curve through the control points (centripetal-free, uniform Catmull-Rom)."""
    p = np.asarray(points, float)
    if len(p) < 3:
        return np.linspace(p[0], p[-1], per_segment * max(1, len(p) - 1) + 1)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * b) + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t ** 2 + (-a + 3 * b - 3 * c + d) * t ** 3))
    out.append(p[-2][None])
    return np.vstack(out)


def pen(strokes, rng: np.random.Generator) -> np.ndarray:
    """The strokes written with a pen by a writer of this hand: greyscale (h, w) in [0, 1], ink dark or light."""
    canvas = int(rng.integers(64, 400))
    slant, tilt = rng.uniform(-0.35, 0.35), np.deg2rad(rng.uniform(-12, 12))
    width_of_box, height = rng.uniform(0.45, 0.8), rng.uniform(0.55, 0.85)
    base = canvas * rng.uniform(0.015, 0.06)  # the pen's width
    x0, y0 = rng.uniform(0.05, 0.95 - width_of_box) * canvas, rng.uniform(0.05, 0.95 - height) * canvas
    c, s = math.cos(tilt), math.sin(tilt)
    scale = 3  # drawn large, then reduced
    img = Image.new("L", (canvas * scale, canvas * scale), 0)
    ink = ImageDraw.Draw(img)
    for stroke in strokes:
        pts = np.asarray(stroke, float) + rng.normal(0, 0.012, (len(stroke), 2))  # the writer's own wobble
        curve = _catmull_rom([tuple(q) for q in pts])
        curve[:, 0] += slant * (1 - curve[:, 1])
        curve = (curve - 0.5) @ [[c, s], [-s, c]] + 0.5
        xy = np.stack([x0 + curve[:, 0] * width_of_box * canvas, y0 + curve[:, 1] * height * canvas], 1) * scale
        pressure = 0.7 + 0.3 * np.sin(np.linspace(0, math.pi, len(xy))) * rng.uniform(0.5, 1.5)
        for (px, py), w in zip(xy, pressure):
            r = max(1.0, base * w * scale / 2)
            ink.ellipse((px - r, py - r, px + r, py + r), fill=255)
        for (ax, ay), (bx, by), w in zip(xy, xy[1:], pressure):
            ink.line((ax, ay, bx, by), fill=255, width=max(1, round(base * w * scale)))
    grey = np.asarray(img.resize((canvas, canvas), Image.Resampling.LANCZOS), np.float32) / 255
    grey = grey * rng.uniform(0.6, 1.0)  # ink is seldom pure black
    return 1 - grey if rng.random() < 0.7 else grey  # mostly dark on light paper


def scan(ink28: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit (28, 28) uint8, white on black, as an old form's low-resolution scan shows it: a bitmap of the ink's
    box counted in cells (8x8 of 4x4 cells, as some data sets were coded, or cells of other sizes), then shown
    enlarged or not. Greyscale (h, w) in [0, 1], white on black."""
    rows, cols = np.nonzero(ink28 > 40)
    box = ink28[rows.min():rows.max() + 1, cols.min():cols.max() + 1] if len(rows) else ink28
    cells = int(rng.choice([8, 8, 10, 12, 16]))
    fine = cells * int(rng.choice([2, 3, 4]))
    h, w = box.shape
    stretched = rng.random() < 0.6  # coded forms normalize the box to the square
    size = (fine, fine) if stretched else (max(1, round(w * fine / max(h, w))), max(1, round(h * fine / max(h, w))))
    bitmap = np.asarray(Image.fromarray(box).resize(size, Image.Resampling.BILINEAR)) > rng.integers(70, 150)
    k = fine // cells
    hh, ww = (bitmap.shape[0] // k) * k, (bitmap.shape[1] // k) * k
    counts = bitmap[:hh, :ww].reshape(hh // k, k, ww // k, k).mean(axis=(1, 3)).astype(np.float32)
    show = rng.integers(3)
    if show == 0:
        return np.pad(counts, 1)  # the cells themselves
    method = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.LANCZOS)[int(rng.integers(3))]
    big = Image.fromarray(counts).resize((counts.shape[1] * 4 * (1 + int(show)), counts.shape[0] * 4 * (1 + int(show))),
                                         method)
    return np.clip(np.pad(np.asarray(big, np.float32), 4), 0, 1)
