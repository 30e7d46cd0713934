"""Fine-tuning a model on someone's own handwriting without forgetting MNIST.

:func:`finetune` continues training a copy of the model on the personal samples (each seen many
times, with the model's own augmentation so that 30 samples teach a style, not 30 pictures),
mixed with a replay of MNIST training digits and of the non-digits the model learned to refuse.
Then the copy is calibrated again on the same validation digits the model was calibrated on
(its recipe's split, never the test set) and evaluated on the test set for the record.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

from ..synthetic import sets as synthetic_sets
from ..data.augment import Augment
from .config import TrainConfig
from ..errors import UsageError
from ..nn.metrics import evaluate
from ..nn.model import MLP
from ..nn.optim import Adam, AdamW
from ..reading.calibration import calibrate
from ..reading.contract import SIDE, check_reads_pictures
from .recipes import split_validation
from ..training.fit import Callback, fit

PERSONAL_SHARE = 0.25  # of each epoch's samples: the personal ones (repeated), the rest MNIST and non-digits
REPLAY = 6000  # MNIST training digits replayed
OUTLIERS = 1500  # non-digits replayed (uniform target)
MIN_SAMPLES = 10
#: the distortions of a fine-tuning whose model was trained without any (the default recipe deskews instead)
LIGHT = Augment(rotate=10.0, scale=0.1, shear=8.0, thickness=0.5)


@dataclass
class FinetuneResult:
    model: MLP
    seconds: float
    samples: int
    test_accuracy_before: float
    test_accuracy_after: float


def finetune(model: MLP, images: np.ndarray, labels: np.ndarray, dataset, *, epochs: int = 4, lr: float = 5e-4,
             seed: int = 0, callbacks: list[Callback] = (), replay: int = REPLAY, anchor: float = 0.0,
             share: float = PERSONAL_SHARE) -> FinetuneResult:
    """A new model: ``model`` trained further on ``images`` (n, 28, 28) uint8 with ``labels``, replaying
    ``dataset``'s training split. ``model`` itself is not changed."""
    if len(images) < MIN_SAMPLES:
        raise UsageError(f"fine-tuning needs at least {MIN_SAMPLES} personal samples, there are {len(images)}: "
                         "correct or confirm a few more digits first")
    check_reads_pictures(model, "fine-tuning on personal samples")
    if images.shape[1:] != (SIDE, SIDE):
        raise UsageError(f"personal samples are {SIDE}x{SIDE} pictures, these are {images.shape[1:]}")
    config = TrainConfig.from_dict(model.metadata["config"]) if model.metadata.get("config") else TrainConfig()
    train_idx, val_idx = split_validation(len(dataset.train), config.validation or 0.1, config.seed)
    rng = np.random.default_rng([seed, 23])
    replay = rng.choice(train_idx, size=min(replay, len(train_idx)), replace=False)
    repeats = max(1, int(round(share / (1 - share) * (len(replay) + OUTLIERS) / len(images))))
    outliers = synthetic_sets.training_set(dataset.train.images[train_idx], OUTLIERS, seed, config.synthetic_draw)
    X = np.concatenate([np.repeat(images, repeats, axis=0), dataset.train.images[replay], outliers])
    y = np.concatenate([np.repeat(labels.astype(np.int64), repeats), dataset.train.labels[replay].astype(np.int64),
                        np.full(len(outliers), -1)])
    X = X.reshape(len(X), -1).astype(model.dtype) / model.dtype.type(255)
    tuned = copy.deepcopy(model)
    before = evaluate(model, dataset.test).accuracy
    started = time.perf_counter()
    augment = config.augmentation()
    if augment.identity:  # a model trained without distortions: 30 samples still need them
        augment = LIGHT
    optimizer = AdamW(lr, weight_decay=anchor, anchor=model.params) if anchor else Adam(lr)
    fit(tuned, optimizer, X, y, epochs=epochs, batch_size=128, rng=np.random.default_rng([seed, 29]),
        callbacks=callbacks, augment=augment, augment_seed=seed)
    seconds = time.perf_counter() - started
    calibration = calibrate(tuned, dataset.train.images[val_idx] / np.float32(255), dataset.train.labels[val_idx])
    after = evaluate(tuned, dataset.test).accuracy
    tuned.metadata = {**model.metadata, "calibration": calibration, "test_accuracy": after,
                      "finetuned": {"personal_samples": int(len(images)), "repeats": repeats, "replay": int(len(replay)),
                                    "outliers": int(len(outliers)), "epochs": epochs, "lr": lr, "seconds": seconds,
                                    "test_accuracy_before": before, "recipe": model.metadata.get("recipe")},
                      "recipe": f"{model.metadata.get('recipe', 'model')}+personal"}
    return FinetuneResult(tuned, seconds, int(len(images)), before, after)
