"""Files in and out: bounded reads of input files, atomic writes (a crash leaves either the old
file or the new one, never half of one), and output paths checked before any work starts."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
import time
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
    """Write ``data`` to ``path`` via a temporary file in the same directory, fsync, then rename.
    An OSError names ``path`` (never the temporary file, which the caller never asked for)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # as a plain open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a file-size limit: the old file stays as it was
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` as the same kind of OSError about ``path``."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path))  # FileNotFoundError etc. by errno


#: the temporary files :func:`atomic_write_bytes` makes (``.NAME.`` + mkstemp's 8 characters + ``.tmp``)
TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temporaries(directory: str | Path, older_than: float) -> list[Path]:
    """Remove the temporary files of atomic writes left in ``directory`` by a process killed mid-write, those
    last changed more than ``older_than`` seconds ago (a younger one may be a write in progress); returns them."""
    removed: list[Path] = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:  # no such directory, or not readable: nothing of ours to clean
        return removed
    cutoff = time.time() - older_than
    for entry in entries:
        try:
            if TEMPORARY.match(entry.name) and entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed.append(entry)
        except OSError:  # removed meanwhile by another process, or not ours to remove
            continue
    return removed


def check_output_file(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work is done, a file path that cannot be written: a directory, a parent that is a
    file, or a directory where no file can be created. Creating a file is tried, not guessed from permission
    bits (root passes those, even on /proc or a read-only mount). Missing parents are not created here: the
    write creates them, so a refused or failed command leaves none behind."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a directory, expected a file path")
    _check_creatable(_existing_ancestor(path.parent, what, path), what, path)
    return path


def check_output_dir(path: str | Path, what: str = "output", *, create: bool = True) -> Path:
    """Refuse, before any work is done, a directory that cannot be created or written (creating a file in it
    is tried); ``create``: make it now (else only its nearest existing parent is tried)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path}: is a file, expected a directory")
    if not create:
        _check_creatable(_existing_ancestor(path, what, path), what, path)
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{what} {path}: cannot be created ({exc.strerror})") from None
    _check_creatable(path, what, path)
    return path


def _existing_ancestor(directory: Path, what: str, target: Path) -> Path:
    """``directory`` or its nearest parent that exists, which must be a directory."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir():
        raise OutputError(f"{what} {target}: {directory} is a file, expected a directory")
    return directory


def _check_creatable(directory: Path, what: str, target: Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".digitnet-check.", suffix=".tmp")
    except OSError as exc:
        reason = "directory is not writable" if exc.errno in (errno.EACCES, errno.EPERM) else exc.strerror
        raise OutputError(f"{what} {target}: cannot be written ({reason})") from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)


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
