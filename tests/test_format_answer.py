"""Extraction statuses and the language table."""

from __future__ import annotations

import pytest

from axolotl_plug import LANGUAGES, extract, get_language
from axolotl_plug.format.sections import MISSING_PIVOT, MISSING_TARGET, OK, TARGET_FIRST

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
