"""A fixed, mostly-zero input matrix stored for the repeated products of full-batch training.

Full-batch gradient descent multiplies the same X by a weight matrix in every
iteration, twice (Z = X W forward, dW = Xᵀ dZ backward). MNIST pixels are 81%
zeros, and which pixels carry ink depends on where the digit sits. So the rows
(samples) are sorted by the bounding box of their non-zero columns and cut into
blocks; each block keeps only the columns that are non-zero somewhere in it
(about half of them). Both products then skip the all-zero columns of each block:
the result is the same sum over the same non-zero terms, in another order.

This module is the only one that knows about blocked input: it registers the two
products a :class:`~digitnet.nn.layers.Dense` layer makes with its input
(:func:`~digitnet.nn.layers.input_product`, :func:`~digitnet.nn.layers.input_gradient`)
for :class:`ColumnBlock`.
"""

from __future__ import annotations

import numpy as np

from ..nn.layers import input_gradient, input_product


class ColumnBlock:
    """Some rows of a matrix, keeping only the columns ``used``: ``values`` is (rows, len(used)).

    A :class:`~digitnet.nn.layers.Dense` layer given one multiplies by the matching rows of
    its weights only.
    """

    __slots__ = ("shape", "used", "values")

    def __init__(self, used: np.ndarray, values: np.ndarray, n_columns: int):
        self.used, self.values, self.shape = used, values, (len(values), n_columns)

    def __len__(self) -> int:
        return self.shape[0]


@input_product.register
def _(x: ColumnBlock, WT: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.matmul(WT[:, x.used], x.values.T, out=out)  # only the weight rows of the used columns


@input_gradient.register
def _(x: ColumnBlock, dyT: np.ndarray, dWT: np.ndarray, *, accumulate: bool) -> None:
    if not accumulate:
        dWT[...] = 0
    dWT[:, x.used] += dyT @ x.values  # the other columns of x are zero


class BlockedRows:
    """``X`` (n, d) as row blocks that keep only their non-zero columns.

    ``order`` is the permutation applied to the rows: block row i is ``X[order[i]]``;
    labels must be permuted the same way. ``blocks`` is a list of
    ``(rows, ColumnBlock)``, ``rows`` a slice of the permuted order.
    """

    def __init__(self, X: np.ndarray, block_rows: int = 1024):
        X = np.asarray(X)
        n, d = X.shape
        side = int(round(np.sqrt(d)))
        ink = X != 0
        # Sort by the bounding box of each sample's non-zero columns (top, left, bottom, right),
        # seen as a square image when d is a square.
        image = ink.reshape(n, side, side) if side * side == d else ink.reshape(n, 1, d)
        any_row, any_col = image.any(axis=2), image.any(axis=1)
        top, left = any_row.argmax(axis=1), any_col.argmax(axis=1)
        bottom, right = any_row[:, ::-1].argmax(axis=1), any_col[:, ::-1].argmax(axis=1)
        self.order = np.lexsort((-right, -bottom, left, top))
        self.shape, self.dtype = (n, d), X.dtype
        self.blocks: list[tuple[slice, ColumnBlock]] = []
        for start in range(0, n, block_rows):
            idx = self.order[start:start + block_rows]
            used = np.flatnonzero(ink[idx].any(axis=0))
            self.blocks.append((slice(start, start + len(idx)), ColumnBlock(used, X[np.ix_(idx, used)], d)))

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def density(self) -> float:
        """Fraction of the dense matrix's entries that the blocks store."""
        return sum(b.values.size for _, b in self.blocks) / (self.shape[0] * self.shape[1])

    def to_dense(self) -> np.ndarray:
        """The original matrix (rows in the original order)."""
        X = np.zeros(self.shape, self.dtype)
        for rows, block in self.blocks:
            X[self.order[rows][:, None], block.used] = block.values
        return X
