"""One render and one tokenizer pass give axolotl's stock labels, token for token; where
they cannot, the stock path itself is used."""

from __future__ import annotations

import json
import random

import pytest
from axolotl.prompt_strategies.chat_template import StrategyLoader
from axolotl.utils.dict import DictDefault

from axolotl_plug.dataset.layout import build_conversation
from axolotl_plug.dataset.strategy import PlugStrategy
from axolotl_plug.format.templates import resolve_template
from tests.helpers.rows import DEMO_TRAIN, ROWS

TEMPLATES = {
    "plug_tulu": {"chat_template": "jinja", "chat_template_jinja": resolve_template("plug_tulu").read_text()},
    "chatml": {"chat_template": "chatml", "eot_tokens": ["<|im_end|>"]},
    "llama3": {"chat_template": "llama3", "eot_tokens": ["<|eot_id|>"]},
    "tokenizer_default": {"chat_template": "tokenizer_default"},
}


def generated_rows(count: int, seed: int = 0) -> list[dict]:
    """Rows in zh/ko/it/es with answers of varied length, some with a system prompt."""
    rng = random.Random(seed)
    seeds = ROWS + [json.loads(line) for line in DEMO_TRAIN.read_text(encoding="utf-8").splitlines()]
    rows = []
    for i in range(count):
        a, b = rng.choice(seeds), rng.choice(seeds)
        row = dict(
            a,
            response=" ".join([a["response"]] * rng.randint(1, 4)),
            pivot_response=" ".join([a["pivot_response"], b["pivot_response"]][: rng.randint(1, 2)]),
        )
        if i % 7 == 0:
            row["system"] = "You are a concise assistant."
        rows.append(row)
    return rows


def strategies(tokenizer, template: str, plug: dict, **extra):
    cfg = DictDefault(
        {"plugins": ["axolotl_plug.PlugPlugin"], "plug": plug, "sequence_len": 2048, **TEMPLATES[template], **extra}
    )
    ours = PlugStrategy(tokenizer, cfg, {"path": "rows"})
    stock = StrategyLoader()(tokenizer, cfg, {"field_messages": "messages"})
    return ours, stock


def ours_and_stock(ours, stock, rows):
    columns = {key: [row.get(key) for row in rows] for key in rows[0]}
    out = ours.tokenize_batch(columns, list(range(len(rows))))
    assert not any(out["plug_error"])
    for row, ids, labels in zip(rows, out["input_ids"], out["labels"]):
        conversation = build_conversation(row, ours.config, ours.layout)
        expected = stock.tokenize_prompt({"messages": conversation.messages})
        yield (ids, labels), (expected["input_ids"], expected["labels"])


@pytest.mark.parametrize("offsets", ["from ids", "from rust"])
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_labels_equal_stock_strategy_on_generated_rows(request, template, offsets):
    # byte-level BPE: offsets worked out from the ids; with a normalizer: Rust's offsets
    tokenizer = request.getfixturevalue("tiny_tokenizer" if offsets == "from ids" else "normalizing_tokenizer")
    ours, stock = strategies(tokenizer, template, {"pivot_language": "en"})
    assert ours.fallback_reason is None
    rows = generated_rows(300)
    pairs = list(ours_and_stock(ours, stock, rows))
    assert sum(got == want for got, want in pairs) == len(rows)
    assert (ours.encode._table is not None) == (offsets == "from ids")


@pytest.mark.parametrize("template", ["chatml", "plug_tulu"])
def test_masked_pivot_labels_equal_stock_content_parts(tiny_tokenizer, template):
    ours, stock = strategies(tiny_tokenizer, template, {"pivot_language": "en", "train_on_pivot": False})
    # the stock strategy's content parts, built the way a user of axolotl would write them
    rows = generated_rows(200, seed=1)
    columns = {key: [row.get(key) for row in rows] for key in rows[0]}
    out = ours.tokenize_batch(columns, list(range(len(rows))))
    same = 0
    for row, labels in zip(rows, out["labels"]):
        conversation = build_conversation(row, ours.config, ours.layout)
        ((lo, hi),) = conversation.trained
        answer = conversation.answer
        parts = [{"text": answer[:lo], "train": False}, {"text": answer[lo:hi], "train": True}]
        messages = conversation.messages[:-1] + [{"role": "assistant", "content": parts}]
        same += stock.tokenize_prompt({"messages": messages})["labels"] == labels
    assert same == len(rows)


def test_template_that_rewrites_the_answer_falls_back_to_stock(tiny_tokenizer, caplog):
    # llama3 trims every message: an answer ending in whitespace is not in the render verbatim
    ours, stock = strategies(tiny_tokenizer, "llama3", {"pivot_language": "en", "strip_fields": False})
    rows = [dict(ROWS[0], response=ROWS[0]["response"] + "\n\n"), ROWS[1]]
    with caplog.at_level("INFO"):
        pairs = list(ours_and_stock(ours, stock, rows))
    assert all(got == want for got, want in pairs)
    assert "does not copy the answer verbatim" in caplog.text


@pytest.mark.parametrize(
    "extra, reason",
    [({"train_on_inputs": True}, "train_on_inputs is set")],
)
def test_configs_the_one_pass_path_does_not_cover_use_stock(tiny_tokenizer, extra, reason):
    ours, stock = strategies(tiny_tokenizer, "chatml", {"pivot_language": "en"}, **extra)
    assert ours.fallback_reason == reason
    pairs = list(ours_and_stock(ours, stock, generated_rows(20)))
    assert all(got == want for got, want in pairs)


def test_slow_tokenizer_uses_stock(tiny_model_dir):
    from transformers import PreTrainedTokenizerFast

    class NoOffsets(PreTrainedTokenizerFast):  # a tokenizer that reports no character offsets
        is_fast = False

    tokenizer = NoOffsets.from_pretrained(tiny_model_dir)
    ours, stock = strategies(tokenizer, "chatml", {"pivot_language": "en"})
    assert ours.fallback_reason == "the tokenizer is not a fast tokenizer, so it gives no character offsets"
    pairs = list(ours_and_stock(ours, stock, generated_rows(10)))
    assert all(got == want for got, want in pairs)


# the real tokenizers of real_tokenizers.py, each with the chat template it is used with
REAL = {
    "llama-2": TEMPLATES["plug_tulu"],
    "qwen2": {"chat_template": "qwen_25", "eot_tokens": ["<|im_end|>"]},
    "phi-3": {"chat_template": "phi_3", "eot_tokens": ["<|end|>"]},
}


def real_strategies(folder, plug: dict):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    cfg = DictDefault({"plugins": ["axolotl_plug.PlugPlugin"], "plug": plug, "sequence_len": 4096, **REAL[folder.name]})
    return (
        tokenizer,
        PlugStrategy(tokenizer, cfg, {"path": "rows"}),
        StrategyLoader()(tokenizer, cfg, {"field_messages": "messages"}),
    )


def test_labels_equal_stock_strategy_on_real_tokenizers(real_tokenizer_dir):
    _, ours, stock = real_strategies(real_tokenizer_dir, {"pivot_language": "en"})
    assert ours.fallback_reason is None
    rows = generated_rows(150, seed=2)
    assert sum(got == want for got, want in ours_and_stock(ours, stock, rows)) == len(rows)


def test_masked_pivot_on_real_tokenizers_trains_the_target_section(real_tokenizer_dir):
    """Masking through the real path: decode what carries loss, row by row."""
    from axolotl_plug.format.languages import get_language

    tokenizer, ours, stock = real_strategies(real_tokenizer_dir, {"pivot_language": "en", "train_on_pivot": False})
    rows = generated_rows(60, seed=3)
    columns = {key: [row.get(key) for row in rows] for key in rows[0]}
    out = ours.tokenize_batch(columns, list(range(len(rows))))
    for row, ids, labels in zip(rows, out["input_ids"], out["labels"]):
        trained = tokenizer.decode([t for t, label in zip(ids, labels) if label != -100])
        header = get_language(row["lang"]).response_header
        assert trained.lstrip().startswith(header), trained[:40]
        assert row["response"].strip() in trained and "English" not in trained
