"""Generation from PLUG prompts in this process (greedy, or sampled for preference data): loading a trained model (full
or LoRA), batched Hugging Face `generate` (shared with the demo, the evaluation
callback and `plug chat`), and `axolotl plug generate`'s in-process answer files.

The prompt is the one training used (`prompt_messages`, the chat template saved with the
model); an answer may take `max_new_tokens`, else what the config's `sequence_len`
leaves after the prompt (`answer_budget`, which `generate --base-url` and `plug chat`
use too). Answers on a serving engine: eval/served.py; the file format: eval/answers.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.answers import GREEDY, Generated, Sampling, answer_line, file_metrics, unanswered
from axolotl_plug.format.prompt import prompt_messages
from axolotl_plug.io.records import LineFile


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


def answer_budget(prompt_tokens: int, max_new_tokens: int | None, sequence_len: int | None) -> int:
    """The tokens an answer may take: `max_new_tokens`, else what `sequence_len` leaves
    after the prompt (0 or less: the prompt alone fills it, and nothing is generated).
    Raises ValueError when neither is known: an answer with no limit is never guessed."""
    if max_new_tokens is not None:
        return max_new_tokens
    if sequence_len:
        return sequence_len - prompt_tokens
    raise ValueError(
        "no token limit for the answers: pass --max-new-tokens, or a config (or model folder with "
        "plug.json) that has sequence_len"
    )


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prompt_ids(tokenizer, messages: list[dict], chat_template: str | None = None) -> list[int]:
    """Token ids of a chat prompt ending with the assistant turn's opening."""
    text = tokenizer.apply_chat_template(
        messages, chat_template=chat_template, tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def generate_from_ids(
    model,
    tokenizer,
    prompts: Sequence[list[int]],
    *,
    max_new_tokens: int | None = 256,
    sequence_len: int | None = None,
    batch_size: int = 8,
    sampling: Sampling = GREEDY,
) -> Iterator[Generated]:
    """Answers to tokenized prompts, left-padded batches, in prompt order: greedy, or
    sampled (each batch seeded from `sampling.seed` and its prompts, so a batch draws the
    same answers whatever ran before it).

    Each batch may add `max_new_tokens`, or when that is None what `sequence_len`
    leaves after its longest prompt. Puts the model back in training mode afterwards
    if it was in it."""
    import zlib

    import torch

    was_training = model.training
    model.eval()
    pad_id = pad_token_id(tokenizer)
    stop_ids = _stop_ids(model, tokenizer)
    device = next(model.parameters()).device
    try:
        for batch in batches(list(prompts), batch_size):
            width = max(len(ids) for ids in batch)
            budget = answer_budget(width, max_new_tokens, sequence_len)
            if budget < 1:
                yield from (Generated("", True) for _ in batch)  # the prompt alone fills sequence_len
                continue
            input_ids = torch.tensor([[pad_id] * (width - len(ids)) + list(ids) for ids in batch], device=device)
            attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch], device=device)
            decoding = {"do_sample": False}
            if not sampling.greedy:
                decoding = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
                torch.manual_seed(zlib.crc32(repr((sampling.seed, [list(ids) for ids in batch])).encode()))
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    max_new_tokens=budget,
                    pad_token_id=pad_id,
                    **decoding,
                    # axolotl turns the KV cache off in the model config for training;
                    # without it every new token recomputes the whole sequence
                    use_cache=True,
                )
            new = output[:, width:].tolist()
            for ids, text in zip(new, tokenizer.batch_decode(new, skip_special_tokens=True)):
                yield Generated(text, not stop_ids.intersection(ids))
    finally:
        if was_training:
            model.train()


def pad_token_id(tokenizer) -> int:
    """The id generation pads with: the tokenizer's pad token, else its EOS."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _stop_ids(model, tokenizer) -> set[int]:
    """The ids that end an answer: the generation config's EOS ids and the tokenizer's."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(configured if isinstance(configured, (list, tuple)) else [configured])
    return {i for i in ids | {tokenizer.eos_token_id} if i is not None}


def generate_file(
    model,
    tokenizer,
    records: list[dict],
    config: PlugConfig,
    output: Path,
    generator: str,
    *,
    max_new_tokens: int | None = None,
    sequence_len: int | None = None,
    batch_size: int = 8,
    extraction: str = "ours",
    sampling: Sampling = GREEDY,
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output` in this process, append lines, return
    the metrics of the whole file. Prompts of similar length share a batch."""
    from tqdm.auto import tqdm

    todo = unanswered(records, output)
    prompts = {
        id(r): prompt_ids(tokenizer, prompt_messages(r["instruction"], r["lang"], config, history=r.get("history", ())))
        for r in todo
    }
    todo.sort(key=lambda r: len(prompts[id(r)]))
    bar = tqdm(
        total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress
    )
    with LineFile(output) as handle:
        for batch in batches(todo, batch_size):
            answers = generate_from_ids(
                model,
                tokenizer,
                [prompts[id(r)] for r in batch],
                max_new_tokens=max_new_tokens,
                sequence_len=sequence_len,
                batch_size=batch_size,
                sampling=sampling,
            )
            for record, answer in zip(batch, answers):
                handle.append(answer_line(record, answer, config, generator, extraction, sampling))
            bar.update(len(batch))
    bar.close()
    return file_metrics(output, config)
