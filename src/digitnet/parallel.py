"""Work split over the machine's cores, with threads.

NumPy releases the GIL while a ufunc or a matrix product works on large arrays, so
Python threads running NumPy code run in parallel. Two uses:

- :func:`elementwise`: an elementwise update of big arrays (Adam's passes over a
  1024x1024 weight matrix) cut into contiguous pieces, one per thread. Every element
  sees exactly the same operations as in one piece, so the result is bit-for-bit the
  same however the arrays are split.
- :func:`run`: independent tasks (the chunks of a full batch) on all cores, with the
  BLAS single-threaded meanwhile, so its own threads do not compete with them.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

T = TypeVar("T")

#: Fewer elements than this per thread and the hand-off costs more than it saves.
MIN_PIECE = 1 << 16

_pool: ThreadPoolExecutor | None = None


#: at most this many threads (set by :func:`limit_threads`), or None for every core
_limit: int | None = None


def cores() -> int:
    """Threads this process works on: the CPU cores it may run on, or fewer inside :func:`limit_threads`."""
    return min(_available(), _limit) if _limit else _available()


@functools.cache
def _available() -> int:
    """CPU cores this process may run on (asked once)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Within the block, digitnet's own work and the BLAS use at most ``threads`` threads (``threads`` >= 1):
    for several trainings side by side in separate processes, each on its own core(s)."""
    global _limit
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    saved, _limit = _limit, threads
    try:
        with _blas_controller().limit(limits=threads, user_api="blas"):
            yield
    finally:
        _limit = saved


def elementwise(kernel: Callable[..., None], *arrays: np.ndarray, min_piece: int = MIN_PIECE) -> None:
    """Run ``kernel(*arrays)`` in place, split into contiguous pieces of at least ``min_piece`` elements over
    up to :func:`cores` threads.

    ``kernel`` must be elementwise: what it writes at a position depends only on
    the inputs at that position. Arrays of the same shape and memory layout (all C-
    or all Fortran-contiguous; their dtypes may differ) are split; anything else runs in one piece.
    """
    first = arrays[0]
    pieces = min(cores(), first.size // min_piece)
    order = [s // first.itemsize for s in first.strides]
    same_layout = all(a.shape == first.shape and [s // a.itemsize for s in a.strides] == order for a in arrays)
    if pieces < 2 or not same_layout or not (first.flags.c_contiguous or first.flags.f_contiguous):
        kernel(*arrays)
        return
    flat = [a.ravel(order="K") for a in arrays]  # views, in memory order
    bounds = [first.size * i // pieces for i in range(pieces + 1)]
    parts = [[f[lo:hi] for f in flat] for lo, hi in zip(bounds, bounds[1:])]
    futures = [_executor().submit(kernel, *part) for part in parts[1:]]
    kernel(*parts[0])  # this thread takes the first piece
    for future in futures:
        future.result()


def run(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Call each task (no arguments) on up to :func:`cores` threads; the results, in order.

    Meanwhile the BLAS runs single-threaded: the tasks are the parallelism. Tasks must not
    call :func:`run` or :func:`elementwise` themselves: they would wait on the same threads.
    """
    if cores() < 2 or len(tasks) < 2:
        return [task() for task in tasks]
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [_executor().submit(task) for task in tasks]
        return [future.result() for future in futures]


def map_chunks(function: Callable[[np.ndarray, np.random.Generator], np.ndarray], X: np.ndarray,
               rng: np.random.Generator, chunk: int = 4096, *, out: np.ndarray | None = None) -> np.ndarray:
    """``function(rows, generator)`` over chunks of ``X`` on all cores, concatenated in order. Each chunk
    gets its own generator, spawned from ``rng``: the same result on any number of cores. With ``out``
    (as many rows as ``X``), each chunk's result is written into it, with no concatenated copy."""
    starts = range(0, len(X), chunk)
    rngs = rng.spawn(len(starts))
    if out is not None:
        def into(s, r):
            out[s:s + chunk] = function(X[s:s + chunk], r)
        run([functools.partial(into, s, r) for s, r in zip(starts, rngs)])
        return out
    tasks = [functools.partial(function, X[s:s + chunk], r) for s, r in zip(starts, rngs)]
    return np.concatenate(run(tasks)) if tasks else X[:0].copy()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_available(), thread_name_prefix="digitnet-worker")  # limit_threads uses fewer
    return _pool


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _forget_pool() -> None:  # a forked child has none of the parent's threads
    global _pool
    _pool = None
    _blas_controller.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
