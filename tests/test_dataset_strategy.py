"""Bad input fails naming dataset, row and field, or is skipped and counted."""

from __future__ import annotations

import logging

import pytest

from axolotl_plug.dataset.strategy import PlugDataError, recording_reports
from tests.helpers.models import cpu_config, tokenize_with_axolotl
from tests.helpers.rows import ROWS, write_jsonl

BAD_ROWS = [
    ROWS[0],
    {k: v for k, v in ROWS[1].items() if k != "response"},  # row 1: missing field
    dict(ROWS[2], pivot_response="   "),  # row 2: empty value
    dict(ROWS[3], instruction=42),  # row 3: not text
    dict(ROWS[0], lang="xx"),  # row 4: unknown language
    dict(ROWS[1], instruction="word " * 600),  # row 5: the prompt alone fills sequence_len
]


@pytest.fixture()
def bad_data(tmp_path):
    return write_jsonl(tmp_path / "bad.jsonl", BAD_ROWS)


def test_error_names_dataset_row_and_field(tiny_model_dir, tmp_path, bad_data):
    with pytest.raises(PlugDataError) as err:
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, bad_data))
    message = str(err.value)
    assert str(bad_data) in message
    assert "5 of 6 rows cannot be used" in message
    assert "row 1: field 'response': missing" in message
    assert "row 2: field 'pivot_response': empty" in message
    assert "row 3: field 'instruction': expected text, got int 42" in message
    assert "row 4: field 'lang': unknown language code 'xx': known codes are" in message
    assert "row 5: field 'instruction': no trainable token within sequence_len=512" in message
    assert "plug.on_bad_row: skip" in message


def test_skip_drops_and_counts(tiny_model_dir, tmp_path, bad_data, caplog):
    raw = cpu_config(tiny_model_dir, tmp_path, bad_data, {"target_language": "zh", "on_bad_row": "skip"})
    with caplog.at_level(logging.WARNING), recording_reports() as reports:
        dataset, tokenizer = tokenize_with_axolotl(raw)
    assert len(dataset) == 1
    assert ROWS[0]["instruction"] in tokenizer.decode(dataset[0]["input_ids"])
    (report,) = reports
    assert (report.rows_in, report.rows_out) == (6, 1)
    assert report.dropped == {
        "response: missing": 1,
        "pivot_response: empty": 1,
        "instruction: not text": 1,
        "lang: unknown language code 'xx'": 1,
        "instruction: no trainable token within sequence_len=512": 1,
    }
    assert "skipped 5 of 6 rows" in caplog.text


def test_unknown_language_with_headers_is_accepted(tiny_model_dir, tmp_path):
    row = dict(
        ROWS[0], lang="eu", instruction="Deskribatu Paris esaldi batean.", response="Paris Frantziako hiriburua da."
    )
    plug = {
        "headers": {"eu": {"instruction": "Argibidea euskaraz:", "response": "Erantzuna euskaraz:", "name": "Basque"}}
    }
    data = write_jsonl(tmp_path / "eu.jsonl", [row])
    dataset, tokenizer = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, plug, chat_template="chatml"))
    text = tokenizer.decode(dataset[0]["input_ids"])
    assert "respond both in English and in Basque." in text
    assert "Erantzuna euskaraz:\nParis Frantziako hiriburua da." in text


def test_no_target_language_anywhere(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "nolang.jsonl", [{k: v for k, v in ROWS[0].items() if k != "lang"}])
    with pytest.raises(PlugDataError, match=r"row 0: field 'lang': no target language: set plug.target_language"):
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, {}))


def test_module_path_type_without_plugin_says_add_the_plugin(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    raw = cpu_config(
        tiny_model_dir, tmp_path, data, datasets=[{"path": str(data), "type": "axolotl_plug.dataset.strategy"}]
    )
    del raw["plugins"]
    with pytest.raises(ValueError, match=r"needs its plugin: add\n  plugins:\n    - axolotl_plug.PlugPlugin"):
        tokenize_with_axolotl(raw)


def test_misspelt_plug_key_is_rejected(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    with pytest.raises(Exception, match="train_on_pivots"):
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, {"train_on_pivots": False}))


def test_a_bad_row_is_counted_under_one_reason_in_sft_and_in_dpo(tiny_model_dir, tmp_path, caplog):
    """The same bad fields, once in an SFT row and once in a preference row: both
    pipelines count them under the same labels (RowError.reason)."""
    from axolotl.loaders import load_tokenizer

    import axolotl_plug
    from axolotl_plug.io.records import read_records
    from tests.helpers.models import load_config

    good = {k: ROWS[0][k] for k in ("pivot_instruction", "pivot_response", "response")}
    bad = [{"instruction": 42, "lang": "zh"}, {"instruction": ROWS[0]["instruction"], "lang": "xx"}]
    sft = write_jsonl(tmp_path / "sft.jsonl", [ROWS[0]] + [dict(ROWS[0], **fields) for fields in bad])
    prefs = write_jsonl(
        tmp_path / "prefs.jsonl",
        [{"instruction": ROWS[0]["instruction"], "lang": "zh", "chosen": good, "rejected": good}]
        + [{**fields, "chosen": good, "rejected": good} for fields in bad],
    )
    plug = {"target_language": "zh", "on_bad_row": "skip"}
    with recording_reports() as reports:
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path / "sft", sft, plug))
    expected = {"instruction: not text": 1, "lang: unknown language code 'xx'": 1}
    assert reports[0].dropped == expected
    # the transform axolotl's preference loader maps (in a worker process of its own), run here
    cfg = load_config(cpu_config(tiny_model_dir, tmp_path / "dpo", prefs, plug, rl="dpo"))
    transform, _ = axolotl_plug.preference(cfg)
    rows = read_records(prefs)
    with caplog.at_level(logging.WARNING):
        out = transform({key: [row[key] for row in rows] for key in rows[0]}, tokenizer=load_tokenizer(cfg))
    assert len(out["chosen"]) == 1
    assert "skipped 2 of 3 rows in a batch: 1 instruction: not text, 1 lang: unknown language code 'xx'" in caplog.text
