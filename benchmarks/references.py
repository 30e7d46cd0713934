"""The reference implementations the benchmarks run beside digitnet: PyTorch (CPU) and scikit-learn.

Each function does the same work as its digitnet counterpart, on the same
in-memory float32 data, and returns seconds of training (evaluation excluded).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np


def torch_mlp(sizes, activation="relu"):
    import torch

    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def torch_train(X, y, sizes, *, epochs, batch_size, lr, seed, schedule="constant", activation="relu",
                optimizer="adam", step_lrs=None, eval_fn=None, per_epoch=None, dtype="float32"):
    """Mini-batch (or full-batch when batch_size >= n) training in PyTorch, the usual way, in ``dtype``.

    Returns (seconds, model). ``eval_fn(model) -> bool`` is called after each epoch
    outside the timed region; training stops when it returns True. Each epoch's
    seconds are appended to the list ``per_epoch`` if given.
    """
    import torch

    torch.manual_seed(seed)
    Xt, yt = torch.from_numpy(np.ascontiguousarray(X, dtype)), torch.from_numpy(np.asarray(y, np.int64))
    model = torch_mlp(sizes, activation).to(getattr(torch, dtype))
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    n = len(Xt)
    full = batch_size >= n
    steps_per_epoch = 1 if full else math.ceil(n / batch_size)
    sched = None
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                    anneal_strategy="cos", div_factor=25, final_div_factor=1e4)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)

    def train_epoch(epoch):
        if full:
            if step_lrs:
                for group in opt.param_groups:
                    group["lr"] = step_lrs(epoch)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt), yt).backward()
            opt.step()
        else:
            order = torch.randperm(n, generator=generator)
            for i in range(steps_per_epoch):
                idx = order[i * batch_size:(i + 1) * batch_size]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(Xt.index_select(0, idx)), yt.index_select(0, idx)).backward()
                opt.step()
                if sched is not None:
                    sched.step()

    return timed_epochs(epochs, train_epoch, lambda: eval_fn is not None and eval_fn(model), per_epoch), model


def torch_accuracy(model, X, y) -> float:
    import torch

    with torch.no_grad():
        pred = model(torch.from_numpy(np.ascontiguousarray(X, np.float32))).argmax(1).numpy()
    return float(np.mean(pred == y))


def sklearn_train(X, y, hidden, *, epochs, batch_size, lr, seed, eval_fn=None, per_epoch=None):
    """scikit-learn's MLPClassifier (Adam), one epoch per ``fit`` call with ``warm_start``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", batch_size=batch_size,
                        learning_rate_init=lr, max_iter=1, warm_start=True, shuffle=True, random_state=seed, tol=0)

    def train_epoch(epoch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    return timed_epochs(epochs, train_epoch, lambda: eval_fn is not None and eval_fn(clf), per_epoch), clf


def timed_epochs(epochs, train_epoch, done, per_epoch=None) -> float:
    """Seconds spent in ``train_epoch(epoch)`` over up to ``epochs`` epochs; ``done()`` is asked
    after each, outside the timed region. Each epoch's seconds go to the list ``per_epoch``."""
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        train_epoch(epoch)
        times.append(time.perf_counter() - start)
        if done():
            break
    if per_epoch is not None:
        per_epoch.extend(times)
    return sum(times)
