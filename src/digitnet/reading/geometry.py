"""Cheap geometry on the ink, before the network: is this one digit-sized mark, shaped like a digit?

:func:`inspect` measures in the ink's own units (its stroke width and bounding box), so any scale gives
the same answer. It finds dots (``too_small``), two marks side by side (``several_marks``), and shapes no
digit has (``not_digit_like``: a dash, more than two loops, a mark inside a loop, a scatter of pieces).
The browser's copy of these rules (``digitnet.js``) reads :data:`GEOMETRY`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from .. import paths
from ..errors import BlankImage
from ..fileio import atomic_write_bytes
from . import preprocess
from .preprocess import crop_to_work_scale, find_ink, stroke_width

# Geometry, in units of the ink's own stroke width and bounding box (so any scale gives the same answer).
MIN_SIZE_IN_STROKES = 2.5  # a mark shorter than 2.5 stroke widths is a dot, or a digit too small for its brush
MAX_ASPECT = 2.5  # wider than 2.5x its height (and thin): a dash
MIN_PIECE = 0.08  # a connected piece with less than 8% of the ink is a detail (a dot, a serif), not a mark
MIN_MARK_HEIGHT = 0.4  # two pieces side by side, each at least 40% as tall as the whole: two marks
MAX_OVERLAP = 0.2  # ... whose column ranges overlap by less than 20% of the narrower one
MAX_LOOPS = 2  # an 8 has two loops; more is not a digit
MIN_HOLE = 20  # pixels at the work scale: smaller enclosed gaps are ink texture, not loops
MIN_LOOP = 0.5  # stroke widths: an enclosed gap with no point farther than this from the ink is the inside of
#                 an outline (hollow) stroke or a double line, not a loop; ...
ROUNDNESS = 0.25  # ... nor is one long and thin: no point farther than 0.25 sqrt(area) from the ink (a round
#                   loop has points about 0.56 sqrt(area) away; the inside of a hollow stroke, far fewer)
MAX_PIECES = 4  # pieces (joined across gaps under half a stroke) with at least MIN_SIGNIFICANT of the ink:
#                 a sun with rays, a scatter of marks
MIN_SIGNIFICANT = 0.03
MAX_DOT = 0.08  # of the ink: a single piece inside a loop smaller than this is a dot (a dotted zero), not a mark
#: everything the geometry rules depend on (the browser's copy of them, digitnet export --web, reads these)
GEOMETRY = {"MIN_SIZE_IN_STROKES": MIN_SIZE_IN_STROKES, "MAX_ASPECT": MAX_ASPECT, "MIN_PIECE": MIN_PIECE,
            "MIN_MARK_HEIGHT": MIN_MARK_HEIGHT, "MAX_OVERLAP": MAX_OVERLAP, "MAX_LOOPS": MAX_LOOPS, "MIN_HOLE": MIN_HOLE,
            "MIN_LOOP": MIN_LOOP, "ROUNDNESS": ROUNDNESS, "MAX_PIECES": MAX_PIECES, "MIN_SIGNIFICANT": MIN_SIGNIFICANT,
            "MAX_DOT": MAX_DOT}


def inspect(work: np.ndarray) -> str | None:
    """A reason the ink (cropped, longer side at the work scale) is not one digit, or None.

    Units are the ink's own: its stroke width and bounding box, so the rules do not depend
    on the size of the picture."""
    mask = work > 0.5
    if not mask.any():
        return "too_small"
    width = stroke_width(work)
    h, w = work.shape
    if max(h, w) < MIN_SIZE_IN_STROKES * width:
        return "too_small"
    if w > MAX_ASPECT * h and h < 2 * width:
        return "not_digit_like"
    # Steps from each pixel to the nearest ink (taxicab: through the 4 neighbours, as far as the picture goes).
    # Dilating the ink k times with the 4-neighbour cross reaches exactly the pixels at most k steps away, so
    # one distance transform gives both the joined pieces below and the loops' depths (one pass, not k + 1).
    steps = ndimage.distance_transform_cdt(~mask, metric="taxicab")
    # pieces of ink joined across gaps under half a stroke width (a broken line is one mark)
    labels, count = ndimage.label(steps <= max(1, int(width / 4)))
    pieces = np.where(mask, labels, 0)
    areas = np.bincount(pieces.ravel(), minlength=count + 1)[1:].astype(float)  # ink pixels of each piece
    if _side_by_side(labels, count, areas, h):
        return "several_marks"
    return "not_digit_like" if _loops_and_pieces_unlike_a_digit(mask, width, pieces, areas, steps) else None


def _loops_and_pieces_unlike_a_digit(mask: np.ndarray, width: float, pieces: np.ndarray, areas: np.ndarray,
                                     steps: np.ndarray) -> bool:
    """More than two loops, a mark inside a loop (eyes in a face), or many separate pieces:
    none of these happens in a digit (checked on MNIST: tests/test_reading.py). Pieces are
    joined across gaps under half a stroke width, so a faint or broken line is one piece
    (``pieces``: each ink pixel's piece, ``areas`` their sizes; ``steps``: each pixel's distance to the ink)."""
    significant = np.flatnonzero(areas >= MIN_SIGNIFICANT * areas.sum())
    if len(significant) > MAX_PIECES:
        return True
    hole_areas, farthest = _holes(mask, steps)
    if len(hole_areas) == 0:
        return False
    reach = np.maximum(1, np.maximum(MIN_LOOP * width, ROUNDNESS * np.sqrt(hole_areas)).astype(int))
    loops = (hole_areas >= MIN_HOLE) & (farthest > reach)
    if np.count_nonzero(loops) > MAX_LOOPS:
        return True
    # pieces of ink that sit inside a loop of another piece: filling the other piece's holes covers them
    # (unless one is a ring itself: the inner outline of a hollow 0). Two of them (eyes, a mouth), or one that is
    # more than a dot and off the loop's centre (a mouth), is a drawing; a single dot, or a bar through the
    # centre, is the dotted or crossed zero some hands write.
    inside, marks = [], []
    for i in significant if len(significant) > 1 else ():  # one piece (most digits): nothing sits inside another
        piece = pieces == i + 1
        others = mask & ~piece
        ring = np.count_nonzero(ndimage.binary_fill_holes(piece)) - np.count_nonzero(piece) >= MIN_HOLE
        cover = ndimage.binary_fill_holes(others) if np.any(others) else None
        if not ring and cover is not None and np.all(cover[piece]):
            inside.append(i)
            if areas[i] >= MAX_DOT * areas.sum() and not _crosses_centre(piece, cover & ~others):
                marks.append(i)
    return len(inside) > 1 or bool(marks)


def _holes(mask: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The enclosed gaps of the ink (what ``binary_fill_holes`` fills: paper that no path through the 4 neighbours
    leads out of the picture from): each one's area, and its farthest point's steps from the ink."""
    paper, count = ndimage.label(~mask)
    edge = np.concatenate([paper[0], paper[-1], paper[:, 0], paper[:, -1]])
    enclosed = np.ones(count + 1, bool)
    enclosed[edge] = False  # and label 0, the ink
    areas = np.bincount(paper.ravel(), minlength=count + 1).astype(float)
    farthest = np.zeros(count + 1, steps.dtype)
    np.maximum.at(farthest, paper.ravel(), steps.ravel())
    return areas[enclosed], farthest[enclosed]


def _crosses_centre(piece: np.ndarray, hole: np.ndarray) -> bool:
    """Whether ``piece``'s bounding box holds the centre of mass of the ``hole`` it sits in."""
    if not hole.any():
        return False
    rows, cols = np.nonzero(hole)
    cy, cx = rows.mean(), cols.mean()
    prow, pcol = np.nonzero(piece)
    return bool(prow.min() <= cy <= prow.max() and pcol.min() <= cx <= pcol.max())


def _side_by_side(labels: np.ndarray, count: int, areas: np.ndarray, height: int) -> bool:
    """Two big pieces (``labels``: the ink joined across small gaps, ``count`` pieces of ``areas`` ink pixels)
    next to each other, not one above the other."""
    if count < 2:
        return False
    boxes = ndimage.find_objects(labels)
    big = [boxes[i] for i in range(count) if areas[i] >= MIN_PIECE * areas.sum()
           and boxes[i][0].stop - boxes[i][0].start >= MIN_MARK_HEIGHT * height]
    for i, a in enumerate(big):
        for b in big[i + 1:]:
            overlap = min(a[1].stop, b[1].stop) - max(a[1].start, b[1].start)
            narrower = min(a[1].stop - a[1].start, b[1].stop - b[1].start)
            if overlap < MAX_OVERLAP * narrower:
                return True
    return False


#: at least this many pictures are looked at once per content: the answers are kept in the user's cache
REMEMBER_AT = 1000


def inspect_prepared(images: np.ndarray) -> list[str | None]:
    """:func:`inspect` for MNIST-style images (n, 28, 28); a blank one is ``"blank"``. A set of
    :data:`REMEMBER_AT` or more (a data set's test split, measured by every card and report) is looked at
    once: its answers are kept in ``$DIGITNET_CACHE/geometry``, under a digest of the pictures and of
    these rules' code, so a change to either is a new entry."""
    if len(images) < REMEMBER_AT:
        return _inspect_each(images)
    key = hashlib.sha256(_rules_digest())
    key.update(f"{images.dtype.str}{images.shape}".encode())
    key.update(np.ascontiguousarray(images).data)
    path = paths.cache_dir() / "geometry" / f"{key.hexdigest()[:40]}.json"
    try:
        reasons = json.loads(path.read_bytes())
        if isinstance(reasons, list) and len(reasons) == len(images) and \
                all(r is None or isinstance(r, str) for r in reasons):
            return reasons
    except (OSError, ValueError):  # not there yet, unreadable or damaged: looked at again
        pass
    reasons = _inspect_each(images)
    try:
        atomic_write_bytes(path, json.dumps(reasons).encode())
    except OSError:  # no cache: looked at again next time
        pass
    return reasons


def _inspect_each(images: np.ndarray) -> list[str | None]:
    reasons = []
    for image in images:
        try:
            reasons.append(inspect(crop_to_work_scale(find_ink(image))))
        except BlankImage:
            reasons.append("blank")
    return reasons


@functools.cache
def _rules_digest() -> bytes:
    """What the answers depend on: this module's and the preprocessing's code, and the libraries doing the work."""
    import PIL
    import scipy

    code = Path(__file__).read_bytes() + Path(str(preprocess.__file__)).read_bytes()
    return hashlib.sha256(code + f"{np.__version__} {scipy.__version__} {PIL.__version__}".encode()).digest()
