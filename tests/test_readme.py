"""Every Python snippet in the README runs as written, in a folder holding the files the snippets
name (``model.safetensors``: the default model; ``digit.png``: an MNIST test digit, dark on light)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if README.is_file() else []


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index, tmp_path, monkeypatch, served_model, mnist):
    shutil.copy(served_model, tmp_path / "model.safetensors")
    Image.fromarray(255 - mnist.test.images[0]).resize((112, 112)).save(tmp_path / "digit.png")
    monkeypatch.chdir(tmp_path)
    exec(compile(SNIPPETS[index], f"README.md snippet {index}", "exec"), {"__name__": f"readme_{index}"})
