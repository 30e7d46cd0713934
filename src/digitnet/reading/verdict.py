"""Reading a picture: a verdict, not just the likeliest digit.

:func:`read` answers one of three things:

- ``digit``: the label, with a calibrated confidence;
- ``unsure``: the two likeliest labels ("3 or 8?"), when neither is likely enough alone;
- ``not_a_digit``, with a reason: ``blank`` (no ink), ``too_small`` (a dot or tap, or a digit
  drawn with a brush too big for it), ``several_marks`` (e.g. two digits side by side) or
  ``not_digit_like`` (a dash, a scribble, a letter, a face...).

It decides in two steps. Cheap geometry on the ink first (:func:`inspect`): its size against
its stroke width, its aspect ratio, its connected pieces. Then the network, whose logits are
divided by a temperature fitted on a validation split (Guo et al. 2017,
https://arxiv.org/abs/1706.04599). Two scores of those logits must each reach a threshold
chosen on the same split, so that together they refuse at most about 2% of real digits:
the energy score, log Σ exp(logit) (Liu et al. 2020, https://arxiv.org/abs/2010.03759), which
is low when no class has much evidence (not a digit), and the top probability, which is low
when two classes share it (``unsure``). Networks trained with outlier exposure (non-digits
with a uniform target, :mod:`digitnet.synthetic.draw`) answer non-digits with flat, low logits.
The CLI (``digitnet predict``), the web API and the page all read through here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from .preprocess import crop_to_work_scale, find_ink, normalize_stroke, place, stroke_width
from ..errors import BlankImage, ModelOutputError
from ..nn.losses import softmax

VERDICTS = ("digit", "unsure", "not_a_digit")
REASONS = ("blank", "too_small", "several_marks", "not_digit_like")
MAX_REFUSED = 0.019  # share of validation digits a threshold may refuse (the promise is 2%)
ENERGY_SHARE = 0.75  # of that budget, the share the energy score spends (the top probability gets the rest)
GEOMETRY_SAMPLE = 2000  # validation digits whose geometry is checked to estimate its refusal rate (~1 ms each)

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
#: the words for each reason a picture is not read as a digit
REASON_WORDS = {"blank": "nothing drawn", "too_small": "too small to read: draw it bigger",
                "several_marks": "several marks: one digit at a time, please",
                "not_digit_like": "that doesn't look like a digit"}
#: everything the geometry rules depend on (the browser's copy of them, digitnet export --web, reads these)
GEOMETRY = {"MIN_SIZE_IN_STROKES": MIN_SIZE_IN_STROKES, "MAX_ASPECT": MAX_ASPECT, "MIN_PIECE": MIN_PIECE,
            "MIN_MARK_HEIGHT": MIN_MARK_HEIGHT, "MAX_OVERLAP": MAX_OVERLAP, "MAX_LOOPS": MAX_LOOPS, "MIN_HOLE": MIN_HOLE,
            "MIN_LOOP": MIN_LOOP, "ROUNDNESS": ROUNDNESS, "MAX_PIECES": MAX_PIECES, "MIN_SIGNIFICANT": MIN_SIGNIFICANT}


@dataclass(frozen=True)
class Calibration:
    """How a model's logits become a verdict: a temperature and three thresholds."""

    temperature: float = 1.0
    threshold: float = 0.6  # top calibrated probability needed for "digit"
    pair_threshold: float = 0.9  # mass of the top two needed for "unsure" (below: not a digit)
    energy_threshold: float | None = None  # log Σ exp(logit / T) needed at all (None: no such test)
    fitted: bool = False  # False: these defaults, not fitted on a validation split

    @classmethod
    def of(cls, model) -> Calibration:
        data = model.metadata.get("calibration")
        if not isinstance(data, dict):
            return cls()
        known = {k: data[k] for k in ("temperature", "threshold", "pair_threshold", "energy_threshold") if k in data}
        return cls(**known, fitted=True)


@dataclass(frozen=True)
class Reading:
    """What :func:`read` saw in a picture."""

    verdict: str
    label: int | None  # the digit (also the likelier one when unsure); None when not a digit
    confidence: float  # calibrated probability of the top class
    probabilities: np.ndarray = field(repr=False)  # (classes,) calibrated
    reason: str | None = None  # why not a digit
    candidates: tuple[int, ...] = ()  # the top two, when unsure
    image: np.ndarray | None = field(default=None, repr=False)  # the 28x28 the network saw

    def to_dict(self, source: str | None = None) -> dict:
        """The JSON form: ``source, verdict, label, confidence, probabilities, reason, candidates``."""
        return {"source": source, "verdict": self.verdict, "label": self.label, "confidence": round(self.confidence, 6),
                "probabilities": [round(float(p), 6) for p in self.probabilities], "reason": self.reason,
                "candidates": list(self.candidates)}

    def describe(self, classes=None) -> str:
        """The verdict in words."""
        name = (lambda k: str(classes[k])) if classes is not None else str
        if self.verdict == "digit":
            return f"a {name(self.label)} ({_percent(self.confidence)} sure)"
        if self.verdict == "unsure":
            a, b = self.candidates
            return f"not sure: {name(a)} or {name(b)}? ({_percent(self.confidence)} for {name(a)})"
        return REASON_WORDS[self.reason]


def _percent(p: float) -> str:
    return "> 99.9%" if p > 0.999 else f"{p * 100:.1f}%"


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
    # pieces of ink joined across gaps under half a stroke width (a broken line is one mark)
    joined = ndimage.label(ndimage.binary_dilation(mask, iterations=max(1, int(width / 4))))
    if _side_by_side(mask, joined):
        return "several_marks"
    return "not_digit_like" if _loops_and_pieces_unlike_a_digit(mask, width, joined) else None


def _loops_and_pieces_unlike_a_digit(mask: np.ndarray, width: float, joined: tuple[np.ndarray, int]) -> bool:
    """More than two loops, a mark inside a loop (eyes in a face), or many separate pieces:
    none of these happens in a digit (checked on MNIST: tests/test_reading.py). Pieces are
    joined across gaps under half a stroke width, so a faint or broken line is one piece."""
    pieces, count = joined
    pieces = np.where(mask, pieces, 0)
    areas = ndimage.sum_labels(mask, pieces, index=np.arange(1, count + 1))
    significant = np.flatnonzero(areas >= MIN_SIGNIFICANT * areas.sum())
    if len(significant) > MAX_PIECES:
        return True
    holes, n_holes = ndimage.label(ndimage.binary_fill_holes(mask) & ~mask)
    if n_holes == 0:
        return False
    index = np.arange(1, n_holes + 1)
    hole_areas = ndimage.sum_labels(np.ones_like(mask), holes, index=index)
    farthest = ndimage.maximum(ndimage.distance_transform_cdt(~mask, metric="taxicab"), holes, index=index)
    reach = np.maximum(1, np.maximum(MIN_LOOP * width, ROUNDNESS * np.sqrt(hole_areas)).astype(int))
    loops = (hole_areas >= MIN_HOLE) & (farthest > reach)
    if np.count_nonzero(loops) > MAX_LOOPS:
        return True
    # a piece of ink that sits inside a loop of another piece: filling the other piece's holes covers it
    # (unless it is a ring itself: the inner outline of a hollow 0)
    for i in significant if len(significant) > 1 else ():  # one piece (most digits): nothing sits inside another
        piece = pieces == i + 1
        others = mask & ~piece
        ring = np.count_nonzero(ndimage.binary_fill_holes(piece)) - np.count_nonzero(piece) >= MIN_HOLE
        if not ring and np.any(others) and np.all(ndimage.binary_fill_holes(others)[piece]):
            return True
    return False


def _side_by_side(mask: np.ndarray, joined: tuple[np.ndarray, int]) -> bool:
    """Two big pieces (``joined``: labels of the ink joined across small gaps, and their count) next to
    each other, not one above the other."""
    labels, count = joined
    if count < 2:
        return False
    areas = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    height = mask.shape[0]
    big = [boxes[i] for i in range(count) if areas[i] >= MIN_PIECE * areas.sum()
           and boxes[i][0].stop - boxes[i][0].start >= MIN_MARK_HEIGHT * height]
    for i, a in enumerate(big):
        for b in big[i + 1:]:
            overlap = min(a[1].stop, b[1].stop) - max(a[1].start, b[1].start)
            narrower = min(a[1].stop - a[1].start, b[1].stop - b[1].start)
            if overlap < MAX_OVERLAP * narrower:
                return True
    return False


def read(model, picture: np.ndarray, *, prepared: bool = False, name: str = "image") -> Reading:
    """Read one picture: greyscale (h, w) in [0, 1], any size and polarity (``prepared=False``),
    or an MNIST-style 28x28 image, white on black, already centred (``prepared=True``)."""
    try:
        work = crop_to_work_scale(find_ink(picture, name=name))
    except BlankImage:
        k = model.sizes[-1]
        return Reading("not_a_digit", None, 1 / k, np.full(k, 1 / k), "blank", image=np.zeros((28, 28), np.float32))
    reason = inspect(work)
    if prepared:
        image = np.asarray(picture, np.float32)
    else:  # a dot has no strokes to bring to MNIST's width (and thinning it would take a brush as big as itself)
        image = place(work if reason == "too_small" else normalize_stroke(work))
    return decide(model, image[None], [reason])[0]


def decide(model, images: np.ndarray, reasons: list[str | None]) -> list[Reading]:
    """Verdicts for prepared (n, 28, 28) images whose geometry gave ``reasons`` (None: fine)."""
    cal = Calibration.of(model)
    with np.errstate(over="ignore", invalid="ignore"):
        logits = model.logits(images.reshape(len(images), -1)).astype(np.float64)
    if not np.isfinite(logits).all():
        raise ModelOutputError("the model's outputs are not finite numbers (its weights are too large): "
                               "the model file cannot be used")
    scaled = logits / cal.temperature
    energy = energy_score(scaled)
    proba = softmax(scaled)
    readings = []
    for p, e, image, reason in zip(proba, energy, images, reasons):
        second, first = np.argsort(p)[-2:]
        top = float(p[first])
        if reason is not None:
            readings.append(Reading("not_a_digit", None, top, p, reason, image=image))
        elif cal.energy_threshold is not None and e < cal.energy_threshold:
            readings.append(Reading("not_a_digit", None, top, p, "not_digit_like", image=image))
        elif top >= cal.threshold:
            readings.append(Reading("digit", int(first), top, p, image=image))
        elif top + p[second] >= cal.pair_threshold:
            readings.append(Reading("unsure", int(first), top, p, candidates=(int(first), int(second)), image=image))
        else:
            readings.append(Reading("not_a_digit", None, top, p, "not_digit_like", image=image))
    return readings


def energy_score(logits: np.ndarray) -> np.ndarray:
    """log Σ_k exp(logit_k) per row (the negative of Liu et al.'s energy): high for what looks like a class."""
    top = logits.max(axis=1)
    return top + np.log(np.exp(logits - top[:, None]).sum(axis=1))


def inspect_prepared(images: np.ndarray) -> list[str | None]:
    """:func:`inspect` for MNIST-style images (n, 28, 28); a blank one is ``"blank"``."""
    reasons = []
    for image in images:
        try:
            reasons.append(inspect(crop_to_work_scale(find_ink(image))))
        except BlankImage:
            reasons.append("blank")
    return reasons


# ---- fitting the calibration on a validation split ----

def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the mean negative log-likelihood of softmax(logits / T)
    (golden-section search on log T in [1/20, 20])."""
    logits = logits.astype(np.float64)

    def nll(log_t):
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(labels)), labels]))

    lo, hi = np.log(1 / 20), np.log(20)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def expected_calibration_error(proba: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy, over equal-width bins."""
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(confidence[in_bin].mean() - correct[in_bin].mean())
    return float(total)


def calibrate(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Fit the temperature and the thresholds on validation digits (n, 28, 28) with their labels.

    Together the thresholds refuse at most :data:`MAX_REFUSED` of them, geometry refusals included
    (their rate estimated on the first :data:`GEOMETRY_SAMPLE`): the energy threshold spends
    :data:`ENERGY_SHARE` of what is left, and the top-probability threshold is the largest that
    keeps the two together within it. Returns the ``calibration`` entry of the model's metadata."""
    logits = model.logits(images.reshape(len(images), -1)).astype(np.float64)
    temperature = fit_temperature(logits, labels)
    before, after = softmax(logits.copy()), softmax(logits / temperature)
    geometry_rate = float(np.mean([r is not None for r in inspect_prepared(images[:GEOMETRY_SAMPLE])]))
    budget = max(0.0, MAX_REFUSED - geometry_rate)
    energy = energy_score(logits / temperature)
    energy_threshold = float(np.quantile(energy, budget * ENERGY_SHARE))
    low = energy < energy_threshold
    allowed = int(budget * len(labels)) - int(low.sum())  # refusals left for the top probability
    tops = np.sort(after.max(axis=1)[~low])
    threshold = float(tops[allowed]) if 0 < allowed < len(tops) else 0.0
    return asdict(Calibration(temperature, threshold, energy_threshold=energy_threshold)) | {
        "fitted": True, "validation_samples": int(len(labels)), "max_refused": MAX_REFUSED,
        "geometry_refused": geometry_rate,
        "ece_before": expected_calibration_error(before, labels), "ece_after": expected_calibration_error(after, labels)}
