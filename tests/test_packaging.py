"""What the package ships: the wheel and the sdist hold the licences, the typing marker, the data's
checksums and, for the sdist, everything its own tests need (conftest.py and the helpers beside them)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


def test_the_wheel_ships_licences_types_and_checksums(built):
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("digitnet/py.typed", "digitnet/data/mnist/SHA256SUMS", "digitnet/data/mnist/SHA256SUMS.uncompressed",
                   "digitnet/app/serve/static/digitnet.js", "digitnet/data/mnist/t10k-images-idx3-ubyte.gz"):
        assert needed in names, needed
    licences = [n for n in names if "/licenses/" in n]
    assert any(n.endswith("/LICENSE") for n in licences) and any(n.endswith("/NOTICE") for n in licences), licences
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata and "Requires-Python: >=3.10" in metadata
    notice = " ".join(zipfile.ZipFile(wheel).read(next(n for n in licences if n.endswith("/NOTICE"))).decode().split())
    assert "MNIST" in notice and "Creative Commons Attribution-Share Alike 3.0" in notice


def test_the_sdist_holds_what_its_tests_need(built):
    _, sdist = built
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    local_tests = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").glob("*.py")}
    assert local_tests <= names, sorted(local_tests - names)
    for needed in ("LICENSE", "NOTICE", "tests/conftest.py", "tests/drawings.py", "package.json", "package-lock.json",
                   "scripts/system-packages.sh", "src/digitnet/py.typed"):
        assert needed in names, needed
