"""Drawings for browser tests: digits and non-digits as strokes in the unit square (x right, y down)."""

import math


def arc(cx, cy, rx, ry, a0, a1, n=14):
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / (n - 1))),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / (n - 1)))) for i in range(n)]
# each digit as a list of strokes, each stroke a list of points
TEMPLATES = {
    "0": [arc(0.5, 0.5, 0.3, 0.42, -90, 270, 20)],
    "1": [[(0.5, 0.08 + 0.084 * i) for i in range(11)]],
    "2": [arc(0.5, 0.3, 0.28, 0.22, 190, 380, 10) + [(0.7, 0.5), (0.45, 0.7), (0.22, 0.9), (0.5, 0.9), (0.8, 0.9)]],
    "3": [arc(0.48, 0.28, 0.26, 0.2, 200, 450, 10) + arc(0.48, 0.7, 0.3, 0.22, 270, 520, 12)[1:]],
    "4": [[(0.62, 0.9), (0.62, 0.5), (0.62, 0.08), (0.42, 0.35), (0.18, 0.62), (0.5, 0.62), (0.85, 0.62)]],
    "5": [[(0.75, 0.1), (0.45, 0.1), (0.3, 0.1), (0.28, 0.3), (0.27, 0.45)] + arc(0.5, 0.65, 0.28, 0.25, 230, 500, 12)[2:]],
    "6": [[(0.68, 0.08), (0.5, 0.25), (0.35, 0.45)] + arc(0.5, 0.68, 0.24, 0.22, 200, 560, 16)],
    "7": [[(0.18, 0.12), (0.5, 0.12), (0.82, 0.12), (0.65, 0.45), (0.5, 0.9)]],
    "8": [arc(0.5, 0.3, 0.22, 0.2, 90, 450, 14), arc(0.5, 0.7, 0.27, 0.22, -90, 270, 14)],
    "9": [arc(0.48, 0.32, 0.24, 0.22, 0, 360, 14) + [(0.72, 0.5), (0.7, 0.7), (0.66, 0.92)]],
}
OTHERS = {
    "dot": [[(0.5, 0.5)]],
    "dash": [[(0.2, 0.5), (0.5, 0.5), (0.8, 0.5)]],
    "smiley": [arc(0.5, 0.5, 0.4, 0.4, 0, 360, 24), [(0.38, 0.38)], [(0.62, 0.38)], arc(0.5, 0.55, 0.2, 0.15, 20, 160, 8)],
    "two digits": [[(0.2, 0.2 + 0.06 * i) for i in range(11)], arc(0.7, 0.5, 0.15, 0.3, -90, 270, 16)],
    "scribble": [[(0.2 + 0.6 * ((i * 7) % 11) / 10, 0.2 + 0.6 * ((i * 5) % 9) / 8) for i in range(25)]],
}
def place(strokes, x0, y0, size):
    """The strokes scaled by ``size`` and moved to (x0, y0)."""
    return [[(x0 + size * x, y0 + size * y) for x, y in s] for s in strokes]
def drawings():
    """35 (name, strokes): each digit large, small in a corner and mid-sized off-centre; five non-digits."""
    out = []
    for k, (name, t) in enumerate(TEMPLATES.items()):
        out.append((name, place(t, 0.1, 0.1, 0.8)))
        out.append((name, place(t, 0.05 + 0.05 * (k % 3), 0.55, 0.3)))   # small, in a corner
        out.append((name, place(t, 0.3, 0.2, 0.55)))
    for name, t in OTHERS.items():
        out.append((name, place(t, 0.1, 0.1, 0.8)))
    return out
