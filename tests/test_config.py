"""Changing a `plug:` key that changes tokenized data never reuses a stale prepared dataset."""

from __future__ import annotations

import copy
from pathlib import Path

from axolotl_plug.config import DEFAULT_DATASET_PREPARED_PATH, apply_plug_config
from tests.helpers.models import cpu_config, tokenize_with_axolotl, trained_runs
from tests.helpers.rows import ROWS, write_jsonl


def prepared_path(plug: dict, **top) -> str:
    cfg = {"plug": plug, "datasets": [{"path": "d.jsonl", "type": "plug"}], "dataset_prepared_path": "prep", **top}
    apply_plug_config(cfg)
    assert cfg["datasets"][0]["type"] == "axolotl_plug.dataset.strategy"
    return cfg["dataset_prepared_path"]


def test_every_data_key_changes_the_prepared_path():
    base = prepared_path({"target_language": "zh"})
    assert base.startswith("prep/plug-")
    variants = [
        {"target_language": "ko"},
        {"target_language": "zh", "pivot_language": "de"},
        {"target_language": "zh", "mode": "monolingual"},
        {"target_language": "zh", "include_pivot_instruction": False},
        {"target_language": "zh", "train_on_pivot": False},
        {"target_language": "zh", "order": "target_first"},
        {"target_language": "zh", "system_prompt": "none"},
        {"target_language": "zh", "headers": {"zh": {"response": "答："}}},
        {"target_language": "zh", "on_bad_row": "skip"},
        {"target_language": "zh", "fields": {"response": "output"}},
        {"target_language": "zh", "chat_template": "plug_tulu"},
    ]
    paths = {prepared_path(v) for v in variants}
    assert base not in paths and len(paths) == len(variants)


def test_register_is_idempotent():
    cfg = {
        "plug": {"target_language": "zh", "chat_template": "plug_tulu"},
        "datasets": [{"path": "d", "type": "plug"}],
        "test_datasets": [{"path": "t", "type": "plug"}, {"path": "other", "type": "chat_template"}],
    }
    apply_plug_config(cfg)
    assert [ds["type"] for ds in cfg["test_datasets"]] == ["axolotl_plug.dataset.strategy", "chat_template"]
    first = copy.deepcopy(cfg)  # nested lists and dicts too: a shallow copy would share them
    apply_plug_config(cfg)
    assert cfg == first and cfg["plug"] is not first["plug"]
    assert cfg["chat_template"] == "jinja" and "<|assistant|>" in cfg["chat_template_jinja"]
    assert Path(cfg["dataset_prepared_path"]).parent == Path("last_run_prepared")


def test_editing_an_answer_template_file_changes_the_path(tmp_path):
    layout = tmp_path / "layout.jinja"
    layout.write_text(
        "{{ pivot_response_header }}{{ pivot_response }}{{ target_response_header }}{{ target_response }}"
    )
    plug = {"target_language": "zh", "include_pivot_instruction": False, "answer_template": str(layout)}
    before = prepared_path(dict(plug))
    from axolotl_plug.format.templates import read_template

    layout.write_text(layout.read_text() + "\n")
    read_template.cache_clear()
    assert prepared_path(dict(plug)) != before


def test_second_run_with_other_settings_is_not_served_from_cache(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS[:1])
    common = {"chat_template": "plug_tulu"}
    full, tokenizer = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, {**common}))
    masked, _ = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, {**common, "train_on_pivot": False}))
    assert trained_runs(full[0], tokenizer)[0].startswith("English instruction:")
    assert trained_runs(masked[0], tokenizer) == ["中文回复：\n" + ROWS[0]["response"] + "</s>"]
    assert len(list((tmp_path / "prepared").glob("plug-*"))) == 2


def test_the_default_prepared_path_is_axolotls():
    """config.py pins axolotl's default so that reading a config never imports axolotl."""
    from axolotl.common.const import DEFAULT_DATASET_PREPARED_PATH as axolotls

    assert DEFAULT_DATASET_PREPARED_PATH == axolotls


def test_the_old_response_template_key_fails_naming_its_new_name(tmp_path):
    import pytest
    import yaml

    from tests.helpers.commands import plug_in_process
    from tests.helpers.models import load_config

    raw = {"target_language": "zh", "response_template": "plug_response"}
    expected = "plug.response_template is now plug.answer_template"
    with pytest.raises(ValueError, match=expected):
        load_config(cpu_config(tmp_path, tmp_path, tmp_path / "rows.jsonl", raw))
    config = tmp_path / "old.yml"
    config.write_text(yaml.safe_dump(cpu_config(tmp_path, tmp_path, tmp_path / "rows.jsonl", raw)), encoding="utf-8")
    result = plug_in_process("audit", str(config))
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"Error: {config}: {expected} (the Jinja layout of the answer); rename the key. `response_template` "
        "is the name transformers and the serving engines give the tokenizer's parsing metadata."
    )
    renamed = dict(raw, answer_template=raw.pop("response_template"))
    apply_plug_config(cfg := {"plug": renamed, "datasets": [{"path": "d", "type": "plug"}]})
    assert cfg["plug"]["answer_template"].endswith("plug_response.jinja")
