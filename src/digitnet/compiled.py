"""Compiled kernels: which path the math takes, and numba, loaded once when first asked for.

The network's math is written in NumPy (the reference that readers learn from and that the tests
compare against). Some of its elementwise passes also exist as fused loops compiled with numba
(:mod:`digitnet.nn.kernels`): one pass over memory where NumPy makes several. ``DIGITNET_KERNELS``
chooses:

- ``numpy``: the reference path, NumPy only;
- ``numba`` or unset (the default): the compiled kernels when numba imports, else the reference
  path, with the reason in :func:`status` (never an error: numba is an accelerator, not a need).

numba is imported on the first call of :func:`numba`, not with digitnet (it takes ~0.3 s), so
commands that never train or read pay nothing. Its compiled code is cached on disk under
:func:`digitnet.paths.cache_dir` ``/numba`` (``NUMBA_CACHE_DIR``, unless you set it yourself), so
a read-only installation still caches, and only the first run on a machine compiles.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from .errors import UsageError
from .paths import cache_dir

ENV = "DIGITNET_KERNELS"
MODES = ("numba", "numpy")

_lock = threading.Lock()
_loaded: tuple[ModuleType | None, str] | None = None  # (numba or None, what happened), once asked


def requested() -> str:
    """The path ``DIGITNET_KERNELS`` asks for: ``numba`` (also when unset) or ``numpy``."""
    value = os.environ.get(ENV, "").strip().lower() or "numba"
    if value not in MODES:
        raise UsageError(f"{ENV}={os.environ[ENV]!r} is not a kernel mode: expected one of {', '.join(MODES)}")
    return value


def numba() -> ModuleType | None:
    """numba, when the compiled path is asked for and numba imports; None for the reference path."""
    if requested() == "numpy":
        return None
    return _load()[0]


def mode() -> str:
    """``numba`` or ``numpy``: the path the math takes now."""
    return "numba" if numba() is not None else "numpy"


def status() -> str:
    """What :func:`mode` chose, and why (for a model's machine record or a bug report)."""
    if requested() == "numpy":
        return f"numpy ({ENV}=numpy)"
    module, why = _load()
    return f"numba {module.__version__}" if module is not None else f"numpy ({why})"


def _load() -> tuple[ModuleType | None, str]:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _import()
    return _loaded


def _import() -> tuple[ModuleType | None, str]:
    if "NUMBA_CACHE_DIR" not in os.environ:  # read by numba when it is imported: set it first
        folder = cache_dir() / "numba"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(folder)
        except OSError:  # no user cache: numba then caches beside the code, or not at all
            pass
    try:
        import numba
    except Exception as exc:  # not installed, or a broken install (llvmlite): the reference path
        return None, f"numba unavailable: {exc.__class__.__name__}: {exc}"
    return numba, "loaded"


def _forget() -> None:
    """Ask again on the next call (tests that simulate a missing numba)."""
    global _loaded
    _loaded = None
