"""Named recipes and :func:`train`: config + dataset -> trained model.

A recipe is a :class:`~digitnet.run.config.TrainConfig`; the CLI's flags and a TOML file override its fields.
The test set is never used here: model selection and early stopping use a
validation split held out of the training set.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import parallel
from ..errors import DataError, UsageError
from ..nn import optim, schedules
from ..nn.kernels import unit_float
from ..nn.losses import tutorial_cost
from ..nn.model import MLP, VIEWS
from ..synthetic import sets as synthetic_sets
from ..training.batches import Epoch
from ..training.fit import Callback, EarlyStopping, History
from .checkpoint import Checkpointer, restore
from .config import TrainConfig
from .pipeline import fit_and_measure, split_validation

RECIPES: dict[str, TrainConfig] = {
    "seed": TrainConfig(
        hidden=(16, 16), activation="tanh", init="tutorial", dtype="float64", epochs=150, batch_size=None,
        optimizer="sgd", lr=0.5, momentum=0.0, schedule="step", lr_steps=((76, 0.1),), seed=2, log_every=10,
        tutorial_cost=True,
        description="The tutorial, exactly: 784-16-16-10 tanh, full-batch gradient descent, 150 iterations, "
                    "lr 0.5 then 0.1 after iteration 75, float64, np.random.seed(2) weights."),
    "default": TrainConfig(
        hidden=(256, 256), activation="relu", epochs=6, batch_size=256, optimizer="adam", lr=3e-3,
        schedule="onecycle", validation=0.1, synthetic_digits=10000, outliers=14000, low_resolution=8000,
        restyled_digits=5000, deskew="both", seed=0,
        description="Fast and honest, for the world's handwriting: 784-256-256-10 ReLU, Adam one-cycle, batch 256, "
                    "6 epochs over the training set, with 8,000 of its digits also as low-resolution scans and 5,000 "
                    "of its 0s, 1s and 7s as other hands write them (flags, bars, slashes), 10,000 digits made by "
                    "code in the world's common styles, and 14,000 non-digits (look-alike letters among them) with a "
                    "uniform target; every image seen as it is and deskewed (the network reads both views and averages "
                    "its two answers); temperature and refusal threshold fitted on a 10% validation split."),
    "best": TrainConfig(
        hidden=(1024, 1024), activation="relu", epochs=60, batch_size=128, optimizer="adam", lr=1e-3,
        schedule="onecycle", dropout=0.2, shift=2.0, rotate=10.0, scale=0.1, shear=5.0,
        elastic_alpha=30.0, elastic_sigma=5.0, seed=0,
        description="Best: 784-1024-1024-10 ReLU, dropout 0.2, random affine + elastic distortions, "
                    "Adam one-cycle, batch 128, 60 epochs (under 10 minutes on 2 cores)."),
    "fast99": TrainConfig(
        hidden=(512, 512), activation="relu", epochs=22, batch_size=128, optimizer="adam", lr=1e-3,
        schedule="onecycle", dropout=0.2, shift=2.0, rotate=10.0, scale=0.1, shear=5.0, validation=0.1, seed=0,
        description="The fast road to 99%: 784-512-512-10 ReLU, dropout 0.2, random affine distortions (no "
                    "elastic: it costs more than it gives in two minutes), Adam one-cycle, batch 128, 22 epochs "
                    "(about 100 s on 2 cores); calibrated on a 10% validation split."),
    "tiny-best": TrainConfig(
        hidden=(16, 16), activation="tanh", epochs=50, batch_size=128, optimizer="adam", lr=5e-3,
        schedule="onecycle", shift=1.5, rotate=10.0, scale=0.1, seed=0,
        description="The tutorial's own 784-16-16-10 tanh network trained as well as it can be: random "
                    "shifts, rotations and zooms against its overfitting, Adam one-cycle, batch 128, 50 epochs "
                    "(under a minute)."),
}

#: fast99 with the default recipe's outlier exposure, in about the same time (fewer epochs over more rows)
RECIPES["reader"] = RECIPES["fast99"].updated(
    epochs=18, synthetic_digits=6000, outliers=9000,
    description="The careful reader, for two minutes of training: fast99's network and distortions with the "
                "default recipe's 6,000 digits made by code and 9,000 non-digits with a uniform target, "
                "18 epochs; temperature and refusal thresholds fitted on a 10% validation split.")


def get_recipe(name: str) -> TrainConfig:
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}: expected one of {', '.join(RECIPES)}")
    return RECIPES[name]


def build(config: TrainConfig, n_inputs: int, n_classes: int, steps_per_epoch: int):
    """The model and optimizer (with its schedule) that ``config`` describes (the names are looked up in the
    registries beside the classes: :data:`digitnet.nn.optim.OPTIMIZERS`, :data:`digitnet.nn.schedules.SCHEDULES`)."""
    model = MLP([n_inputs, *config.hidden, n_classes], config.activation, init=config.init,
                rng=config.seed, dropout=config.dropout, dtype=config.dtype, deskew=config.deskew)
    schedule = schedules.build(config.schedule, config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                               lr_steps=config.lr_steps, warmup_epochs=config.warmup_epochs)
    return model, optim.build(config.optimizer, schedule, momentum=config.momentum, weight_decay=config.weight_decay)


def memory_needed(config: TrainConfig, n_inputs: int, n_classes: int, n_rows: int) -> int:
    """Bytes a run needs, roughly: parameters with their gradients and optimizer slots, the
    training rows (with copies and extras), and the activations of a batch (or a chunk)."""
    sizes = [n_inputs, *config.hidden, n_classes]
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    itemsize = 8 if config.dtype == "float64" else 4
    rows = (n_rows + config.synthetic_digits + config.outliers + config.low_resolution + config.restyled_digits) * (
        1 + config.augmented_copies)
    batch = min(config.batch_size or 1024, rows)
    return itemsize * (5 * params + rows * n_inputs + 4 * batch * sum(sizes))


def check_memory(config: TrainConfig, n_inputs: int, n_classes: int, n_rows: int) -> None:
    """Refuse, before anything is allocated, a run that cannot fit in this machine's memory."""
    need = memory_needed(config, n_inputs, n_classes, n_rows)
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on this platform
        return
    if need > 0.9 * have:
        raise UsageError(f"hidden: a {'-'.join(map(str, [n_inputs, *config.hidden, n_classes]))} network needs about "
                         f"{need / 2**30:,.1f} GiB to train, and this machine has {have / 2**30:,.1f} GiB of memory")


def for_data(config: TrainConfig, dataset) -> TrainConfig:
    """``config`` as it applies to ``dataset``: digits made by code and restyled 0s, 1s and 7s only for data whose
    classes are the ten digits. On other data (Fashion-MNIST, letters) they would be digits trained under other
    classes' names, so they are left out; the model file records the settings as they were used."""
    if dataset.of_digits:
        return config
    return config.updated(synthetic_digits=0, restyled_digits=0)


def training_data(config: TrainConfig, dataset):
    """(X, y, validation indices or None): the training rows after the validation split, with
    ``config.synthetic_digits`` digits made by code and ``config.outliers`` non-digits (label -1) appended.
    The pictures are gathered as bytes and turned into ``pixels / 255`` once, in one array."""
    images, labels = dataset.train.images, dataset.train.labels
    if not config.validation:
        train_idx, val_idx = np.arange(len(labels)), None
    else:
        train_idx, val_idx = split_validation(len(labels), config.validation, config.seed)
    pictures, label_parts = [images[train_idx]], [labels[train_idx]]
    if config.low_resolution:  # the same hands as low-resolution scans show them (never the validation digits)
        chosen = np.random.default_rng([config.seed, 13]).choice(len(train_idx), min(config.low_resolution, len(train_idx)),
                                                                 replace=False)
        pictures.append(synthetic_sets.low_resolution(images[train_idx][chosen], config.seed, config.synthetic_draw))
        label_parts.append(labels[train_idx][chosen])
    if config.restyled_digits:  # 0s, 1s and 7s of the training split with the stroke other hands add
        candidates = train_idx[np.isin(labels[train_idx], synthetic_sets.RESTYLED)]
        chosen = np.sort(np.random.default_rng([config.seed, 17]).choice(
            candidates, min(config.restyled_digits, len(candidates)), replace=False))
        pictures.append(synthetic_sets.restyled(images[chosen], labels[chosen], config.seed, config.synthetic_draw))
        label_parts.append(labels[chosen])
    if config.synthetic_digits:
        made, made_labels = synthetic_sets.digits(config.synthetic_digits, config.synthetic_draw)
        pictures.append(made)
        label_parts.append(made_labels)
    if config.outliers:  # outlier exposure: non-digits trained towards the uniform distribution (label -1)
        outliers = synthetic_sets.nondigits(images[train_idx], config.outliers, config.seed, config.synthetic_draw)
        if config.low_resolution:  # blur and blocks must not mean "a digit": a share of the non-digits scanned too
            k = len(outliers) // 4
            outliers[:k] = synthetic_sets.low_resolution(outliers[:k], config.seed, config.synthetic_draw)
        pictures.append(outliers)
        label_parts.append(np.full(len(outliers), -1))
    if len(pictures) == 1:  # nothing added: the split's rows, from its features (computed once per dtype)
        X = dataset.train.features(config.dtype)
        X = X if val_idx is None else X[train_idx]
    else:
        X = unit_float(np.concatenate([p.reshape(len(p), -1) for p in pictures]), config.dtype)
    y = np.concatenate([part.astype(labels.dtype, copy=False) for part in label_parts])
    if config.augmented_copies:
        augment, rng = config.augmentation(), np.random.default_rng([config.seed, 11])
        copies = [parallel.map_chunks(lambda part, r: augment(part, r), X, rng) for _ in range(config.augmented_copies)]
        X, y = np.concatenate([X, *copies]), np.concatenate([y] * (1 + config.augmented_copies))
    return X, y, val_idx


@dataclass
class TrainResult:
    model: MLP
    history: History
    config: TrainConfig
    seconds: float
    metadata: dict = field(default_factory=dict)


def train(config: TrainConfig, dataset, *, callbacks: Sequence[Callback] = (), checkpoint_dir=None,
          checkpoint_every: int = 0, keep: int = 3, resume_from=None, recipe: str | None = None,
          extra_metadata: dict | None = None, calibrate: bool = True) -> TrainResult:
    """Train per ``config`` on ``dataset`` (from :func:`digitnet.data.datasets.load`), evaluate on its test split.

    ``checkpoint_dir``: write checkpoints there (every epoch, and every ``checkpoint_every``
    steps), keeping the newest ``keep``. ``resume_from``: a checkpoint file to continue from.
    ``recipe``: the name the model file records. ``calibrate``: fit the temperature and refusal thresholds on the
    validation split (False: a search's trials, whose models are not kept). The returned model's ``metadata``
    holds everything the model file should record.
    """
    config = for_data(config, dataset)
    for split, what in ((dataset.train, "training"), (dataset.test, "test")):
        if len(split) == 0:  # found now, not after a whole training run
            raise DataError(f"{dataset.source}: the {what} split holds 0 images (expected at least one)")
    check_memory(config, dataset.train.images[0].size, dataset.num_classes, len(dataset.train))
    X, y, val_idx = training_data(config, dataset)
    validation = None if val_idx is None else (dataset.train.features(config.dtype)[val_idx], dataset.train.labels[val_idx])
    epoch = Epoch(len(X), len(VIEWS[config.deskew]), config.batch_size)  # a model that reads two views trains on both
    model, optimizer = build(config, X.shape[1], dataset.num_classes, epoch.steps)
    callbacks = list(callbacks)
    if config.patience:
        callbacks.append(EarlyStopping(config.patience, monitor="val_loss"))
    checkpointer = None
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, every_steps=checkpoint_every, keep=keep, metadata={
            "config": config.to_dict(), "dataset": dataset.name, **({"recipe": recipe} if recipe else {}),
            **(extra_metadata or {})})
    rng, resume = np.random.default_rng(config.seed), None
    if resume_from is not None:
        resume, rng = restore(resume_from, model, optimizer, callbacks)
    try:
        outcome = fit_and_measure(
            model, optimizer, X, y, dataset, val_idx, epochs=config.epochs, batch_size=None if epoch.full else epoch.batch,
            rng=rng, validation=validation, callbacks=callbacks, log_every=config.log_every,
            label_smoothing=config.label_smoothing, batch_metrics={"cost": tutorial_cost} if config.tutorial_cost else None,
            checkpoint=checkpointer, resume=resume, augment_seed=config.seed, calibrated=calibrate,
            augment=None if config.augmented_copies else config.augmentation())
    finally:
        if checkpointer is not None:
            checkpointer.close()
    model.metadata = {"config": config.to_dict(), "seed": config.seed, **({"recipe": recipe} if recipe else {}),
                      "epochs_run": optimizer.t // epoch.steps, **outcome.metadata(dataset)}
    return TrainResult(model, outcome.history, config, outcome.seconds, model.metadata)
