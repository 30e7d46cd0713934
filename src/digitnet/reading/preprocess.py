"""Turn a user's picture of a digit into what MNIST looks like.

MNIST digits are white on black, their ink scaled so the longer side of its
bounding box is 20 pixels (anti-aliased), then placed in a 28x28 frame so that
the centre of mass of the ink sits at the centre. ``prepare`` does the same, and
one thing more: MNIST's pens drew strokes about 2.7 px wide at that scale, while a
drawing's strokes scale with it (a small digit drawn with a fixed brush ends up with
strokes three times too thick, its loops filled). So the strokes are measured at a
working size of 80 px and thinned or thickened to MNIST's width before the last
scaling. The CLI, the API and the page all go through here.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from ..errors import BlankImage, DataError
from ..fileio import read_input

MAX_PIXELS = 16_000_000  # refuse larger images (from their header) before decoding them: 16 MP is a phone photo
MAX_BYTES = 50 * 1024 * 1024
#: The picture formats read, on purpose: the common ones for a photo or a drawing. Others that Pillow
#: could open (PSD, EPS, which runs Ghostscript, TIFF's many codecs...) are refused without decoding.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
INK_THRESHOLD = 0.15  # fraction of full ink that counts as drawn
WORK = 80  # pixels: the longer side of the ink while its strokes are measured and adjusted (4x MNIST's 20)
#: MNIST's median stroke width at its 20-pixel scale, measured with :func:`stroke_width` at the
#: work scale on the training images (tests/test_preprocess.py checks it).
MNIST_STROKE = 2.7


def open_image(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """Decode a PNG/JPEG/... (a path or bytes) to greyscale floats in [0, 1], shape (h, w).

    Transparent pixels count as paper: white, or black under light ink drawn on a mostly transparent picture
    (:func:`_paper_behind`). Raises DataError for anything that is
    not a readable image of sensible size.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        data = source
    else:
        data = read_input(source, limit=MAX_BYTES, expected="a PNG or JPEG image", label=label)
    if not data:
        raise DataError(f"{label}: empty file (expected a PNG or JPEG image)")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise DataError(f"{label}: {w}x{h} pixels is too large (at most {MAX_PIXELS:,} pixels)")
            if w == 0 or h == 0:
                raise DataError(f"{label}: image has no pixels")
            img.load()
            img = ImageOps.exif_transpose(img)  # a phone photo's orientation tag: upright as it was taken
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, _paper_behind(rgba))
                img = Image.alpha_composite(paper, rgba)
            grey = img.convert("L")
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise DataError(f"{label}: not a readable image ({exc.__class__.__name__}); expected "
                        f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{label}: image data is corrupt or truncated ({exc})") from None
    return np.asarray(grey, dtype=np.float32) / 255


def _paper_behind(rgba: Image.Image) -> tuple[int, int, int, int]:
    """The colour that a picture's transparent pixels stand for: white paper, unless most of the picture is
    transparent and what is drawn on it is light (white ink on a transparent background, as drawing apps and
    dark-mode pages export it), which would vanish on white: then black."""
    array = np.asarray(rgba, np.float32) / 255
    alpha = array[..., 3]
    if (alpha < 0.5).mean() < 0.5:  # mostly opaque: the picture brings its own paper
        return (255, 255, 255, 255)
    luminance = array[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    drawn = float((luminance * alpha).sum() / max(float(alpha.sum()), 1e-6))
    return (0, 0, 0, 255) if drawn > 0.5 else (255, 255, 255, 255)


def find_ink(grey: np.ndarray, *, name: str = "image") -> np.ndarray:
    """The ink of a greyscale (h, w) picture in [0, 1]: white on black, paper at 0, the darkest ink at 1.

    Dark-on-light is inverted (judged by the border). Raises :class:`~digitnet.errors.BlankImage`
    when there is no ink (an empty or one-colour picture).
    """
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or grey.size == 0:
        raise DataError(f"{name}: expected a 2-D greyscale image, got shape {grey.shape}")
    if not np.isfinite(grey).all():
        raise DataError(f"{name}: image contains NaN or infinite values")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if not border.any():  # black paper already (an MNIST-style picture): both medians below are 0
        ink = grey.copy()
    else:
        ink = 1 - grey if np.median(border) > 0.5 else grey.copy()
        ink -= np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))  # paper is 0
    np.clip(ink, 0, 1, out=ink)
    peak = ink.max()
    if peak < INK_THRESHOLD:
        raise BlankImage(f"{name}: no digit found (the picture is empty or all one colour); draw a digit first")
    ink /= peak
    return ink


def crop_to_work_scale(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box, resized (anti-aliased) so that its longer side is :data:`WORK` pixels."""
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = WORK / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    work = np.array(Image.fromarray(ink).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    return np.clip(work, 0, 1, out=work)


def stroke_width(ink: np.ndarray) -> float:
    """Typical stroke width in pixels: 2 x ink area / boundary length of the ink (> 0.5).

    A stroke of length L and width w covers L w pixels and has about 2 L boundary pixels."""
    mask = ink > 0.5
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    inner = mask.copy()  # ndimage.binary_erosion(mask): ink whose 4 neighbours are ink, none at the picture's edge
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    inner[[0, -1]] = False
    inner[:, [0, -1]] = False
    return 2 * area / max(area - int(np.count_nonzero(inner)), 1)


def normalize_stroke(work: np.ndarray, target: float | None = None) -> np.ndarray:
    """Thin or thicken the strokes of a work-scale ink image to ``target`` pixels wide
    (default: MNIST's typical width, :data:`MNIST_STROKE` at 20 px, scaled to :data:`WORK`)."""
    target = MNIST_STROKE * WORK / 20 if target is None else target
    radius = int(round((stroke_width(work) - target) / 2))
    if radius == 0:
        return work
    pad = np.pad(work, abs(radius) + 1)
    out = disk_filter(pad, abs(radius), erode=radius > 0)
    rows, cols = np.nonzero(out > INK_THRESHOLD)
    if len(rows) == 0:  # thinned away: keep the original
        return work
    return out[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius + radius  # a round brush, a little fuller than x² + y² <= r²


def disk_filter(image: np.ndarray, radius: int, *, erode: bool) -> np.ndarray:
    """``ndimage.grey_erosion(image, footprint=_disk(radius))`` (or ``grey_dilation``), zeros outside the image:
    the same numbers, computed faster.

    Row dy of the disk spans |dx| <= w(dy) = ⌊sqrt(r² + r - dy²)⌋, and w shrinks as |dy| grows, so the disk is
    the union of one rectangle per chord width w: |dx| <= w, |dy| <= the farthest row at least that wide. The
    minimum over the disk is the minimum of the rectangles' minima, and a rectangle's is a running minimum
    along the rows, then along the columns (``minimum_filter1d``, whose cost does not grow with the width):
    O(pixels x r) instead of scipy's O(pixels x r²), which took up to ~50 ms on the first blob of a stroke
    drawn with a big brush.
    """
    running = ndimage.minimum_filter1d if erode else ndimage.maximum_filter1d
    combine = np.minimum if erode else np.maximum
    reach: dict[int, int] = {}  # chord half-width -> the farthest row |dy| of the disk at least that wide
    for dy in range(radius + 1):
        for half in range(math.isqrt(radius * radius + radius - dy * dy) + 1):
            reach[half] = dy
    out: np.ndarray | None = None
    for half, rows in reach.items():
        if half + 1 in reach and reach[half + 1] == rows:
            continue  # inside the next, wider rectangle of the same height
        box = running(running(image, 2 * half + 1, axis=1, mode="constant", cval=0), 2 * rows + 1, axis=0,
                      mode="constant", cval=0)
        out = box if out is None else combine(out, box, out=out)
    assert out is not None  # the widest chord, half = radius, always has a rectangle
    return out


def place(work: np.ndarray) -> np.ndarray:
    """Scale the ink so its longer side is 20 px (anti-aliased) and place it in 28x28 by centre of mass."""
    h, w = work.shape
    scale = 20 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.array(Image.fromarray(work).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    np.clip(small, 0, 1, out=small)
    total = small.sum()
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top = min(max(int(round(14 - cy)), 0), 28 - small.shape[0])
    left = min(max(int(round(14 - cx)), 0), 28 - small.shape[1])
    out = np.zeros((28, 28), np.float32)
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


def prepare(grey: np.ndarray, *, name: str = "image", stroke: bool = True) -> np.ndarray:
    """MNIST-style 28x28 image (float32 in [0, 1], white ink on black) from greyscale (h, w) in [0, 1].

    Steps: invert if dark-on-light (judged by the border), crop to the ink, scale to a
    working size, bring the strokes to MNIST's typical width (``stroke``), scale the
    longer side to 20 px with anti-aliasing, place in 28x28 by centre of mass.
    Raises :class:`~digitnet.errors.BlankImage` when there is no ink.
    """
    work = crop_to_work_scale(find_ink(grey, name=name))
    return place(normalize_stroke(work) if stroke else work)


def load_digit(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """:func:`open_image` then :func:`prepare`: a (28, 28) float32 array ready for a model (flatten it)."""
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    return prepare(open_image(source, label), name=label)
