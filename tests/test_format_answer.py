"""Extraction statuses and the language table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from axolotl_plug import LANGUAGES, extract, get_language
from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.sections import MISSING_PIVOT, MISSING_TARGET, OK, TARGET_FIRST, Extraction

GOOD = (
    "English instruction:\nDescribe Paris.\n\nEnglish response:\nParis is the capital of France."
    "\n\n中文回复：\n巴黎是法国的首都。"
)


def test_well_formed_answer():
    got = extract(GOOD, "zh")
    assert (got.status, got.target, got.pivot, got.pivot_instruction) == (
        OK,
        "巴黎是法国的首都。",
        "Paris is the capital of France.",
        "Describe Paris.",
    )


@pytest.mark.parametrize(
    "text, status, target",
    [
        ("English response: Paris.\n中文回复: 巴黎。", OK, "巴黎。"),  # ASCII colon
        ("English response : Paris.\n中文回复 ：  巴黎。  ", OK, "巴黎。"),  # stray spaces
        ("English response:\nParis.\n中文回复：\n中文回复：巴黎。", OK, "巴黎。"),  # repeated target header
        ("English response: A\n中文回复：甲\nEnglish response: B", OK, "甲"),  # repeated pivot cut off
        ("English response: Paris is the capital.", MISSING_TARGET, ""),
        ("巴黎是法国的首都。", MISSING_TARGET, ""),
        ("中文回复：巴黎。", MISSING_PIVOT, "巴黎。"),
        ("English instruction: x\n中文回复：巴黎。\nEnglish response: Paris.", TARGET_FIRST, "巴黎。"),
        ("", MISSING_TARGET, ""),
    ],
)
def test_statuses(text, status, target):
    got = extract(text, "zh")
    assert (got.status, got.target) == (status, target)


def test_paper_headers_exact_and_other_pivots():
    assert [LANGUAGES[c].response_header for c in ("en", "zh", "ko", "it", "es")] == [
        "English response:",
        "中文回复：",
        "한국어 응답:",
        "Risposta in italiano:",
        "Respuesta en español:",
    ]
    text = "Antwort auf Deutsch: Hallo.\n\nRisposta in italiano: Ciao."
    assert extract(text, "it", pivot_language="de").target == "Ciao."
    assert extract("Réponse en français: oui\nRespuesta en español: sí", "es", "fr").status == OK


def test_header_overrides():
    got = extract("English response: yes\n答：是。", "zh", headers={"zh": {"response": "答："}})
    assert (got.status, got.target) == (OK, "是。")


def test_table_covers_required_languages():
    required = "en zh ko it es de fr ja ru pt ar hi vi th id tr sw bn".split()
    assert set(required) <= set(LANGUAGES) and len(LANGUAGES) >= 25
    for lang in LANGUAGES.values():
        assert lang.name and lang.native and lang.instruction_header and lang.response_header
    headers = [h for lang in LANGUAGES.values() for h in (lang.instruction_header, lang.response_header)]
    assert len(set(headers)) == len(headers)


def test_unknown_code_lists_known_codes():
    with pytest.raises(ValueError, match=r"unknown language code 'xx': known codes are ar, bn, cs"):
        get_language("xx")


REASONING = AnswerFormat.of("zh", channel="reasoning")
THOUGHT = "English instruction:\nSay hello.\n\nEnglish response:\nHello!"


@pytest.mark.parametrize(
    "text, status, target, pivot",
    [
        (f"<think>\n{THOUGHT}\n</think>\n\n你好！", OK, "你好！", "Hello!"),
        (f"{THOUGHT}\n</think>\n\n你好！", OK, "你好！", "Hello!"),  # the generation prompt opened the thinking
        (f"<think>\n{THOUGHT}\n</think>\n\n", MISSING_TARGET, "", "Hello!"),
        (f"<think>\n{THOUGHT}", MISSING_TARGET, "", "Hello!"),  # cut before the thinking closed
        ("<think>\nEnglish instruction:\nSay hello.\n</think>\n你好！", MISSING_PIVOT, "你好！", ""),
        # a header in the answer is text of the answer: the channel marks it
        (f"<think>\n{THOUGHT}\n</think>\n中文回复：你好！", OK, "中文回复：你好！", "Hello!"),
    ],
)
def test_reasoning_channel_answer_is_what_follows_the_thinking(text, status, target, pivot):
    got = REASONING.extract(text)
    assert (got.status, got.target, got.pivot) == (status, target, pivot)
    assert REASONING.reference_target(text) == target


def test_reasoning_channel_reads_the_templates_own_markers_and_split_replies():
    harmony = replace(
        REASONING, thinking=("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>")
    )
    text = f"<|channel|>analysis<|message|>{THOUGHT}<|end|><|start|>assistant<|channel|>final<|message|>你好！"
    assert harmony.extract(text) == Extraction("你好！", "Hello!", "Say hello.", OK)
    # an engine that split the reply itself (reasoning_content + content) is read as is
    assert REASONING.extract(REASONING.rejoin(THOUGHT, "你好！")) == Extraction("你好！", "Hello!", "Say hello.", OK)
    # an engine started without a reasoning parser sends it all as content
    assert REASONING.rejoin("", f"<think>\n{THOUGHT}\n</think>\n\n你好！") == f"<think>\n{THOUGHT}\n</think>\n\n你好！"
    assert AnswerFormat.from_config(
        PlugConfig(pivot_channel="reasoning", thinking_markers=["<t>", "</t>"]), "zh"
    ).thinking == ("<t>", "</t>")
