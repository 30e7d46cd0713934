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

from .app.export.onnx_model import export_onnx, to_onnx  # onnx itself is imported only when they are called
from .data import datasets
from .errors import DataError, DigitnetError, ModelFileError, TrainingDiverged, UsageError
from .nn.layers import ACTIVATIONS, Activation, Dense, Dropout
from .nn.losses import softmax, softmax_cross_entropy, tutorial_cost
from .nn.metrics import Evaluation, accuracy, confusion_matrix, evaluate, per_class_accuracy
from .nn.model import MLP
from .nn.optim import SGD, Adam, AdamW
from .nn.schedules import Constant, Cosine, OneCycle, Step
from .reading.contract import Calibration, Reading
from .reading.preprocess import open_image, prepare
from .reading.verdict import read
from .run.config import TrainConfig
from .run.modelfile import load_model, save_model
from .run.recipes import RECIPES, train
from .training.fit import Callback, EarlyStopping, History, fit
from .version import __version__

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "RECIPES",
    "SGD",
    "Activation",
    "Adam",
    "AdamW",
    "Calibration",
    "Callback",
    "Constant",
    "Cosine",
    "DataError",
    "Dense",
    "DigitnetError",
    "Dropout",
    "EarlyStopping",
    "Evaluation",
    "History",
    "ModelFileError",
    "OneCycle",
    "Reading",
    "Step",
    "TrainConfig",
    "TrainingDiverged",
    "UsageError",
    "__version__",
    "accuracy",
    "confusion_matrix",
    "datasets",
    "evaluate",
    "export_onnx",
    "fit",
    "load_model",
    "open_image",
    "per_class_accuracy",
    "prepare",
    "read",
    "save_model",
    "softmax",
    "softmax_cross_entropy",
    "to_onnx",
    "train",
    "tutorial_cost",
]
