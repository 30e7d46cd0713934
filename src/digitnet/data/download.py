"""Fetching registered datasets on first use: pooch downloads, verified, into the user's cache.

Each file is tried at every mirror in order; a download whose archive MD5 or
uncompressed SHA-256 is wrong is refused and nothing of it is kept.
"""

from __future__ import annotations

from pathlib import Path

import pooch

from ..errors import DataError
from ..paths import cache_dir
from .idx import read_idx
from .registry import FILES, DatasetInfo

TIMEOUT_S = 30


def target_dir(info: DatasetInfo) -> Path:
    return cache_dir() / "datasets" / info.name


def is_complete(info: DatasetInfo) -> bool:
    return all((target_dir(info) / f"{stem}.gz").is_file() for stem in FILES)


def dataset_dir(info: DatasetInfo) -> Path:
    """The directory holding ``info``'s four files, downloading them on first use."""
    if not is_complete(info):
        download(info)
    return target_dir(info)


def download(info: DatasetInfo, *, progress: bool = False) -> Path:
    """Fetch the four files of a registered dataset into the cache, trying each mirror in turn."""
    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." lines are the CLI's to print, not ours
    directory = target_dir(info)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for stem in FILES:
        name = f"{stem}.gz"
        if (directory / name).is_file():
            continue
        for base in info.urls:
            url = base.rstrip("/") + "/" + name
            try:
                path = Path(pooch.retrieve(url, known_hash=f"md5:{info.md5[stem]}" if stem in info.md5 else None,
                                           fname=name, path=directory, progressbar=progress,
                                           downloader=pooch.HTTPDownloader(timeout=TIMEOUT_S)))
            except ValueError as exc:  # pooch: the archive's hash does not match; it keeps nothing
                failures.append(f"{url}: checksum mismatch ({str(exc).splitlines()[0]})")
                continue
            except Exception as exc:  # network errors: HTTP status, refused connection, DNS, timeout
                reason = str(exc).splitlines()[0] if str(exc) else ""
                failures.append(f"{url}: {exc.__class__.__name__}: {reason[:150]}")
                continue
            if stem in info.sha256:
                try:
                    read_idx(path, sha256=info.sha256[stem])
                except DataError as exc:
                    path.unlink(missing_ok=True)
                    failures.append(f"{url}: {exc}")
                    continue
            break
        else:
            urls = "\n  ".join(b.rstrip("/") + "/" + name for b in info.urls)
            tried = "\n  ".join(failures[-len(info.urls):])
            raise DataError(
                f"{info.name} is not available offline and could not be downloaded:\n  {tried}\n"
                f"Download {name} (and the other files of {', '.join(f + '.gz' for f in FILES)}) from\n  {urls}\n"
                f"into {directory}, or pass --data DIR with a directory that holds them.")
    return directory
