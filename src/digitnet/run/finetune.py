"""Fine-tuning a model on someone's own handwriting without forgetting MNIST.

:func:`finetune` continues training a copy of the model on the personal samples (each seen many
times, with the model's own augmentation so that 30 samples teach a style, not 30 pictures),
mixed with a replay of MNIST training digits and of the non-digits the model learned to refuse.
Then it averages the copy's weights back toward the original's (WiSE-FT, Wortsman et al. 2022,
https://arxiv.org/abs/2109.01903): the largest weight of the copy whose accuracy on the model's
validation digits stays within :data:`MAX_VALIDATION_DROP` of the original's. Fine-tuning moves the
weights away from the basin MNIST's training found; averaging brings back what MNIST needs while
keeping most of what the style taught. Then the result is calibrated again on the same validation
digits (its recipe's split, never the test set) and evaluated on the test set for the record
(:func:`digitnet.run.pipeline.fit_and_measure`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.augment import Augment
from ..errors import UsageError
from ..nn.metrics import evaluate
from ..nn.model import MLP
from ..nn.optim import Adam
from ..reading.contract import SIDE, check_reads_pictures
from ..synthetic import sets as synthetic_sets
from ..training.fit import Callback
from .config import TrainConfig
from .pipeline import append_outliers, fit_and_measure, split_validation

PERSONAL_SHARE = 0.25  # of each epoch's samples: the personal ones (repeated), the rest MNIST and non-digits
REPLAY = 12000  # MNIST training digits replayed
OUTLIERS = 1500  # non-digits replayed (uniform target)
MIN_SAMPLES = 10
#: the distortions of a fine-tuning whose model was trained without any (the default recipe deskews instead)
LIGHT = Augment(rotate=10.0, scale=0.1, shear=8.0, thickness=0.5)
#: weights of the fine-tuned copy tried, largest first, when averaging it with the original
MIXES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)
MAX_VALIDATION_DROP = 0.001  # accuracy on the validation digits a personal model may give up (0.1 points)


@dataclass
class FinetuneResult:
    model: MLP
    seconds: float
    samples: int
    test_accuracy_before: float
    test_accuracy_after: float


def finetune(model: MLP, images: np.ndarray, labels: np.ndarray, dataset, *, epochs: int = 4, lr: float = 5e-4,
             seed: int = 0, callbacks: Sequence[Callback] = (), replay: int = REPLAY,
             max_drop: float = MAX_VALIDATION_DROP) -> FinetuneResult:
    """A new model: ``model`` trained further on ``images`` (n, 28, 28) uint8 with ``labels``, replaying
    ``dataset``'s training split, then averaged back toward ``model`` (see the module). ``model`` itself is not
    changed."""
    if len(images) < MIN_SAMPLES:
        raise UsageError(f"fine-tuning needs at least {MIN_SAMPLES} personal samples, there are {len(images)}: "
                         "correct or confirm a few more digits first")
    check_reads_pictures(model, "fine-tuning on personal samples")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "ui" or (len(labels) and not 0 <= labels.min() <= labels.max() < model.sizes[-1]):
        raise UsageError(f"personal labels must be classes of the model, integers 0 to {model.sizes[-1] - 1}; "
                         f"these are {labels.dtype} from {labels.min()} to {labels.max()}")
    if images.shape[1:] != (SIDE, SIDE):
        raise UsageError(f"personal samples are {SIDE}x{SIDE} pictures, these are {images.shape[1:]}")
    config = TrainConfig.from_dict(model.metadata["config"]) if model.metadata.get("config") else TrainConfig()
    train_idx, val_idx = split_validation(len(dataset.train), config.validation or 0.1, config.seed)
    X, y, repeats = _rows(model, images, labels, dataset, train_idx, config, seed=seed, replay=replay)
    tuned = copy.deepcopy(model)
    before = evaluate(model, dataset.test).accuracy
    augment = config.augmentation()
    if augment.identity:  # a model trained without distortions: 30 samples still need them
        augment = LIGHT
    validation = (dataset.train.images[val_idx].reshape(len(val_idx), -1) / np.float32(255), dataset.train.labels[val_idx])
    mixed: dict[str, float] = {}
    outcome = fit_and_measure(
        tuned, Adam(lr), X, y, dataset, val_idx, after_fit=lambda m: mixed.update(weight=average_back(model, m, *validation,
                                                                                                       max_drop=max_drop)),
        epochs=epochs, batch_size=128, rng=np.random.default_rng([seed, 29]), callbacks=callbacks, augment=augment,
        augment_seed=seed)
    measured = outcome.metadata(dataset)
    tuned.metadata = {**model.metadata, **{k: measured[k] for k in ("test_accuracy", "test_samples", "digitnet_version")},
                      **({"calibration": outcome.calibration} if outcome.calibration else {}),
                      "finetuned": {"personal_samples": int(len(images)), "repeats": repeats,
                                    "replay": int(np.count_nonzero(y >= 0)) - repeats * len(images), "outliers": OUTLIERS,
                                    "epochs": epochs, "lr": lr, "seconds": outcome.seconds, "weight": mixed["weight"],
                                    "test_accuracy_before": before, "recipe": model.metadata.get("recipe")},
                      "recipe": f"{model.metadata.get('recipe', 'model')}+personal"}
    return FinetuneResult(tuned, outcome.seconds, int(len(images)), before, outcome.test.accuracy)


def _rows(model: MLP, images, labels, dataset, train_idx, config: TrainConfig, *, seed: int, replay: int):
    """(X, y, repeats): the personal samples, each repeated to be a :data:`PERSONAL_SHARE` of the rows, then
    ``replay`` MNIST training digits and :data:`OUTLIERS` non-digits (label -1)."""
    rng = np.random.default_rng([seed, 23])
    chosen = rng.choice(train_idx, size=min(replay, len(train_idx)), replace=False)
    repeats = max(1, int(round(PERSONAL_SHARE / (1 - PERSONAL_SHARE) * (len(chosen) + OUTLIERS) / len(images))))
    X = np.concatenate([np.repeat(images, repeats, axis=0), dataset.train.images[chosen]])
    X = X.reshape(len(X), -1).astype(model.dtype) / model.dtype.type(255)
    y = np.concatenate([np.repeat(labels.astype(np.int64), repeats), dataset.train.labels[chosen].astype(np.int64)])
    outliers = synthetic_sets.nondigits(dataset.train.images[train_idx], OUTLIERS, seed, config.synthetic_draw)
    X, y = append_outliers(X, y, outliers)
    return X, y, repeats


def average_back(base: MLP, tuned: MLP, X_val: np.ndarray, y_val: np.ndarray, *, max_drop: float) -> float:
    """Set ``tuned``'s weights to w tuned + (1 - w) base for the largest w of :data:`MIXES` whose accuracy on the
    validation rows stays within ``max_drop`` of ``base``'s (the smallest w if none does); returns w."""
    target = float(np.mean(base.predict(X_val) == y_val)) - max_drop
    fine = {name: value.copy() for name, value in tuned.params.items()}
    for weight in MIXES:
        tuned.set_params({name: weight * value + (1 - weight) * base.params[name] for name, value in fine.items()})
        if float(np.mean(tuned.predict(X_val) == y_val)) >= target:
            break
    return weight
