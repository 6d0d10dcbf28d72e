"""What carries loss, read back by decoding the trained tokens of axolotl's own pipeline."""

from __future__ import annotations

import pytest

from tests.helpers.models import cpu_config, tokenize_with_axolotl, trained_runs
from tests.helpers.rows import ROWS, write_jsonl

HEADERS = {
    "en": ("English instruction:", "English response:"),
    "zh": (None, "中文回复："),
    "ko": (None, "한국어 응답:"),
    "it": (None, "Risposta in italiano:"),
    "es": (None, "Respuesta en español:"),
}
NAMES = {"zh": "Chinese", "ko": "Korean", "it": "Italian", "es": "Spanish"}


def plug_answer(row: dict) -> str:
    return (
        f"English instruction:\n{row['pivot_instruction']}\n\n"
        f"English response:\n{row['pivot_response']}\n\n"
        f"{HEADERS[row['lang']][1]}\n{row['response']}"
    )


def by_instruction(dataset, tokenizer) -> dict[str, dict]:
    """Tokenized rows keyed by the user instruction found in their decoded text."""
    found = {}
    for row in dataset:
        text = tokenizer.decode(row["input_ids"])
        (match,) = [r for r in ROWS if r["instruction"] in text]
        found[match["instruction"]] = {**row, "text": text}
    assert len(found) == len(ROWS)
    return found


@pytest.fixture()
def data(tmp_path):
    return write_jsonl(tmp_path / "plug_rows.jsonl", ROWS)


def test_paper_format_exact_text_and_masking(tiny_model_dir, tmp_path, data):
    raw = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = by_instruction(dataset, tokenizer)
    for row in ROWS:
        got = rows[row["instruction"]]
        system = (
            "Please interpret the instruction in English, and then respond both in English "
            f"and in {NAMES[row['lang']]}."
        )
        assert got["text"] == (
            f"<s><|system|>\n{system}\n<|user|>\n{row['instruction']}\n<|assistant|>\n{plug_answer(row)}</s>"
        )
        assert got["input_ids"][0] == tokenizer.bos_token_id
        assert trained_runs(got, tokenizer) == [plug_answer(row) + "</s>"]


@pytest.mark.parametrize(
    "template, extra, end_of_turn",
    [
        ("chatml", {"eot_tokens": ["<|im_end|>"]}, "<|im_end|>"),
        ("llama3", {"eot_tokens": ["<|eot_id|>"]}, "<|eot_id|>"),
        ("tokenizer_default", {}, "</s>"),  # the tokenizer's own (Zephyr) template
    ],
)
def test_chat_templates_train_answer_and_end_of_turn_only(tiny_model_dir, tmp_path, data, template, extra, end_of_turn):
    raw = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh"}, chat_template=template, **extra)
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = by_instruction(dataset, tokenizer)
    for row in ROWS:
        got = rows[row["instruction"]]
        assert trained_runs(got, tokenizer) == [plug_answer(row) + end_of_turn]
        # the user's instruction and the system prompt are in the input, untrained
        assert row["instruction"] in got["text"] and "Please interpret" in got["text"]


def test_pivot_masking_ablation_trains_target_section_only(tiny_model_dir, tmp_path, data):
    raw = cpu_config(
        tiny_model_dir,
        tmp_path,
        data,
        {"target_language": "zh", "train_on_pivot": False},
        chat_template="chatml",
        eot_tokens=["<|im_end|>"],
    )
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = by_instruction(dataset, tokenizer)
    for row in ROWS:
        got = rows[row["instruction"]]
        assert plug_answer(row) in got["text"]  # the pivot sections are still in the input
        assert trained_runs(got, tokenizer) == [f"{HEADERS[row['lang']][1]}\n{row['response']}<|im_end|>"]


def test_monolingual_baseline_same_rows_target_only(tiny_model_dir, tmp_path, data):
    raw = cpu_config(
        tiny_model_dir, tmp_path, data, {"target_language": "zh", "mode": "monolingual", "chat_template": "plug_tulu"}
    )
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = by_instruction(dataset, tokenizer)
    for row in ROWS:
        got = rows[row["instruction"]]
        system = f"Please respond to the following user message in {NAMES[row['lang']]}."
        assert got["text"] == (
            f"<s><|system|>\n{system}\n<|user|>\n{row['instruction']}\n<|assistant|>\n{row['response']}</s>"
        )
        assert trained_runs(got, tokenizer) == [row["response"] + "</s>"]


def test_target_first_order(tiny_model_dir, tmp_path, data):
    raw = cpu_config(
        tiny_model_dir, tmp_path, data, {"target_language": "zh", "order": "target_first", "chat_template": "plug_tulu"}
    )
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = by_instruction(dataset, tokenizer)
    row = ROWS[0]
    answer = (
        f"English instruction:\n{row['pivot_instruction']}\n\n中文回复：\n{row['response']}\n\n"
        f"English response:\n{row['pivot_response']}"
    )
    got = rows[row["instruction"]]
    assert "respond both in Chinese and in English." in got["text"]
    assert trained_runs(got, tokenizer) == [answer + "</s>"]


def test_custom_answer_template_headers_and_system_prompt(tiny_model_dir, tmp_path, data):
    layout = tmp_path / "my_layout.jinja"
    layout.write_text(
        "{{ pivot_response_header }} {{ pivot_response }}\n---\n{{ target_response_header }} {{ target_response }}",
        encoding="utf-8",
    )
    plug = {
        "target_language": "zh",
        "include_pivot_instruction": False,
        "answer_template": str(layout),
        "headers": {"zh": {"response": "答："}},
        "system_prompt": "Think in {pivot}, answer in {target}.",
        "chat_template": "plug_tulu",
    }
    dataset, tokenizer = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, plug))
    got = by_instruction(dataset, tokenizer)[ROWS[0]["instruction"]]
    answer = f"English response: {ROWS[0]['pivot_response']}\n---\n答： {ROWS[0]['response']}"
    assert "<|system|>\nThink in English, answer in Chinese.\n" in got["text"]
    assert trained_runs(got, tokenizer) == [answer + "</s>"]


def test_row_system_prompt_and_no_system_turn(tiny_model_dir, tmp_path):
    rows = [dict(ROWS[0], system="You are a tour guide."), dict(ROWS[1])]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    dataset, tokenizer = tokenize_with_axolotl(
        cpu_config(tiny_model_dir, tmp_path, data, {"system_prompt": "none", "chat_template": "plug_tulu"})
    )
    texts = sorted(tokenizer.decode(r["input_ids"]) for r in dataset)
    assert texts[0].startswith("<s><|system|>\nYou are a tour guide.\n<|user|>\n" + ROWS[0]["instruction"])
    assert texts[1].startswith("<s><|user|>\n" + ROWS[1]["instruction"])
