"""Batched greedy generation from PLUG prompts, shared by the demo, the evaluation
callback and `axolotl plug generate`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Sequence


def load_for_generation(model_dir: str | Path, base_model: str | Path | None = None):
    """(model, tokenizer) from a trained output folder: a full model, or a LoRA
    adapter on top of `base_model` (read from adapter_config.json when not given)."""
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    adapter_config = model_dir / "adapter_config.json"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if adapter_config.is_file():
        from peft import PeftModel

        base = base_model or json.loads(adapter_config.read_text())["base_model_name_or_path"]
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), model_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.eval()
    return model, tokenizer


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate_answers(
    model,
    tokenizer,
    prompts: Iterable[list[dict]],
    *,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    chat_template: str | None = None,
) -> Iterator[str]:
    """Greedy answers to chat prompts (messages up to the user turn), one batch at a
    time, left-padded. Yields answers in prompt order. Restores the model's mode."""
    import torch

    was_training = model.training
    model.eval()
    padding_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    try:
        for batch in batches(list(prompts), batch_size):
            texts = [
                tokenizer.apply_chat_template(
                    messages, chat_template=chat_template, tokenize=False, add_generation_prompt=True
                )
                for messages in batch
            ]
            inputs = tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in inputs.items()}
            with torch.no_grad():
                output = model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id
                )
            new_tokens = output[:, inputs["input_ids"].shape[1] :]
            yield from tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    finally:
        tokenizer.padding_side = padding_side
        if was_training:
            model.train()
