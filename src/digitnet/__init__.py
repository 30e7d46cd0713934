"""digitnet: a from-scratch NumPy neural network for handwritten digits.

>>> from digitnet import MLP, SGD, fit, datasets
>>> train, test = datasets.load("mnist")
>>> model = MLP([784, 16, 16, 10], "tanh")
>>> history = fit(model, SGD(0.5), train.features(), train.labels, epochs=150, batch_size=None)

Importing it does one thing besides defining names: unless you have set
``OPENBLAS_THREAD_TIMEOUT`` yourself, it sets it to 16, so that OpenBLAS's idle threads
sleep ~20 µs after a matrix product instead of busy-waiting for ~0.1 s. Training
alternates products with elementwise work, which would otherwise share its core with a
spinning thread (20-40% of the step time on two cores; see docs/performance.md).
OpenBLAS reads it when NumPy loads, so it only takes effect if digitnet comes first.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")  # spin 2^16 cycles (~20 µs), then sleep

from . import datasets  # noqa: E402 (after the environment above)
from .errors import DataError, DigitnetError, ModelFileError, TrainingDiverged, UsageError
from .config import TrainConfig
from .layers import ACTIVATIONS, Activation, Dense, Dropout
from .losses import softmax, softmax_cross_entropy, tutorial_cost
from .metrics import Evaluation, accuracy, confusion_matrix, evaluate, per_class_accuracy
from .model import MLP
from .modelfile import load_model, save_model
from .optim import SGD, Adam, AdamW
from .data.preprocess import open_image, prepare
from .reading import Calibration, Reading, read
from .export.onnx_model import export_onnx, to_onnx  # onnx itself is imported only when they are called
from .recipes import RECIPES, train
from .schedules import Constant, Cosine, OneCycle, Step
from .training import Callback, EarlyStopping, History, fit
from .version import __version__

__all__ = [
    "ACTIVATIONS", "Activation", "Adam", "AdamW", "Calibration", "Callback", "Constant", "Cosine", "DataError", "Dense",
    "DigitnetError", "Dropout", "EarlyStopping", "Evaluation", "export_onnx", "History", "MLP", "ModelFileError", "OneCycle", "RECIPES", "SGD",
    "Step", "TrainConfig", "TrainingDiverged", "UsageError", "accuracy", "confusion_matrix", "datasets", "evaluate", "fit",
    "load_model", "open_image", "per_class_accuracy", "prepare", "read", "Reading", "save_model", "softmax", "softmax_cross_entropy", "to_onnx", "train", "tutorial_cost",
    "__version__",
]
