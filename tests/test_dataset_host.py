"""Pins of the axolotl and transformers behaviour that `axolotl_plug.dataset.host` and
the renderer rely on without a documented API. Each runs on every supported stack; a
failure here after an upgrade names the host behaviour that moved."""

from __future__ import annotations

from axolotl.utils.dict import DictDefault

from axolotl_plug.dataset.host import StockStrategy, chat_template_of
from axolotl_plug.dataset.labels import IGNORE
from axolotl_plug.dataset.render import ChatRenderer
from axolotl_plug.dataset.strategy import recording_reports
from tests.helpers.models import cpu_config, render_chat, tokenize_with_axolotl
from tests.helpers.rows import ROWS, write_jsonl

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Describe Paris."},
]


def stock(tokenizer, **cfg) -> StockStrategy:
    config = DictDefault({"sequence_len": 512, "chat_template": "chatml", **cfg})
    return StockStrategy(tokenizer, config, {"path": "rows", "type": "plug", "chat_template": "chatml"})


def test_axolotl_hands_a_wrapping_strategy_the_whole_dataset(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    with recording_reports() as reports:
        dataset, _ = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data))
    (report,) = reports  # wrap_dataset ran once, over all rows
    assert report.rows_in == len(ROWS) == len(dataset)


def test_stock_strategy_reads_the_template_and_end_of_turn(tiny_tokenizer):
    strategy = stock(tiny_tokenizer, eot_tokens=["<|im_end|>"])
    assert "<|im_start|>" in strategy.chat_template
    end = strategy.end_of_turn()
    assert end.eot_ids == {tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert (end.train_eot, end.eos_id) == (True, tiny_tokenizer.eos_token_id)
    rules = strategy.rules()
    assert rules.roles_to_train == ("assistant",) and not rules.train_on_inputs


def test_an_eot_token_that_is_not_one_token_is_not_counted(tiny_tokenizer):
    # axolotl warns and keeps only single-token markers; so do we
    strategy = stock(tiny_tokenizer, eot_tokens=["<|im_end|>", "Paris is"])
    assert strategy.end_of_turn().eot_ids == {tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")}


def test_stock_tokenize_trains_only_the_parts_flagged_train(tiny_tokenizer):
    strategy = stock(tiny_tokenizer, eot_tokens=["<|im_end|>"])
    answer = [{"text": "English response:\nParis. ", "train": False}, {"text": "中文回复：\n巴黎。", "train": True}]
    ids, labels = strategy.tokenize(CONVERSATION + [{"role": "assistant", "content": answer}])
    trained = tiny_tokenizer.decode([t for t, label in zip(ids, labels) if label != IGNORE])
    assert "Paris" not in trained and "巴黎" in trained and trained.endswith("<|im_end|>")


def test_chat_template_of_a_config_is_the_one_it_trains_with(tiny_tokenizer):
    cfg = DictDefault({"chat_template": "jinja", "chat_template_jinja": "{{ messages[0]['content'] }}"})
    assert chat_template_of(cfg, None, tiny_tokenizer) == "{{ messages[0]['content'] }}"
    assert (
        chat_template_of(DictDefault({}), {"chat_template": "tokenizer_default"}, tiny_tokenizer)
        == tiny_tokenizer.chat_template
    )


def test_render_jinja_template_renders_as_apply_chat_template(tiny_tokenizer):
    # ChatRenderer calls transformers' render_jinja_template with the special tokens
    # apply_chat_template passes; the two must keep agreeing, special tokens included
    template = "{% for m in messages %}{{ bos_token + m['role'] + ': ' + m['content'] + eos_token }}{% endfor %}"
    messages = CONVERSATION + [{"role": "assistant", "content": "Paris."}]
    renderer = ChatRenderer(tiny_tokenizer, template)
    assert renderer.render(messages) == render_chat(tiny_tokenizer, template, messages)
    assert renderer.render(messages).startswith("<s>system: Be brief.</s>")


def test_pure_modules_import_neither_torch_nor_axolotl():
    import subprocess
    import sys
    from pathlib import Path

    import axolotl_plug.format

    formats = sorted(f"format.{p.stem}" for p in Path(axolotl_plug.format.__file__).parent.glob("*.py"))
    assert "format.answer" in formats and "format.prompt" in formats
    pure = formats + [
        "dataset.layout",
        "dataset.render",
        "dataset.labels",
        "dataset.offsets",
        "eval.metrics",
        "eval.judge.aggregate",
        "io.records",
        "config",
        "eval.score.svamp",
        "eval.score.truthfulqa",
        "eval.report",
        "serving.split",
        "serving.proxy",
    ]
    code = (
        "import sys\n"
        + "".join(f"import axolotl_plug.{name}\n" for name in pure)
        + "print(sorted(m for m in ('torch', 'axolotl', 'transformers') if m in sys.modules))\n"
        # serving and the answer format build prompts without the training package
        + "print(sorted(m for m in sys.modules if m.startswith('axolotl_plug.dataset')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == "[]"
    code = "import sys\n" + "".join(
        f"import axolotl_plug.{name}\n" for name in formats + ["serving.split", "serving.proxy"]
    )
    code += "print(sorted(m for m in sys.modules if m.startswith('axolotl_plug.dataset')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_extract_names_the_function_and_sections_the_module():
    import importlib

    import axolotl_plug

    module = importlib.import_module("axolotl_plug.format.answer")
    assert axolotl_plug.extract is module.extract and callable(axolotl_plug.extract)
    from axolotl_plug import extract

    assert extract("English response:\nHi.\n\n中文回复：\n你好。", "zh").target == "你好。"
