"""SGLang's own `--reasoning-parser response_template` (SGLang 0.5.23, its own venv:
`make test-sglang`) on the tokenizer folder a real `axolotl train` saved
(PLUG_TRAINED_MODEL): streaming and not give the target answer as content and the same
split, at every cut. It runs on CPU; no `sglang.launch_server` was started."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sglang.srt.parser.reasoning_parser import ReasoningParser

from axolotl_plug.serving.settings import read_settings
from tests.helpers.rows import plug_answers

EOT = "</s>"


@pytest.fixture(scope="module")
def trained():
    folder = os.environ.get("PLUG_TRAINED_MODEL")
    if not folder or not (Path(folder) / "tokenizer_config.json").is_file():
        pytest.fail("PLUG_TRAINED_MODEL must name a folder `axolotl train` wrote: run `make test-sglang`")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    prefix = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hi."}], tokenize=False, add_generation_prompt=True
    )
    return tokenizer, prefix, read_settings(folder)[0]


def parser(tokenizer, prefix) -> ReasoningParser:
    return ReasoningParser(model_type="response_template", tokenizer=tokenizer, prefix=prefix)


def test_streaming_and_not_give_the_extracted_target_at_every_cut(trained):
    tokenizer, prefix, settings = trained
    rng = random.Random(11)
    for fmt, answer in plug_answers(settings):
        expected, text = fmt.extract(answer), answer + EOT
        reasoning, content = parser(tokenizer, prefix).parse_non_stream(text)
        assert (content or "") == expected.target, answer
        assert reasoning and fmt.target.response_header not in reasoning and EOT not in reasoning
        for pieces in [list(text), [text]] + [
            [text[a:b] for a, b in zip([0, *p], [*p, len(text)])]
            for p in (sorted(rng.sample(range(1, len(text)), rng.randint(1, 15))) for _ in range(40))
        ]:
            stream = parser(tokenizer, prefix)
            got = [stream.parse_stream_chunk(piece) for piece in pieces]
            assert "".join(c or "" for _, c in got) == expected.target, (answer, pieces)
            assert "".join(r or "" for r, _ in got) == reasoning, (answer, pieces)
