"""`python -m tests.helpers.train_tiny FOLDER`: the tiny test model trained with PLUG by
the real `axolotl train` (as the `plug_trained` fixture trains it) into FOLDER/out, for
the tests that run in a venv without axolotl (`make test-vllm`)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.helpers.models import train_plug_model


def main(folder: str) -> None:
    work = Path(folder).resolve()
    train_plug_model(work, work / "train.yml", work / "bench.jsonl")
    print(work / "out")


if __name__ == "__main__":
    main(sys.argv[1])
