"""`axolotl plug generate --base-url`: answers from a serving engine (any
OpenAI-compatible chat-completions server: vLLM, SGLang, `transformers serve`), with
the prompt training used and the token limit `generate` uses in-process."""

from __future__ import annotations

from pathlib import Path

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.answers import GREEDY, Generated, Sampling, answer_line, file_metrics, unanswered
from axolotl_plug.eval.generation import answer_budget, prompt_ids
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.prompt import prompt_messages
from axolotl_plug.io.client import ChatError
from axolotl_plug.io.runner import append_concurrently


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
    sampling: Sampling = GREEDY,
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output` on an OpenAI-compatible server (the
    `io.client.ChatClient` `client`), `concurrency` requests at a time, greedy (or
    sampled: temperature, top_p and seed sent with each request); append lines as
    answers arrive; return the metrics of the whole file.

    The limit is `max_new_tokens`, or what `sequence_len` leaves after the prompt,
    counted with `tokenizer` (the model's own, with its saved chat template). A reply
    the server cut at the limit (`finish_reason: length`) is marked truncated."""
    from tqdm.auto import tqdm

    answer_budget(0, max_new_tokens, sequence_len)  # a limit is known, or say so before asking
    if max_new_tokens is None and tokenizer is None:
        raise ValueError("give the model's tokenizer to count the prompt against sequence_len")
    todo = unanswered(records, output)

    def answer(record: dict) -> Generated:
        messages = prompt_messages(record["instruction"], record["lang"], config, history=record.get("history", ()))
        prompt_tokens = len(prompt_ids(tokenizer, messages)) if max_new_tokens is None else 0
        limit = answer_budget(prompt_tokens, max_new_tokens, sequence_len)
        if limit < 1:
            return Generated("", True)  # the prompt alone fills sequence_len
        decoding = {"temperature": 0.0} if sampling.greedy else sampling.fields()
        reply = client.complete(messages, max_tokens=limit, **decoding)
        text = reply.text
        if reply.reasoning:  # the engine split the answer itself (the model folder's response_template)
            text = AnswerFormat.from_config(config, record["lang"]).rejoin(reply.reasoning, reply.text)
        return Generated(text, reply.finish_reason == "length")

    bar = tqdm(
        total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress
    )
    line = lambda record, result: ("out", answer_line(record, result, config, generator, extraction, sampling))  # noqa: E731
    failures = append_concurrently(answer, todo, {"out": output}, line, concurrency=concurrency, bar=bar)
    if failures:
        raise ChatError(
            f"{len(failures)} prompts failed and were not written (first: id {failures[0][0]['id']}: {failures[0][1]}); "
            "run the same command again to ask only for those"
        )
    return file_metrics(output, config)
