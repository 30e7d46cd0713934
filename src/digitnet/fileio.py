"""Files in and out: bounded reads of input files, atomic writes (a crash leaves either the old
file or the new one, never half of one), and output paths checked before any work starts."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import DataError, OutputError


def read_input(path: str | Path, *, limit: int, expected: str, label: str | None = None,
               error: type[Exception] = DataError) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; ``error`` (naming the file
    and ``expected``, what it should have been) for anything else. Special files are refused before they
    are opened (a FIFO would wait for a writer) and nothing past ``limit`` is read (``/dev/zero`` has no end)."""
    path = Path(path)
    label = label or str(path)
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise error(f"{label}: not a regular file (expected {expected})")
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb", buffering=0) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced in between
                raise error(f"{label}: not a regular file (expected {expected})")
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{label}: no such file (expected {expected})") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise error(f"{label}: cannot be read ({exc.strerror})") from None
    if len(data) > limit:
        raise error(f"{label}: larger than the {limit:,} bytes allowed (expected {expected})")
    return data


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def check_output_file(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work is done, a file path that cannot be written: a directory, or a
    parent that is not a writable directory (created if missing)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a directory, expected a file path")
    check_output_dir(path.parent, what)
    return path


def check_output_dir(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work is done, a directory that cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: is a file, expected a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot be created ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path}: directory is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
