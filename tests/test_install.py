"""Installing the plugin into a working axolotl environment changes none of its stack.

Run on each supported stack (`make test`: axolotl 0.19 on Python 3.11; `make
test-axolotl-0.21`: axolotl 0.21 on Python 3.12), each venv built as a user's is:
torch, then axolotl, then this package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement

from tests.helpers.rows import REPO

STACK = ("axolotl", "transformers", "torch", "peft", "datasets", "trl", "accelerate", "tokenizers")


def test_pip_would_change_nothing_of_the_stack():
    # --no-index: pip must resolve every requirement from what is installed, so any
    # upgrade or downgrade it wanted would fail here with the requirement's name
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            "--report",
            "-",
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    planned = {
        item["metadata"]["name"].lower(): item["metadata"]["version"] for item in json.loads(result.stdout)["install"]
    }
    assert set(planned) == {"axolotl-plug"}, planned


def test_the_installed_stack_is_the_one_axolotl_pins():
    """Every stack package axolotl names is installed at a version axolotl accepts: our
    install did not move one of them off axolotl's pins."""
    pins = [Requirement(r) for r in metadata.requires("axolotl") or []]
    checked = []
    for pin in pins:
        if pin.name.lower() in STACK and (pin.marker is None or pin.marker.evaluate({"extra": ""})):
            installed = metadata.version(pin.name)
            assert pin.specifier.contains(installed, prereleases=True), f"{pin.name} {installed} breaks axolotl's {pin}"
            checked.append(pin.name.lower())
    assert {"transformers", "peft", "datasets", "torch"} <= set(checked)
