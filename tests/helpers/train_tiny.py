"""`python -m tests.helpers.train_tiny FOLDER`: the tiny test model trained with PLUG by
the real `axolotl train` (as the `plug_trained` fixture trains it) into FOLDER/out, and
with the pivot in Qwen3's thinking channel into FOLDER/reasoning/out, for the tests that
run in a venv without axolotl (`make test-vllm`, `make test-sglang`)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.helpers.models import train_plug_model
from tests.helpers.real_templates import real_chat_template

THINK = ["<think>", "</think>"]


def main(folder: str) -> None:
    work = Path(folder).resolve()
    reasoning = work / "reasoning"
    train_plug_model(work, work / "train.yml", work / "bench.jsonl")
    plug = {
        "target_language": "zh",
        "pivot_channel": "reasoning",
        "chat_template": str(real_chat_template("Qwen-Qwen3-0.6B")),
    }
    # Qwen3's markers as single tokens, as its own tokenizer has them (vLLM's qwen3 parser needs that)
    train_plug_model(reasoning, reasoning / "train.yml", reasoning / "bench.jsonl", plug, tokens=THINK, max_steps=10)
    print(work / "out", reasoning / "out")


if __name__ == "__main__":
    main(sys.argv[1])
