"""The real `axolotl train` CLI on a tiny model, and every shipped example config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, ROWS, load_config, write_jsonl, cpu_config
from axolotl_plug.templates import template_dir

BIN = Path(sys.executable).parent


def run_axolotl(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1", "AXOLOTL_DO_NOT_TRACK": "1"}
    return subprocess.run(
        [str(BIN / "axolotl"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_axolotl_train_saves_the_training_template(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS * 2)
    cfg = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    path = tmp_path / "train.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    result = run_axolotl("train", str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert saved.chat_template == (template_dir() / "plug_tulu.jinja").read_text(encoding="utf-8")
    prompt = saved.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<s><|system|>\nS\n<|user|>\nU\n<|assistant|>\n"
    assert (tmp_path / "out" / "model.safetensors").is_file()


EXAMPLES = sorted((REPO / "example_configs").glob("*.yml"))


def test_there_are_paper_baseline_lora_and_demo_configs():
    names = {p.name for p in EXAMPLES}
    assert {"plug_zh.yml", "plug_ko.yml", "plug_it.yml", "plug_es.yml", "baseline_zh.yml",
            "plug_lora_qwen.yml", "plug_demo.yml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates_with_axolotl(path, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # configs use repo-relative paths, as `make demo` does
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["base_model"] = str(tiny_model_dir)
    raw["output_dir"] = str(tmp_path / "out")
    cfg = load_config(raw)
    assert cfg.plug["target_language"] == raw["plug"].get("target_language")
    assert all(ds["type"] == "axolotl_plug.plug" for ds in cfg.datasets)
    assert "/plug-" in cfg.dataset_prepared_path
    if raw["plug"].get("chat_template") == "plug_tulu":
        assert cfg.chat_template == "jinja" and "<|assistant|>" in cfg.chat_template_jinja
    if raw.get("deepspeed"):
        assert Path(raw["deepspeed"]).is_file()
