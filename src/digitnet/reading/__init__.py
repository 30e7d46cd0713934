"""Reading a picture: picture -> MNIST-style 28x28 -> digit / unsure / not a digit.

``preprocess`` (the ink found, cropped, its stroke brought to MNIST's width, centred), ``geometry``
(cheap rules on the ink), ``verdict`` (:func:`read`, :func:`decide`), ``calibration`` (the temperature
and thresholds fitted on a validation split) and ``contract`` (what a reading is: the input shape,
the verdict and reason words, :class:`Calibration`; the server, the exports, the card and
``digitnet.js`` read it from there).
"""

from .contract import PIXELS, REASON_WORDS, REASONS, SIDE, VERDICTS, Calibration, Reading
from .verdict import decide, read

__all__ = ["PIXELS", "REASONS", "REASON_WORDS", "SIDE", "VERDICTS", "Calibration", "Reading", "decide", "read"]
