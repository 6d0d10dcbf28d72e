"""Greedy generation from PLUG prompts, and the answer files `axolotl plug generate`
writes: in this process (batched Hugging Face `generate`, shared with the demo and the
evaluation callback) or on a serving engine (any OpenAI-compatible chat-completions
server: vLLM, SGLang, `transformers serve`).

Both paths send the prompt training used (`prompt_messages`, the chat template saved
with the model), decode greedily and, by default, allow what the config's
`sequence_len` leaves after the prompt. An answer file follows alpaca_eval's outputs
convention (`instruction`, `output`, `generator`) and is what `axolotl plug judge`
reads. Lines are appended as answers finish, so an interrupted run resumes where it
stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..args import PlugConfig
from ..dataset.layout import prompt_messages
from ..extract import reference_target
from ..records import finished, read_records, to_line
from .metrics import extract_answer, languages_in_play, metrics_by_language, score_answer

EXTRACTIONS = ("ours", "paper")


@dataclass(frozen=True)
class Generated:
    text: str
    truncated: bool  # stopped by the token limit, not by the model


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
    raise ValueError("no token limit for the answers: pass --max-new-tokens, or a config (or model folder with "
                     "plug.json) that has sequence_len")


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prompt_ids(tokenizer, messages: list[dict], chat_template: str | None = None) -> list[int]:
    """Token ids of a chat prompt ending with the assistant turn's opening."""
    text = tokenizer.apply_chat_template(messages, chat_template=chat_template, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def generate_from_ids(
    model,
    tokenizer,
    prompts: Sequence[list[int]],
    *,
    max_new_tokens: int | None = 256,
    sequence_len: int | None = None,
    batch_size: int = 8,
) -> Iterator[Generated]:
    """Greedy answers to tokenized prompts, left-padded batches, in prompt order.

    Each batch may add `max_new_tokens`, or when that is None what `sequence_len`
    leaves after its longest prompt. Puts the model back in training mode afterwards
    if it was in it."""
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
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    max_new_tokens=budget,
                    do_sample=False,
                    pad_token_id=pad_id,
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


def generate_answers(
    model,
    tokenizer,
    prompts: Iterable[list[dict]],
    *,
    max_new_tokens: int | None = 256,
    sequence_len: int | None = None,
    batch_size: int = 8,
) -> Iterator[Generated]:
    """Greedy answers to chat prompts (messages up to the user turn), with the chat
    template saved with the tokenizer."""
    ids = [prompt_ids(tokenizer, messages) for messages in prompts]
    return generate_from_ids(
        model, tokenizer, ids, max_new_tokens=max_new_tokens, sequence_len=sequence_len, batch_size=batch_size
    )


def answer_line(record: dict, answer: Generated, config: PlugConfig, generator: str, extraction: str = "ours") -> dict:
    """One line of an answer file. `output` is the extracted target answer: by our rule
    (`extract`) or the reference's (`reference_target`); `status` is always ours."""
    extracted = extract_answer(answer.text, record["lang"], config)  # languages are scored once, from the file
    target = extracted.target
    if extraction == "paper" and config.mode == "plug":
        target = reference_target(answer.text, record["lang"], config.header_overrides(), config.order, config.pivot_language)
    return {
        "id": record["id"],
        "lang": record["lang"],
        "instruction": record["instruction"],
        "output": target,
        "raw_output": answer.text,
        "status": extracted.status,
        "truncated": answer.truncated,
        "extraction": extraction,
        "generator": generator,
        **{k: record[k] for k in ("dataset", "reference") if record.get(k) is not None},
    }


def _todo(records: list[dict], output: Path) -> list[dict]:
    output.parent.mkdir(parents=True, exist_ok=True)
    # an answer line has its raw output: a file without one is not ours to resume
    done = finished(output, key=lambda row: (row["raw_output"], str(row["id"]))[1])
    return [r for r in records if str(r["id"]) not in done]


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
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output` in this process, append lines, return
    the metrics of the whole file. Prompts of similar length share a batch."""
    from tqdm.auto import tqdm

    todo = _todo(records, output)
    prompts = {id(r): prompt_ids(tokenizer, prompt_messages(r["instruction"], r["lang"], config)) for r in todo}
    todo.sort(key=lambda r: len(prompts[id(r)]))
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress)
    with open(output, "a", encoding="utf-8") as handle:
        for batch in batches(todo, batch_size):
            answers = generate_from_ids(
                model, tokenizer, [prompts[id(r)] for r in batch],
                max_new_tokens=max_new_tokens, sequence_len=sequence_len, batch_size=batch_size,
            )
            for record, answer in zip(batch, answers):
                handle.write(to_line(answer_line(record, answer, config, generator, extraction)))
            handle.flush()
            bar.update(len(batch))
    bar.close()
    return file_metrics(output, config)


def generate_served(
    client,
    records: list[dict],
    config: PlugConfig,
    output: Path,
    generator: str,
    *,
    tokenizer=None,
    max_new_tokens: int | None = None,
    sequence_len: int | None = None,
    concurrency: int = 16,
    extraction: str = "ours",
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output` on an OpenAI-compatible server (the
    `llm_client.ChatClient` `client`), `concurrency` requests at a time, greedy; append
    lines as answers arrive; return the metrics of the whole file.

    The limit is `max_new_tokens`, or what `sequence_len` leaves after the prompt,
    counted with `tokenizer` (the model's own, with its saved chat template). A reply
    the server cut at the limit (`finish_reason: length`) is marked truncated."""
    from tqdm.auto import tqdm

    from ..ask import append_concurrently
    from ..llm_client import ChatError

    answer_budget(0, max_new_tokens, sequence_len)  # a limit is known, or say so before asking
    if max_new_tokens is None and tokenizer is None:
        raise ValueError("give the model's tokenizer to count the prompt against sequence_len")
    todo = _todo(records, output)

    def answer(record: dict) -> Generated:
        messages = prompt_messages(record["instruction"], record["lang"], config)
        prompt_tokens = len(prompt_ids(tokenizer, messages)) if max_new_tokens is None else 0
        limit = answer_budget(prompt_tokens, max_new_tokens, sequence_len)
        if limit < 1:
            return Generated("", True)  # the prompt alone fills sequence_len
        reply = client.complete(messages, temperature=0.0, max_tokens=limit)
        return Generated(reply.text, reply.finish_reason == "length")

    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress)
    line = lambda record, result: ("out", answer_line(record, result, config, generator, extraction))  # noqa: E731
    failures = append_concurrently(answer, todo, {"out": output}, line, concurrency=concurrency, bar=bar)
    if failures:
        raise ChatError(
            f"{len(failures)} prompts failed and were not written (first: id {failures[0][0]['id']}: {failures[0][1]}); "
            "run the same command again to ask only for those"
        )
    return file_metrics(output, config)


def file_metrics(output: Path, config: PlugConfig) -> dict[str, float]:
    """Recompute the `plug/` metrics from a generate file alone."""
    rows = read_records(output)
    languages = languages_in_play(rows, config)
    scored = [score_answer(r, r["raw_output"], config, languages) for r in rows]
    return metrics_by_language(scored, config.pivot_language, config.mode)


def file_counts(output: Path) -> dict[str, int]:
    """How many answers a file holds, how many the token limit cut, and how many have
    no target answer (status missing_target, or an empty output)."""
    rows = read_records(output)
    return {
        "answers": len(rows),
        "truncated": sum(bool(r.get("truncated")) for r in rows),
        "no_target_answer": sum(r.get("status") == "missing_target" or not r.get("output") for r in rows),
    }
