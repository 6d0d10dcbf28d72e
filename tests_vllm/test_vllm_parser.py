"""The vLLM reasoning parser against vLLM's own classes (`make test-vllm`, its own venv:
vLLM pins its own torch). No GPU: vLLM's parser registry, its request model and the
delta loop its chat server runs (`Parser.parse_delta`) all work on CPU."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.parser.parser_manager import ParserManager
from vllm.reasoning import ReasoningParser, ReasoningParserManager

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import extract
from axolotl_plug.serving.settings import write_settings

ANSWER = (
    "English instruction:\nWrite a greeting.\n\nEnglish response:\nHello, welcome!\n\n"
    "中文回复：\n你好，欢迎！\n我们很高兴见到你。\n"
)
PIVOT = ANSWER[: ANSWER.index("中文回复")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.helpers.models import build_tiny_tokenizer

    folder = tmp_path_factory.mktemp("plug-model")
    build_tiny_tokenizer(folder)
    write_settings(folder, PlugConfig(target_language="zh"), 512)
    return folder


@pytest.fixture(scope="module")
def parser_cls(model_dir):
    """Loaded the way `vllm serve --reasoning-parser-plugin PATH --reasoning-parser plug` does."""
    from transformers import AutoTokenizer

    path = subprocess.run(
        [sys.executable, "-m", "axolotl_plug.serving.vllm_plugin_path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    ReasoningParserManager.import_reasoning_parser(path)
    assert issubclass(ReasoningParserManager.get_reasoning_parser("plug"), ReasoningParser)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # with a tokenizer, vLLM builds the parser once at start-up to check it
    return ParserManager.get_parser(reasoning_parser_name="plug", tokenizer=tokenizer), tokenizer


def run_stream(parser_cls, tokenizer, pieces, **request_extra):
    request = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "q"}], **request_extra)
    parser = parser_cls(tokenizer, None, chat_template_kwargs=request.chat_template_kwargs or {})
    content, reasoning = [], []
    for i, piece in enumerate(pieces):
        delta = parser.parse_delta(piece, [], request, finished=i == len(pieces) - 1)
        if delta is not None:
            content.append(delta.content or "")
            reasoning.append(delta.reasoning or "")
    return "".join(content), "".join(reasoning)


def cuts(text: str, rng: random.Random) -> list[str]:
    points = sorted(rng.sample(range(1, len(text)), rng.randint(1, len(text) // 2)))
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)])]


def test_streamed_content_is_the_extracted_target(parser_cls):
    cls, tokenizer = parser_cls
    target = extract(ANSWER, "zh").target
    for pieces in [list(ANSWER), [ANSWER], *(cuts(ANSWER, random.Random(seed)) for seed in range(200))]:
        content, reasoning = run_stream(cls, tokenizer, pieces)
        assert content == target
        assert reasoning == PIVOT  # the trailing newline after the target is neither


def test_the_header_never_leaks_and_a_tail_waits_for_the_end(parser_cls):
    cls, tokenizer = parser_cls
    text = "English response:\nHi.\n\n中文回复：\n你好 English"  # ends like the start of a header
    content, _ = run_stream(cls, tokenizer, list(text))
    assert content == extract(text, "zh").target == "你好 English"


def test_non_streaming_and_include_reasoning(parser_cls):
    cls, tokenizer = parser_cls
    request = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "q"}])
    reasoning, content, _ = cls(tokenizer, None).parse(ANSWER, request)
    assert (reasoning, content) == (PIVOT, extract(ANSWER, "zh").target)
    assert cls(tokenizer, None).parse("English response:\nno target", request)[1] is None
    content, reasoning = run_stream(cls, tokenizer, list(ANSWER), include_reasoning=False)
    assert content == extract(ANSWER, "zh").target and reasoning == ""


def test_per_row_model_takes_the_language_from_the_request(tmp_path, model_dir, monkeypatch):
    from transformers import AutoTokenizer

    write_settings(tmp_path, PlugConfig(), 512)  # trained on rows of several languages
    monkeypatch.setenv("AXOLOTL_PLUG_MODEL_DIR", str(tmp_path))
    cls = ParserManager.get_parser(reasoning_parser_name="plug")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    korean = "English response:\nHi.\n\n한국어 응답:\n안녕하세요."
    content, _ = run_stream(cls, tokenizer, list(korean), chat_template_kwargs={"plug_target_language": "ko"})
    assert content == "안녕하세요."
    with pytest.raises(ValueError, match="plug_target_language"):
        run_stream(cls, tokenizer, list(korean))
