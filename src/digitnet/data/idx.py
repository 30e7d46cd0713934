"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/), gzip-compressed or raw.

Layout: two zero bytes, a type code, the number of dimensions ``d``; then ``d``
big-endian uint32 sizes; then the data, big-endian, in C order.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import atomic_write_bytes

#: IDX type code -> big-endian NumPy dtype.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: Refuse headers that claim more data than this (bytes), before reading anything: 1 GiB by default
#: (MNIST's training images are 47 MB), or ``$DIGITNET_MAX_IDX_BYTES``.
MAX_BYTES = 1 << 30
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def read_idx(path: str | Path, *, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw, detected from its first bytes).

    Returns an array in native byte order with the shape the header gives.
    Raises :class:`~digitnet.errors.DataError`, naming the file, when the magic,
    type code, dimensions or byte count are wrong, or when ``sha256`` is given and
    the SHA-256 of the uncompressed bytes differs from it.
    """
    array, digest = read_idx_digest(path)
    if sha256 is not None and digest != sha256:
        raise DataError(f"{path}: SHA-256 of the uncompressed data is {digest}, "
                        f"expected {sha256}: the file is corrupted or not the one expected")
    return array


def max_bytes() -> int:
    """The largest IDX payload read: :data:`MAX_BYTES`, or ``$DIGITNET_MAX_IDX_BYTES``."""
    try:
        return int(os.environ.get("DIGITNET_MAX_IDX_BYTES", MAX_BYTES))
    except ValueError:
        return MAX_BYTES


def read_idx_digest(path: str | Path) -> tuple[np.ndarray, str]:
    """:func:`read_idx`, also returning the SHA-256 (hex) of the uncompressed bytes."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            isize = None
            if compressed:  # gzip's last 4 bytes: the uncompressed size mod 2^32, known before inflating anything
                raw.seek(-4, os.SEEK_END)
                isize = int.from_bytes(raw.read(4), "little")
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            # the size of the file opened, not of whatever the name points to now: a writer may have renamed
            # a new version over it since (digitnet's writes are atomic renames)
            size = None if compressed else os.fstat(raw.fileno()).st_size
            header, data, array = _parse(stream, path, size, isize)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (expected an IDX file)") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected an IDX file") from None
    except (OSError, EOFError, zlib.error) as exc:  # corrupt gzip stream, unreadable file
        raise DataError(f"{path}: cannot be read as IDX ({exc})") from None
    digest = hashlib.sha256(header)
    digest.update(data)
    return array, digest.hexdigest()


def _header(stream, path: Path) -> tuple[bytes, tuple[int, ...], np.dtype]:
    """(the header's bytes, the shape it gives, the big-endian dtype of its type code), checked."""
    header = _read_exactly(stream, 4, path, "the 4-byte IDX magic")
    if header[:2] != b"\0\0":
        raise DataError(f"{path}: not an IDX file (magic bytes {header.hex()}, expected 0000 then type and rank)")
    code, ndim = header[2], header[3]
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise DataError(f"{path}: unknown IDX type code 0x{code:02X} (expected one of {known})")
    if ndim == 0:
        raise DataError(f"{path}: IDX header has 0 dimensions (expected at least 1)")
    sizes = _read_exactly(stream, 4 * ndim, path, f"{ndim} dimension sizes")
    return header + sizes, tuple(int(s) for s in np.frombuffer(sizes, ">u4")), TYPE_CODES[code]


def _parse(stream: io.IOBase, path: Path, file_size: int | None,
           isize: int | None = None) -> tuple[bytes, bytes, np.ndarray]:
    header, shape, dtype = _header(stream, path)
    ndim = len(shape)
    expected = math.prod(shape) * dtype.itemsize
    limit = max_bytes()
    if expected > limit:
        raise DataError(f"{path}: header claims shape {shape} ({expected:,} bytes), more than the {limit:,} allowed "
                        "(set DIGITNET_MAX_IDX_BYTES to read larger files)")
    if isize is not None and (4 + 4 * ndim + expected) % 2**32 != isize:
        raise DataError(f"{path}: header claims shape {shape} = {expected:,} data bytes, but the gzip stream "
                        f"holds {isize:,} bytes (mod 2^32) in all")
    if file_size is not None and file_size - 4 - 4 * ndim != expected:
        got = file_size - 4 - 4 * ndim
        raise DataError(f"{path}: header claims shape {shape} = {expected:,} data bytes, file holds {got:,}")
    data = _read_at_most(stream, expected + 1)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataError(f"{path}: {what}: header claims shape {shape} = {expected:,} data bytes, found {len(data):,}"
                        + ("" if len(data) < expected else "+"))
    try:
        array = np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="))
    except (ValueError, MemoryError) as exc:  # e.g. a zero dimension beside sizes whose product overflows
        raise DataError(f"{path}: header shape {shape} cannot be represented ({exc})") from None
    return header, data, array


def read_idx_prefix(path: str | Path) -> tuple[np.ndarray, int]:
    """Salvage a damaged IDX file: (the whole records, along the first dimension, that it holds up to the count
    its header claims, in native byte order; that claimed count). A file cut short, or a gzip stream that breaks
    off, gives the records before the cut. DataError when even the header cannot be read."""
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            _, shape, dtype = _header(stream, path)
            record = math.prod(shape[1:]) * dtype.itemsize
            data = _read_until_broken(stream, min(shape[0] * record, max_bytes()))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (expected an IDX file)") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read as IDX ({exc})") from None
    n = len(data) // record if record else shape[0]
    array = np.frombuffer(data[:n * record], dtype).reshape((n, *shape[1:]))
    return array.astype(dtype.newbyteorder("=")), shape[0]


def _read_until_broken(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes: as many as can be read before the end, or before the data breaks off."""
    parts, size = [], 0
    while size < limit:
        try:
            part = stream.read(min(_CHUNK, limit - size))
        except (OSError, EOFError, zlib.error):
            break
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _read_exactly(stream, n: int, path: Path, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated: ends before {what} ({len(data)} of {n} bytes)")
    return data


def _read_at_most(stream, limit: int) -> bytes:
    """Read up to ``limit`` bytes in chunks, so a lying header never makes us allocate its claim."""
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(_CHUNK, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of ``array`` (uncompressed)."""
    array = np.asarray(array)
    code = next((c for c, d in TYPE_CODES.items() if array.dtype.kind == d.kind and array.dtype.itemsize == d.itemsize), None)
    if code is None:
        raise DataError(f"IDX cannot store dtype {array.dtype} (expected uint8, int8, int16, int32, float32 or float64)")
    if not 1 <= array.ndim <= 255 or any(s >= 1 << 32 for s in array.shape):
        raise DataError(f"IDX cannot store shape {array.shape} (1 to 255 dimensions, each < 2**32)")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + np.ascontiguousarray(array, TYPE_CODES[code]).tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as IDX, atomically; gzip-compressed when ``compress`` or the name ends in ``.gz``."""
    path = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)
