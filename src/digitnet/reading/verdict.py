"""Reading a picture: a verdict, not just the likeliest digit.

:func:`read` answers one of three things:

- ``digit``: the label, with a calibrated confidence;
- ``unsure``: the two likeliest labels ("3 or 8?"), when neither is likely enough alone;
- ``not_a_digit``, with a reason: ``blank`` (no ink), ``too_small`` (a dot or tap, or a digit
  drawn with a brush too big for it), ``several_marks`` (e.g. two digits side by side),
  ``not_digit_like`` (the geometry found a shape no digit has: a dash, a face, a scatter of marks)
  or ``unfamiliar`` (the network found it unlike every digit it knows: a letter, a scribble).

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

import numpy as np

from ..errors import BlankImage, ModelOutputError
from ..nn.losses import softmax
from .contract import Calibration, Reading, energy_score, reads_digits
from .geometry import inspect
from .preprocess import crop_to_work_scale, find_ink, normalize_stroke, place


def read(model, picture: np.ndarray, *, prepared: bool = False, name: str = "image") -> Reading:
    """Read one picture: greyscale (h, w) in [0, 1], any size and polarity (``prepared=False``),
    or an MNIST-style 28x28 image, white on black, already centred (``prepared=True``). The geometry's rules
    are those of digits: a model of other classes (clothes, letters) is judged by its network alone."""
    try:
        work = crop_to_work_scale(find_ink(picture, name=name))
    except BlankImage:
        k = model.sizes[-1]
        return Reading("not_a_digit", None, 1 / k, np.full(k, 1 / k), "blank", image=np.zeros((28, 28), np.float32))
    reason = inspect(work) if reads_digits(model) else None
    if prepared:
        image = np.asarray(picture, np.float32)
    else:  # ink the geometry refused keeps its strokes as drawn: the verdict is made, and a dot has no strokes
        image = place(work if reason is not None else normalize_stroke(work))
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
        elif cal.energy_threshold is not None and e < cal.energy_threshold:  # no class has much evidence
            readings.append(Reading("not_a_digit", None, top, p, "unfamiliar", image=image))
        elif top >= cal.threshold:
            readings.append(Reading("digit", int(first), top, p, image=image))
        elif top + p[second] >= cal.pair_threshold:
            readings.append(Reading("unsure", int(first), top, p, candidates=(int(first), int(second)), image=image))
        else:  # neither one class nor two hold the probability
            readings.append(Reading("not_a_digit", None, top, p, "unfamiliar", image=image))
    return readings
