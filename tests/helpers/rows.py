"""Rows that read like real PLUG data, and writing them."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_TRAIN = REPO / "example_configs" / "data" / "demo_train.jsonl"


# Rows that read like real PLUG data, in four target languages.
ROWS = [
    {
        "lang": "zh",
        "instruction": "用一句话介绍巴黎。",
        "response": "巴黎是法国的首都，以埃菲尔铁塔闻名。",
        "pivot_instruction": "Describe Paris in one sentence.",
        "pivot_response": "Paris is the capital of France, famous for the Eiffel Tower.",
    },
    {
        "lang": "ko",
        "instruction": "물을 절약하는 방법 두 가지를 알려주세요.",
        "response": "샤워 시간을 줄이고, 양치할 때 수도꼭지를 잠그세요.",
        "pivot_instruction": "Give me two ways to save water.",
        "pivot_response": "Take shorter showers, and turn off the tap while brushing your teeth.",
    },
    {
        "lang": "it",
        "instruction": "Qual è il pianeta più grande del sistema solare?",
        "response": "Il pianeta più grande del sistema solare è Giove.",
        "pivot_instruction": "What is the largest planet in the solar system?",
        "pivot_response": "The largest planet in the solar system is Jupiter.",
    },
    {
        "lang": "es",
        "instruction": "Escribe un saludo corto para un cliente nuevo.",
        "response": "¡Bienvenido! Nos alegra mucho tenerte con nosotros.",
        "pivot_instruction": "Write a short greeting for a new customer.",
        "pivot_response": "Welcome! We are very happy to have you with us.",
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


EN_ZH = [
    (
        "Describe Paris in one sentence.",
        "Paris is the capital of France, famous for the Eiffel Tower.",
        "用一句话介绍巴黎。",
        "巴黎是法国的首都，以埃菲尔铁塔闻名。",
    ),
    (
        "Name three primary colors.",
        "The three primary colors are red, blue and yellow.",
        "说出三种原色。",
        "三种原色是红色、蓝色和黄色。",
    ),
    (
        "Why is the sky blue?",
        "Air scatters blue light more than other colors, so the sky looks blue.",
        "天空为什么是蓝色的？",
        "空气散射蓝光比散射其他颜色的光更多，所以天空看起来是蓝色的。",
    ),
    ("What do bees make?", "Bees make honey and wax.", "蜜蜂会制造什么？", "蜜蜂会制造蜂蜜和蜂蜡。"),
    ("How many days are in a week?", "There are seven days in a week.", "一周有几天？", "一周有七天。"),
    ("What is the tallest animal?", "The giraffe is the tallest animal.", "最高的动物是什么？", "长颈鹿是最高的动物。"),
    (
        "Give one tip for sleeping better.",
        "Go to bed at the same time every night.",
        "给出一个改善睡眠的建议。",
        "每天晚上在同一时间上床睡觉。",
    ),
    ("Name a yellow fruit.", "A banana is a yellow fruit.", "说出一种黄色的水果。", "香蕉是一种黄色的水果。"),
]


def pivot_rows():
    return [{"id": f"r{i}", "instruction": en_i, "response": en_r} for i, (en_i, en_r, _, _) in enumerate(EN_ZH)]


def target_rows():
    return [{"id": f"r{i}", "instruction": zh_i, "response": zh_r} for i, (_, _, zh_i, zh_r) in enumerate(EN_ZH)]


def plug_answers(settings) -> list[tuple]:
    """(AnswerFormat, answer) pairs in six languages, for the engines' own parsers: a whole
    answer, one with a varied target header, and one without a target section."""
    from axolotl_plug.format.answer import AnswerFormat

    out = []
    for code in ("zh", "ko", "it", "es", "ja", "ar"):
        fmt = AnswerFormat.from_config(settings, code)
        pivot, target = fmt.pivot, fmt.target
        out += [
            (
                fmt,
                f"{pivot.instruction_header}\nSay hi.\n\n{pivot.response_header}\nHi!\n\n{target.response_header}\nOne.\nTwo.",
            ),
            (fmt, f"{pivot.response_header}\nHi!\n\n{target.response_header.rstrip(':：')} :\n{target.name} text."),
            (fmt, f"{pivot.response_header}\nHi!\n\nNo target here."),
        ]
    return out
