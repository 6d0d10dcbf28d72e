"""DeepSpeed for the ZeRO-3 example's test only, in a folder outside the stack.

In the stack itself DeepSpeed changes what transformers and trl import (axolotl 0.19's
DPO trainer then fails on accelerate's missing `DeepSpeedSchedulerWrapper`), so the
stack stays as `make install` builds it and the test puts this folder on PYTHONPATH.
`make test` fills it: `python -m tests.helpers.deepspeed_site FOLDER` installs the
DeepSpeed that axolotl's `deepspeed` extra asks for (an sdist, built against the
installed torch) and the small packages it needs beyond the stack.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

FOLDER = Path(sys.prefix) / "deepspeed-site"
NEEDS = ("hjson", "msgpack", "ninja", "py-cpuinfo")  # DeepSpeed's requirements the stack lacks


def pin() -> str:
    """DeepSpeed's requirement in axolotl's `deepspeed` extra, e.g. `deepspeed<0.19.0,>=0.18.6`."""
    for requirement in requires("axolotl") or []:
        spec, _, marker = requirement.partition(";")
        if re.match(r"deepspeed\s*[<>=!~]", spec) and '"deepspeed"' in marker:
            return spec.strip()
    raise SystemExit("axolotl names no DeepSpeed in its `deepspeed` extra")


def main(folder: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*command, "--target", folder, pin(), *NEEDS], check=True)


if __name__ == "__main__":
    main(sys.argv[1])
