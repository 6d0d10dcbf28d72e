"""Pre-built rows (`plug.prebuilt`): the paper's released data trains as it is."""

from __future__ import annotations

import json

import pytest
import yaml

from axolotl_plug import extract
from axolotl_plug.config import plug_config
from axolotl_plug.dataset.strategy import PlugDataError, recording_reports
from axolotl_plug.eval.sources import eval_split_records
from tests.helpers.commands import plug_in_process
from tests.helpers.models import cpu_config, tokenize_with_axolotl, trained_runs
from tests.helpers.rows import REPO

RELEASED = json.loads((REPO / "example_configs/data/prebuilt_zh.json").read_text(encoding="utf-8"))
ANSWER = RELEASED[0]["response"]
TARGET_FIRST = "English instruction:\nName a colour.\n\n中文回复：\n红色。\n\nEnglish response:\nRed."


@pytest.fixture()
def prebuilt(tiny_model_dir, tmp_path):
    """A CPU config training `rows` written as the released files are (a JSON list)."""

    def config(rows, plug=None):
        data = tmp_path / "released.json"
        data.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        return cpu_config(
            tiny_model_dir,
            tmp_path,
            data,
            {"target_language": "zh", "prebuilt": True, **(plug or {})},
            shuffle_merged_datasets=False,
        )

    return config


def test_released_rows_train_as_they_are(prebuilt, tmp_path):
    dataset, tokenizer = tokenize_with_axolotl(prebuilt(RELEASED))
    assert len(dataset) == len(RELEASED)
    for row, tokenized in zip(RELEASED, dataset):
        (trained,) = trained_runs(tokenized, tokenizer)
        assert trained == row["response"].strip() + tokenizer.eos_token  # whole answer, stripped as the paper does
        text = tokenizer.decode(tokenized["input_ids"])
        assert row["instruction"].strip() in text
        assert "respond both in English and in Chinese" in text  # the row's system, or the default


def test_row_system_prompt_wins_over_the_configured_one(prebuilt, tmp_path):
    rows = [dict(RELEASED[0], system="Row system."), {k: v for k, v in RELEASED[0].items() if k != "system"}]
    dataset, tokenizer = tokenize_with_axolotl(prebuilt(rows, {"system_prompt": "Configured system."}))
    texts = [tokenizer.decode(row["input_ids"]) for row in dataset]
    assert "Row system." in texts[0] and "Configured system." not in texts[0]
    assert "Configured system." in texts[1]


def test_masked_pivot_trains_the_target_section_only(prebuilt, tmp_path):
    dataset, tokenizer = tokenize_with_axolotl(prebuilt(RELEASED[:1], {"train_on_pivot": False}))
    (trained,) = trained_runs(dataset[0], tokenizer)
    assert trained == "中文回复：\n长城是横贯中国北方的一系列古代防御工事。" + tokenizer.eos_token


def test_target_first_answers_in_target_first_order(prebuilt, tmp_path):
    rows = [dict(RELEASED[0], response=TARGET_FIRST)]
    plug = {"train_on_pivot": False, "order": "target_first"}
    dataset, tokenizer = tokenize_with_axolotl(prebuilt(rows, plug))
    assert trained_runs(dataset[0], tokenizer) == ["中文回复：\n红色。"] + [tokenizer.eos_token]


BAD = [
    dict(RELEASED[0], response="English response:\nRed."),  # row 0: no target header
    dict(RELEASED[0], response=TARGET_FIRST),  # row 1: out of the configured order
    dict(RELEASED[0], response="中文回复：\n红色。"),  # row 2: no pivot answer
    RELEASED[1],
]


def test_bad_prebuilt_rows_are_named(prebuilt, tmp_path):
    with pytest.raises(PlugDataError) as err:
        tokenize_with_axolotl(prebuilt(BAD))
    message = str(err.value)
    assert "3 of 4 rows cannot be used" in message
    assert "row 0: field 'response': no target header (expected '中文回复：' in a pre-built response)" in message
    assert (
        "row 1: field 'response': sections out of order (plug.order is pivot_first, the response has target_first)"
        in message
    )
    assert "row 2: field 'response': no pivot response header (expected 'English response:'" in message


def test_bad_prebuilt_rows_are_skipped_and_counted(prebuilt, tmp_path):
    with recording_reports() as reports:
        dataset, _ = tokenize_with_axolotl(prebuilt(BAD, {"on_bad_row": "skip"}))
    assert len(dataset) == 1
    assert reports[0].dropped == {
        "response: no target header": 1,
        "response: sections out of order": 1,
        "response: no pivot response header": 1,
    }


def test_monolingual_prebuilt_is_refused_with_the_reason(prebuilt, tmp_path):
    from tests.helpers.models import load_config

    with pytest.raises(Exception, match="target section alone cannot be cut out reliably"):
        load_config(prebuilt(RELEASED, {"mode": "monolingual"}))


def test_audit_shows_the_sections(prebuilt, tmp_path):
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(prebuilt(RELEASED), allow_unicode=True), encoding="utf-8")
    result = plug_in_process("audit", str(path), "-n", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rows in: 4  kept: 4  dropped: 0" in result.stdout
    sizes = [
        len("Describe the Great Wall in one sentence."),
        len("The Great Wall is a chain of ancient fortifications that stretches across northern China."),
        len("长城是横贯中国北方的一系列古代防御工事。"),
    ]
    assert (
        "sections: pivot instruction {} chars, pivot answer {} chars, target answer {} chars (ok)".format(*sizes)
        in result.stdout
    )


def test_eval_split_of_prebuilt_rows_gives_prompt_and_reference(prebuilt, tmp_path):
    dataset, tokenizer = tokenize_with_axolotl(prebuilt(RELEASED))
    config = plug_config({"plug": {"target_language": "zh", "prebuilt": True}})
    (record,) = eval_split_records(dataset, tokenizer, config, limit=1)
    assert record["lang"] == "zh"
    assert record["reference"] == "长城是横贯中国北方的一系列古代防御工事。"
    assert "用一句话介绍长城。" in record["instruction"] and "English instruction" not in record["instruction"]


def test_extract_reads_both_orders():
    ours = extract(ANSWER, "zh")
    assert (ours.target, ours.status) == ("长城是横贯中国北方的一系列古代防御工事。", "ok")
    flipped = extract(TARGET_FIRST, "zh", order="target_first")
    assert (flipped.target, flipped.pivot, flipped.status) == ("红色。", "Red.", "ok")
    assert extract(TARGET_FIRST, "zh").status == "target_first"  # pivot_first expected
    assert extract(ANSWER, "zh", order="target_first").status == "pivot_first"


def test_example_config_trains_on_the_released_format(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    raw = yaml.safe_load((REPO / "example_configs/plug_prebuilt_zh.yml").read_text(encoding="utf-8"))
    raw.pop("deepspeed")
    cfg = cpu_config(
        tiny_model_dir, tmp_path, REPO / raw["datasets"][0]["path"], raw["plug"], shuffle_merged_datasets=False
    )
    dataset, tokenizer = tokenize_with_axolotl(cfg)
    assert len(dataset) == len(RELEASED)
    # as the reference: a row without `system` has no system turn; fields are stripped
    assert tokenizer.decode(dataset[1]["input_ids"]).startswith(
        "<s><|user|>\n写一个 Python 函数，返回列表中的最大值。\n<|assistant|>\n"
    )
