"""Reading a picture: picture -> MNIST-style 28x28 -> digit / unsure / not a digit.

``preprocess`` (the ink found, cropped, its stroke brought to MNIST's width, centred), ``geometry``
(cheap rules on the ink), ``verdict`` (:func:`read`, :func:`decide`), ``calibration`` (the temperature
and thresholds fitted on a validation split) and ``contract`` (what a reading is: the input shape,
the verdict and reason words, :class:`Calibration`; the server, the exports, the card and
``digitnet.js`` read it from there).
"""
