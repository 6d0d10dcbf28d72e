"""A model trained with the pivot in Qwen3's thinking channel (`make test-vllm` trains it
with the real `axolotl train` and passes it in PLUG_REASONING_MODEL), read by vLLM's own
`qwen3` and `deepseek_r1` reasoning parsers and by its `hf` parser with the folder's
response_template: the pivot sections come out as reasoning, `extract`'s target as content,
whole and streamed at every cut."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.parser.parser_manager import ParserManager

from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.serving.settings import read_settings

PIVOT = "English instruction:\nWrite a greeting.\n\nEnglish response:\nHello, welcome!"
TARGET = "你好，欢迎！\n我们很高兴见到你。"
OUTPUT = f"<think>\n{PIVOT}\n</think>\n\n{TARGET}"  # what the model is trained to write after the prompt
EOT = "<|im_end|>"


@pytest.fixture(scope="module")
def trained():
    folder = os.environ.get("PLUG_REASONING_MODEL")
    if not folder or not (Path(folder) / "plug.json").is_file():
        pytest.fail("PLUG_REASONING_MODEL must name a folder `axolotl train` wrote: run `make test-vllm`")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder), read_settings(folder)[0]


def request(**extra) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "打个招呼。"}], **extra)


def prompt_ids(tokenizer) -> list[int]:
    messages = [{"role": "user", "content": "打个招呼。"}]
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])


def token_pieces(tokenizer, text: str, rng: random.Random | None) -> list[tuple[str, list[int]]]:
    """The text as vLLM streams it: runs of tokens (one each without `rng`), each with its
    ids, cut only where the decoded text is whole characters."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    clean = [k for k in range(1, len(ids)) if text.startswith(tokenizer.decode(ids[:k]))]
    points = clean if rng is None else sorted(rng.sample(clean, min(len(clean), rng.randint(1, 12))))
    bounds = [0, *points, len(ids)]
    return [(tokenizer.decode(ids[:b])[len(tokenizer.decode(ids[:a])) :], ids[a:b]) for a, b in zip(bounds, bounds[1:])]


def streamed(cls, tokenizer, pieces) -> tuple[str, str]:
    req, ids = request(), prompt_ids(tokenizer)
    instance = cls(tokenizer, None)
    content, reasoning = [], []
    for i, (piece, piece_ids) in enumerate(pieces):
        delta = instance.parse_delta(piece, piece_ids, req, prompt_token_ids=ids, finished=i == len(pieces) - 1)
        if delta is not None:
            content.append(delta.content or "")
            reasoning.append(delta.reasoning or "")
    return "".join(content), "".join(reasoning)


def test_training_recorded_the_channel_and_qwen3s_markers(trained):
    tokenizer, settings = trained
    assert (settings.pivot_channel, settings.thinking_markers) == ("reasoning", ["<think>", "</think>"])
    assert [len(tokenizer.encode(m, add_special_tokens=False)) for m in ("<think>", "</think>")] == [1, 1]
    assert AnswerFormat.from_config(settings, "zh").extract(OUTPUT).target == TARGET


@pytest.mark.parametrize("name", ["qwen3", "deepseek_r1", "hf"])
def test_vllms_own_parsers_split_pivot_and_target_at_every_cut(trained, name):
    tokenizer, settings = trained
    expected = AnswerFormat.from_config(settings, "zh").extract(OUTPUT)
    cls, rng = ParserManager.get_parser(reasoning_parser_name=name, tokenizer=tokenizer), random.Random(11)
    # vLLM hands the qwen3 and deepseek_r1 parsers the text without the stop token; the hf parser
    # asks for special tokens in the text (skip_special_tokens: false) and closes at them
    text = OUTPUT + EOT if name == "hf" else OUTPUT
    instance = cls(tokenizer, None)
    instance.set_prompt_token_ids(prompt_ids(tokenizer))
    reasoning, content, _ = instance.parse(text, request())
    assert (reasoning.strip(), (content or "").strip()) == (PIVOT, expected.target)
    whole = [(text, tokenizer.encode(text, add_special_tokens=False))]
    runs = [token_pieces(tokenizer, text, rng) for _ in range(30)]
    if name == "deepseek_r1":  # it finds <think> only in a delta of its own, as vLLM sends one token a step
        opening = tokenizer.convert_tokens_to_ids("<think>")
        runs = [r for r in runs if all(ids == [opening] or opening not in ids for _, ids in r)]
    for pieces in [token_pieces(tokenizer, text, None), whole, *runs]:
        got_content, got_reasoning = streamed(cls, tokenizer, pieces)
        assert (got_reasoning.strip(), got_content.strip()) == (PIVOT, expected.target), pieces
