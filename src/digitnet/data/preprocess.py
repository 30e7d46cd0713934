"""Turn a user's picture of a digit into what MNIST looks like.

MNIST digits are white on black, their ink scaled so the longer side of its
bounding box is 20 pixels (anti-aliased), then placed in a 28x28 frame so that
the centre of mass of the ink sits at the centre. ``prepare`` does the same.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataError

MAX_PIXELS = 50_000_000  # refuse larger images before decoding them
MAX_BYTES = 50 * 1024 * 1024
INK_THRESHOLD = 0.15  # fraction of full ink that counts as drawn


def open_image(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """Decode a PNG/JPEG/... (a path or bytes) to greyscale floats in [0, 1], shape (h, w).

    Transparent pixels count as white paper. Raises DataError for anything that is
    not a readable image of sensible size.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            if Path(source).stat().st_size > MAX_BYTES:
                raise DataError(f"{label}: file is larger than {MAX_BYTES // 2**20} MiB (expected a picture of one digit)")
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise DataError(f"{label}: no such file (expected a PNG or JPEG image)") from None
        except IsADirectoryError:
            raise DataError(f"{label}: is a directory, expected a PNG or JPEG image") from None
    if not data:
        raise DataError(f"{label}: empty file (expected a PNG or JPEG image)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise DataError(f"{label}: {w}x{h} pixels is too large (at most {MAX_PIXELS:,} pixels)")
            if w == 0 or h == 0:
                raise DataError(f"{label}: image has no pixels")
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(paper, rgba)
            grey = img.convert("L")
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise DataError(f"{label}: not a readable image ({exc.__class__.__name__}); expected PNG or JPEG") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{label}: image data is corrupt or truncated ({exc})") from None
    return np.asarray(grey, dtype=np.float32) / 255


def prepare(grey: np.ndarray, *, name: str = "image") -> np.ndarray:
    """MNIST-style 28x28 image (float32 in [0, 1], white ink on black) from greyscale (h, w) in [0, 1].

    Steps: invert if dark-on-light (judged by the border), crop to the ink, scale the
    longer side to 20 px with anti-aliasing, place in 28x28 by centre of mass.
    Raises DataError when there is no ink (an empty or one-colour picture).
    """
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or grey.size == 0:
        raise DataError(f"{name}: expected a 2-D greyscale image, got shape {grey.shape}")
    if not np.isfinite(grey).all():
        raise DataError(f"{name}: image contains NaN or infinite values")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1 - grey if np.median(border) > 0.5 else grey.copy()
    ink -= np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))  # paper is 0
    np.clip(ink, 0, 1, out=ink)
    peak = ink.max()
    if peak < INK_THRESHOLD:
        raise DataError(f"{name}: no digit found (the picture is empty or all one colour); draw a digit first")
    ink /= peak
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = ink.shape
    scale = 20 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.array(Image.fromarray(ink).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    np.clip(small, 0, 1, out=small)
    total = small.sum()
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top = int(round(14 - cy))
    left = int(round(14 - cx))
    top = min(max(top, 0), 28 - small.shape[0])
    left = min(max(left, 0), 28 - small.shape[1])
    out = np.zeros((28, 28), np.float32)
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


def load_digit(source: str | Path | bytes, name: str | None = None) -> np.ndarray:
    """:func:`open_image` then :func:`prepare`: a (28, 28) float32 array ready for a model (flatten it)."""
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    return prepare(open_image(source, label), name=label)
