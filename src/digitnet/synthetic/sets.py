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

import hashlib

import numpy as np

from .. import paths
from ..data.augment import Augment
from ..data.idx import read_idx, write_idx
from ..errors import DataError
from ..reading.preprocess import crop_to_work_scale, place, prepare
from . import draw as synth

VERSION = 8  # of the generators: a new version makes new cache files
# look-alike letters twice: the hardest non-digits (S and 5, Z and 2, q and 9 share most of their strokes)
DRAWN_FAMILIES = ("scribble", "shape", "loop", "composite", "glyph", "lookalike", "lookalike")
STYLE_SHARE = 0.7  # of the drawn digits: written in one of the world's other common styles (synth.DIGIT_STYLES)
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


def _checksum(*arrays: np.ndarray) -> str:
    """A short SHA-256 of ``arrays``' bytes: what a cache file made from them is named by."""
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()[:16]


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


#: letters and symbols that share strokes with a digit (synth.LOOKALIKE_STROKES has their drawn forms)
LOOKALIKES = tuple(synth.LOOKALIKE_STROKES)


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
            grey = synth.draw(synth.hand(_strokes_of(int(d), rng), rng), size=(112, 112), box=(24, 16, 88, 96),
                              width=float(rng.uniform(3, 16)), dark_on_light=bool(rng.random() < 0.5))
        out[i] = np.round(prepare(grey) * 255)
    return _wobble(out, (np.arange(len(labels)) % 4) == 1, rng)  # half the typeset ones


def _strokes_of(d: int, rng: np.random.Generator):
    """Digit ``d``'s strokes: the school form of :data:`synth.DIGIT_STROKES`, or one of its other common styles."""
    styles = list(synth.DIGIT_STYLES.get(d, {}).values())
    if styles and rng.random() < STYLE_SHARE:
        return styles[int(rng.integers(len(styles)))]
    return synth.DIGIT_STROKES[d]


def make_drawn(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, 28, 28), np.uint8)
    fonts = synth.matplotlib_fonts()
    for i in range(n):
        family = DRAWN_FAMILIES[i % len(DRAWN_FAMILIES)]
        while True:
            if family == "glyph":
                char = synth.NOT_DIGIT_LIKE[rng.integers(len(synth.NOT_DIGIT_LIKE))]
                grey = synth.text(char, fonts[rng.integers(len(fonts))], rng, canvas=96)
            elif family == "lookalike" and rng.random() < 0.5:  # typeset, in the fonts matplotlib ships
                grey = synth.text(LOOKALIKES[rng.integers(len(LOOKALIKES))], fonts[rng.integers(len(fonts))], rng, canvas=96)
            elif family == "lookalike":  # drawn by the shaky hand
                strokes = synth.LOOKALIKE_STROKES[LOOKALIKES[rng.integers(len(LOOKALIKES))]]
                grey = synth.draw(synth.hand(strokes, rng), size=(112, 112), box=(24, 16, 88, 96),
                                  width=float(rng.uniform(3, 16)), dark_on_light=bool(rng.random() < 0.5))
            else:
                strokes = DRAWERS[family](rng)
                grey = synth.draw(strokes, size=(112, 112), box=(16, 16, 96, 96), width=float(rng.uniform(3, 16)),
                                  dark_on_light=bool(rng.random() < 0.5))
            try:
                out[i] = np.round(prepare(grey) * 255)
                break
            except DataError:  # nothing visible was drawn: draw another
                continue
    glyphs = np.array([DRAWN_FAMILIES[i % len(DRAWN_FAMILIES)] in ("glyph", "lookalike") for i in range(n)])
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
    one third pairs of ``images`` (cached by the images' checksum and ``seed``)."""
    n_pairs = n // 3
    digest = _checksum(images)
    paired = _cached(f"pairs-v{VERSION}-{n_pairs}-{len(images)}-{digest}-{seed}",
                     lambda: pairs(images, n_pairs, np.random.default_rng([seed, 7])))
    return np.concatenate([drawn(n - n_pairs, draw), paired])


def low_resolution(images: np.ndarray, seed: int, draw: int = 0) -> np.ndarray:
    """``images`` (MNIST-style (n, 28, 28) uint8), in order, as scanned forms and old data sets show digits: shrunk
    to 8-16 px, sometimes binarized or quantized to few grey levels, brought back up with a bilinear or bicubic
    blur, sometimes blurred, JPEG-compressed or unevenly inked, on light or dark paper, then read as a user's
    picture is (:func:`~digitnet.reading.preprocess.prepare`). Cached (by the images' checksum, ``seed`` and ``draw``)."""
    digest = _checksum(images)
    rng = np.random.default_rng([VERSION, seed, 31, *_more(draw, 2)])
    return _cached(f"lowres-v{VERSION}-{len(images)}-{digest}-{seed}{_suffix(draw)}", lambda: _degrade_all(images, rng))


def _degrade_all(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from .. import parallel

    out = parallel.map_chunks(lambda part, r: np.stack([_degrade(image, r) for image in part]), images, rng, chunk=512)
    return out.astype(np.uint8)


def _degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One picture (28, 28) uint8, white on black, as a low-resolution scan, prepared again (uint8)."""
    try:
        return np.round(prepare(scanned(image, rng)) * 255).astype(np.uint8)
    except DataError:  # degraded to nothing: keep the original
        return image


def scanned(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A picture (28, 28) uint8, white on black, as a low-resolution scan of it looks: greyscale (h, w) in [0, 1]."""
    from PIL import Image, ImageFilter

    if rng.random() < 0.25:  # a broad pen
        from scipy import ndimage

        image = ndimage.grey_dilation(image, size=(int(rng.integers(2, 4)),) * 2)
    ink = Image.fromarray(image)
    left, top, right, bottom = ink.getbbox() or (0, 0, 28, 28)
    pad = int(rng.integers(0, 3))  # the scan is of the form's box around the digit, a little paper around the ink
    ink = ink.crop((max(0, left - pad), max(0, top - pad), min(28, right + pad), min(28, bottom + pad)))
    if rng.random() < 0.4:  # a bitmap: pen or no pen
        threshold = int(rng.integers(60, 180))
        ink = ink.point(lambda v, t=threshold: 255 if v >= t else 0)
    side = int(rng.integers(8, 17))
    w, h = ink.size
    scale = side / max(w, h)
    keep = rng.random() < 0.5  # keep the aspect, or stretch to fill a square form's box
    size = (max(1, round(w * scale)), max(1, round(h * scale))) if keep else (side, side)
    small = ink.resize(size, Image.Resampling.BOX)
    if rng.random() < 0.4:  # few grey levels, as block counts of a bitmap give
        levels = int(rng.integers(4, 18))
        small = small.point(lambda v, k=levels: round(v * (k - 1) / 255) * 255 // (k - 1))
    if rng.random() < 0.6:  # brought back up by a viewer or a scanner's driver
        up = int(rng.integers(24, 97))
        method = (Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.NEAREST,
                  Image.Resampling.LANCZOS)[int(rng.integers(4))]
        small = small.resize((max(1, round(small.width * up / side)), max(1, round(small.height * up / side))), method)
    if rng.random() < 0.3:
        small = small.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.2, 0.6)) * small.width / side))
    grey = np.asarray(small, np.float32) / 255
    if rng.random() < 0.3:  # uneven ink: fainter on one side
        ramp = np.linspace(float(rng.uniform(0.5, 1)), 1, grey.shape[1], dtype=np.float32)
        grey = grey * (ramp if rng.random() < 0.5 else ramp[::-1])
    paper = np.pad(grey, 2)  # a margin of paper around the scan
    if rng.random() < 0.5:
        paper = 1 - paper  # dark ink on light paper
    if rng.random() < 0.3:
        paper = _jpeg(paper, int(rng.integers(20, 90)))
    return paper


def _jpeg(grey: np.ndarray, quality: int) -> np.ndarray:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())), np.float32) / 255


#: digits that other hands write with one stroke more than MNIST's American writers mostly did
RESTYLED = (0, 1, 7)


def restyled(images: np.ndarray, labels: np.ndarray, seed: int, draw: int = 0) -> np.ndarray:
    """MNIST-style digits (n, 28, 28) uint8 written as other hands write them, by adding the stroke those hands add:
    a 1 gets a flag (short or long, as continental hands write it) and sometimes a base, a 7 a bar across its stem,
    a 0 a slash; then read as a user's picture is. Digits of other classes come back as they were. The writers'
    own strokes stay: only the added one is drawn, in their stroke width. Cached."""
    digest = _checksum(images, labels)
    rng = np.random.default_rng([VERSION, seed, 37, *_more(draw, 3)])

    def make():
        out = images.copy()
        for i, (image, label) in enumerate(zip(images, labels)):
            if int(label) in RESTYLED:
                out[i] = _add_stroke(image, int(label), rng)
        return out
    return _cached(f"restyled-v{VERSION}-{len(images)}-{digest}-{seed}{_suffix(draw)}", make)


def _add_stroke(image: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    from ..reading.preprocess import stroke_width

    ys, xs = np.nonzero(image > 100)
    if len(ys) < 10:
        return image
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    height, width = bottom - top + 1, right - left + 1
    k = 4  # drawn at 4x, then reduced: anti-aliased like the pen strokes around it
    canvas = Image.fromarray(np.pad(image, 14)).resize((56 * k, 56 * k), Image.Resampling.BILINEAR)
    pen = ImageDraw.Draw(canvas)
    line_width = max(1, round(max(1.5, stroke_width(image / 255.0)) * k))

    def line(points):
        pts = [((x + 14) * k, (y + 14) * k) for x, y in points]
        pen.line(pts, fill=255, width=line_width, joint="curve")
        for x, y in pts:
            pen.ellipse((x - line_width / 2, y - line_width / 2, x + line_width / 2, y + line_width / 2), fill=255)

    if label == 1:
        tx = xs[ys <= top + 1].mean()
        length, angle = rng.uniform(0.25, 0.7) * height, np.deg2rad(rng.uniform(15, 55))
        line([(tx, top), (tx - length * np.cos(angle), top + length * np.sin(angle))])
        if rng.random() < 0.3:  # and a base
            bx, half = xs[ys >= bottom - 1].mean(), rng.uniform(0.2, 0.35) * height
            line([(bx - half, bottom), (bx + half, bottom + rng.uniform(-0.5, 0.5))])
    elif label == 7:
        y = top + rng.uniform(0.45, 0.6) * height
        row = xs[np.abs(ys - y) < 1.5]
        cx = row.mean() if len(row) else (left + right) / 2
        half = rng.uniform(0.25, 0.4) * max(width, 0.6 * height)
        line([(cx - half, y + rng.uniform(-1, 1)), (cx + half, y + rng.uniform(-1, 1))])
    elif rng.random() < 0.6:  # 0: a slash from below left to above right, a little past the ring
        over = rng.uniform(0.0, 0.15)
        line([(left - over * width, bottom + over * height), (right + over * width, top - over * height)])
    else:  # 0: a bar across its middle, touching the ring or not
        cy, half = top + rng.uniform(0.4, 0.6) * height, rng.uniform(0.2, 0.5) * width
        cx, tilt = (left + right) / 2, rng.uniform(-0.15, 0.15) * height
        line([(cx - half, cy + tilt), (cx + half, cy - tilt)])
    grey = np.asarray(canvas, np.float32) / 255
    try:
        return np.round(prepare(grey) * 255).astype(np.uint8)
    except DataError:
        return image
