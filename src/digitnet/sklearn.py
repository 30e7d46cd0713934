"""``digitnet.sklearn.DigitnetClassifier``: the scikit-learn estimator's public name (it lives in
:mod:`digitnet.app.sklearn`, with the other faces of the library)."""

from .app.sklearn import DigitnetClassifier

__all__ = ["DigitnetClassifier"]
