"""Batched greedy generation from PLUG prompts, shared by the demo, the evaluation
callback and `axolotl plug generate`, and the answer files `generate` writes.

An answer file follows alpaca_eval's outputs convention (`instruction`, `output`,
`generator`) and is what `axolotl plug judge` reads. Lines are appended as batches
finish, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..args import PlugConfig
from ..dataset.layout import prompt_messages
from ..records import finished, read_records, to_line
from .metrics import extract_answer, languages_in_play, metrics_by_language, score_answer


def load_for_generation(model_dir: str | Path):
    """(model, tokenizer) from a trained output folder: a full model, or a LoRA
    adapter on top of the base model its adapter_config.json names."""
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    adapter_config = model_dir / "adapter_config.json"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if adapter_config.is_file():
        from peft import PeftModel

        base = json.loads(adapter_config.read_text())["base_model_name_or_path"]
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), model_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prompt_ids(tokenizer, messages: list[dict], chat_template: str | None = None) -> list[int]:
    """Token ids of a chat prompt ending with the assistant turn's opening."""
    text = tokenizer.apply_chat_template(messages, chat_template=chat_template, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def generate_from_ids(
    model, tokenizer, prompts: Sequence[list[int]], *, max_new_tokens: int = 256, batch_size: int = 8
) -> Iterator[str]:
    """Greedy answers to tokenized prompts, left-padded batches, in prompt order.
    Puts the model back in training mode afterwards if it was in it."""
    import torch

    was_training = model.training
    model.eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    try:
        for batch in batches(list(prompts), batch_size):
            width = max(len(ids) for ids in batch)
            input_ids = torch.tensor([[pad_id] * (width - len(ids)) + list(ids) for ids in batch], device=device)
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device)
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad_id,
                    # axolotl turns the KV cache off in the model config for training;
                    # without it every new token recomputes the whole sequence
                    use_cache=True,
                )
            yield from tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
    finally:
        if was_training:
            model.train()


def generate_answers(
    model,
    tokenizer,
    prompts: Iterable[list[dict]],
    *,
    max_new_tokens: int = 256,
    batch_size: int = 8,
) -> Iterator[str]:
    """Greedy answers to chat prompts (messages up to the user turn), with the chat
    template saved with the tokenizer."""
    ids = [prompt_ids(tokenizer, messages) for messages in prompts]
    return generate_from_ids(model, tokenizer, ids, max_new_tokens=max_new_tokens, batch_size=batch_size)


def generate_file(
    model,
    tokenizer,
    records: list[dict],
    config: PlugConfig,
    output: Path,
    generator: str,
    *,
    max_new_tokens: int = 512,
    batch_size: int = 8,
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output`, append lines, return the metrics of the
    whole file."""
    from tqdm.auto import tqdm

    output.parent.mkdir(parents=True, exist_ok=True)
    done = finished(output)
    todo = [r for r in records if r["id"] not in done]
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress)
    with open(output, "a", encoding="utf-8") as handle:
        for batch in batches(todo, batch_size):
            prompts = [prompt_messages(r["instruction"], r["lang"], config) for r in batch]
            answers = generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
            for record, answer in zip(batch, answers):
                extracted = extract_answer(answer, record["lang"], config)  # languages are scored once, below
                line = {
                    "id": record["id"],
                    "lang": record["lang"],
                    "instruction": record["instruction"],
                    "output": extracted.target,
                    "raw_output": answer,
                    "status": extracted.status,
                    "generator": generator,
                    **{k: record[k] for k in ("dataset", "reference") if record.get(k) is not None},
                }
                handle.write(to_line(line))
            handle.flush()
            bar.update(len(batch))
    bar.close()
    return file_metrics(output, config)


def file_metrics(output: Path, config: PlugConfig) -> dict[str, float]:
    """Recompute the `plug/` metrics from a generate file alone."""
    rows = read_records(output)
    languages = languages_in_play(rows, config)
    scored = [score_answer(r, r["raw_output"], config, languages) for r in rows]
    return metrics_by_language(scored, config.pivot_language, config.mode)
