"""File formats and image preprocessing: :mod:`digitnet.data.idx`, :mod:`digitnet.data.preprocess`."""
