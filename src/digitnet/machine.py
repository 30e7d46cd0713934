"""What a model was trained on: CPU, cores, Python, NumPy and the BLAS kernel (model cards, benchmarks)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def cpu_info() -> dict[str, str]:
    """``model name`` and ``flags`` of the first CPU in /proc/cpuinfo (empty where there is none)."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "flags") and key.strip() not in info:
                info[key.strip()] = value.strip()
    except OSError:
        pass
    return info


def describe() -> dict:
    """A short JSON-able description of this machine and its numeric libraries."""
    from threadpoolctl import threadpool_info

    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernel, {i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_info().get("model name") or platform.processor() or platform.machine(), "cores": cores,
            "system": platform.system(), "python": platform.python_version(), "numpy": np.__version__, "blas": blas}
