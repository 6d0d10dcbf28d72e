"""vLLM's own `--reasoning-parser hf` (`ResponseTemplateParser`, vLLM 0.32+) on the
tokenizer folder a real `axolotl train` saved (`make test-vllm` trains it first and
passes it in PLUG_TRAINED_MODEL): vLLM's start-up check of the metadata passes, and
streaming and non-streaming give the target answer as content, the same split, at every
cut; `include_reasoning: false` drops the pivot."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.parser.parser_manager import ParserManager
from vllm.parser.response_template import validate_tokenizer_response_template

from axolotl_plug.serving.settings import read_settings
from tests.helpers.rows import plug_answers

EOT = "</s>"  # vLLM's hf parser asks for special tokens in the text (skip_special_tokens: false)


@pytest.fixture(scope="module")
def trained():
    folder = os.environ.get("PLUG_TRAINED_MODEL")
    if not folder or not (Path(folder) / "tokenizer_config.json").is_file():
        pytest.fail("PLUG_TRAINED_MODEL must name a folder `axolotl train` wrote: run `make test-vllm`")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    settings, _ = read_settings(folder)
    return tokenizer, settings


def parser(tokenizer):
    # what `vllm serve --reasoning-parser hf` builds, with its own start-up check of the metadata
    validate_tokenizer_response_template(tokenizer, reasoning_parser="hf", tool_parser=None)
    return ParserManager.get_parser(reasoning_parser_name="hf", tokenizer=tokenizer)


def request(**extra) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "Say hi."}], **extra)


def prompt_ids(tokenizer) -> list[int]:
    messages = [{"role": "user", "content": "Say hi."}]
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])


def streamed(cls, tokenizer, pieces, **extra) -> tuple[str, str]:
    req, ids = request(**extra), prompt_ids(tokenizer)
    instance = cls(tokenizer, None)
    content, reasoning = [], []
    for i, piece in enumerate(pieces):
        delta = instance.parse_delta(piece, [], req, prompt_token_ids=ids, finished=i == len(pieces) - 1)
        if delta is not None:
            content.append(delta.content or "")
            reasoning.append(delta.reasoning or "")
    return "".join(content), "".join(reasoning)


def test_the_trained_folder_passes_vllms_start_up_check(trained):
    tokenizer, _ = trained
    assert tokenizer.response_template["fields"]["thinking"]["open_pattern"] == "^"
    assert parser(tokenizer) is not None


def test_streaming_and_not_give_the_extracted_target_at_every_cut(trained):
    tokenizer, settings = trained
    cls, rng = parser(tokenizer), random.Random(5)
    for fmt, answer in plug_answers(settings):
        expected = fmt.extract(answer)
        text = answer + EOT
        instance = cls(tokenizer, None)
        instance.set_prompt_token_ids(prompt_ids(tokenizer))
        reasoning, content, _ = instance.parse(text, request())
        assert (content or "") == expected.target, answer
        assert reasoning and fmt.target.response_header not in reasoning and EOT not in reasoning
        for pieces in [list(text), [text]] + [
            [text[a:b] for a, b in zip([0, *p], [*p, len(text)])]
            for p in (sorted(rng.sample(range(1, len(text)), rng.randint(1, 15))) for _ in range(40))
        ]:
            got_content, got_reasoning = streamed(cls, tokenizer, pieces)
            assert got_content == expected.target, (answer, pieces)
            assert got_reasoning == reasoning, (answer, pieces)


def test_include_reasoning_false_drops_the_pivot(trained):
    tokenizer, settings = trained
    cls = parser(tokenizer)
    fmt, answer = plug_answers(settings)[0]
    content, reasoning = streamed(cls, tokenizer, list(answer + EOT), include_reasoning=False)
    assert (content, reasoning) == (fmt.extract(answer).target, "")
