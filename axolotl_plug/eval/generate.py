"""`axolotl plug generate` as one call: benchmark instructions in, an answer file out
(resumed where it stopped), in this process or on a serving engine; the metrics of the
whole file and its counts back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.answers import GREEDY, Sampling, answer_levels, file_counts


@dataclass(frozen=True)
class Endpoint:
    """A serving engine to generate on (`--base-url` and its options)."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    max_retries: int = 3
    timeout: float = 600.0


def generate(
    instructions: str,
    output: Path,
    config: PlugConfig,
    model_dir: Path,
    *,
    split: str | None = None,
    sequence_len: int | None = None,
    max_new_tokens: int | None = None,
    generator: str | None = None,
    extraction: str = "ours",
    sampling: Sampling = GREEDY,
    batch_size: int = 8,
    endpoint: Endpoint | None = None,
) -> tuple[dict[str, float], dict[str, int]]:
    """Answer every instruction `output` has no answer for yet, with the prompts training
    used: in this process with the model in `model_dir`, or on `endpoint`. A multi-turn
    row (`turns`) is answered turn by turn, each turn after the target answers to the
    ones before (one line per turn, with `turn`). Returns the `plug/` metrics and the
    counts (answers, truncated, no target answer) of the file."""
    from axolotl_plug.eval.generation import answer_budget
    from axolotl_plug.format.languages import get_language
    from axolotl_plug.io.records import load_instructions

    answer_budget(0, max_new_tokens, sequence_len)  # say now, not after loading the model, when there is no limit
    records = load_instructions(instructions, split, config.target_language)
    for lang in sorted({r["lang"] for r in records}):  # an unknown code, before any model is loaded
        get_language(lang, config.header_overrides())
    generator = generator or model_dir.name
    metrics: dict[str, float] = {}
    common = dict(max_new_tokens=max_new_tokens, sequence_len=sequence_len, extraction=extraction, sampling=sampling)
    if endpoint is not None:
        from axolotl_plug.eval.served import generate_served
        from axolotl_plug.io.client import ChatClient

        tokenizer = None
        if max_new_tokens is None:  # the model's own tokenizer counts the prompt, to derive the token limit
            from transformers import AutoTokenizer  # seconds to import: only when it is needed

            tokenizer = AutoTokenizer.from_pretrained(model_dir)
        with ChatClient(
            endpoint.model,
            endpoint.base_url,
            endpoint.api_key_env,
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
        ) as client:
            for level in answer_levels(records, output):
                metrics = generate_served(
                    client,
                    level,
                    config,
                    output,
                    generator,
                    tokenizer=tokenizer,
                    concurrency=endpoint.concurrency,
                    **common,
                )
    else:
        from axolotl_plug.eval.generation import generate_file, load_for_generation

        model, tokenizer = load_for_generation(model_dir)
        for level in answer_levels(records, output):
            metrics = generate_file(model, tokenizer, level, config, output, generator, batch_size=batch_size, **common)
    return metrics, file_counts(output)
