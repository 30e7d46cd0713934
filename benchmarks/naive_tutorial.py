"""A faithful reimplementation of the tutorial's listing, bugs fixed, nothing else changed.

Dict of arrays, float64, columns are samples, exp-based tanh, ``np.dot``, a new
array for every intermediate. This is the baseline ``bench_seed.py`` times
``digitnet train --recipe seed`` against. Run alone it prints the tutorial's log.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import numpy as np


def initialize_parameters(n_in, n_outs):
    np.random.seed(2)
    W1 = np.random.randn(n_outs[0], n_in) * 0.1
    b1 = np.zeros((n_outs[0], 1))
    W2 = np.random.randn(n_outs[1], n_outs[0]) * 0.1
    b2 = np.zeros((n_outs[1], 1))
    W3 = np.random.randn(n_outs[2], n_outs[1]) * 0.1
    b3 = np.zeros((n_outs[2], 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}


def tanh(x):
    return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


def softmax(x):
    expx = np.exp(x - np.max(x))
    return expx / expx.sum(axis=0, keepdims=True)


def forward_propagation(X, parameters):
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    b1, b2, b3 = parameters["b1"], parameters["b2"], parameters["b3"]
    Z1 = np.dot(W1, X) + b1
    A1 = tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = tanh(Z2)
    Z3 = np.dot(W3, A2) + b3
    A3 = softmax(Z3)
    return A3, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}


def backward_propagation(X, y, cache, parameters):
    m = X.shape[1]
    W2, W3 = parameters["W2"], parameters["W3"]
    A1, A2, A3 = cache["A1"], cache["A2"], cache["A3"]
    dZ3 = A3 - y
    dW3 = 1 / m * np.dot(dZ3, A2.T)
    db3 = 1 / m * np.sum(dZ3, axis=1, keepdims=True)
    dZ2 = np.dot(W3.T, dZ3) * (1 - np.power(A2, 2))
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    # The listing builds this dict but never returns it (its first bug).
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}


def update_parameters(parameters, grads, learning_rate=0.001):
    # The listing never unpacks `grads` (its second bug).
    return {k: parameters[k] - grads["d" + k] * learning_rate for k in parameters}


def model(X, y, learning_rate, num_iterations=150, print_cost=True):
    parameters = initialize_parameters(784, [16, 16, 10])
    lines = []
    for i in range(num_iterations):
        if i > 75:
            learning_rate = 0.1
        A3, cache = forward_propagation(X, parameters)
        cost = -np.mean(y * np.log(A3 + 1e-8))
        y_hat = np.argmax(A3, axis=0)
        Y = np.argmax(y, axis=0)
        accuracy = (y_hat == Y).mean()
        grads = backward_propagation(X, y, cache, parameters)
        parameters = update_parameters(parameters, grads, learning_rate)
        if i % 10 == 0:
            lines.append("Cost after iteration %i: %f Accuracy: %f" % (i, cost, accuracy * 100))
            if print_cost:
                print(lines[-1])
    return parameters, lines


def one_hot(a, num_classes):
    return np.squeeze(np.eye(num_classes)[a.reshape(-1)])


def load_train(directory: Path):
    with gzip.open(directory / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60000, 784)
    with gzip.open(directory / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def run(directory: Path, learning_rate: float = 0.5, print_cost: bool = False):
    """Train as the tutorial does; return (seconds of training, the lines it prints)."""
    train_X, train_y = load_train(directory)
    train_X = train_X.reshape(60000, 784).T / 255
    train_y = one_hot(train_y, 10).T
    start = time.perf_counter()
    _, lines = model(train_X, train_y, learning_rate, print_cost=print_cost)
    return time.perf_counter() - start, lines


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "src/digitnet/data/mnist"
    seconds, _ = run(data, print_cost=True)
    print(f"{seconds:.1f} s")
