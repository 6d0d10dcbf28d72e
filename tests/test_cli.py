"""`axolotl plug audit` and `axolotl plug demo-model`, run as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import ROWS, cpu_config, write_jsonl
from test_train_and_configs import run_axolotl


def write_config(tmp_path, cfg) -> str:
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_audit_reports_rows_trained_share_and_samples(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    cfg = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    result = run_axolotl("plug", "audit", write_config(tmp_path, cfg), "-n", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"== {data}" in out
    assert "rows in: 4  kept: 4  dropped: 0" in out
    assert "trained tokens: " in out and "%)" in out
    assert "<|assistant|>\n⟦English instruction:\n" in out and "</s>⟧" in out


def test_audit_fails_on_untrained_header_and_bad_rows(tiny_model_dir, tmp_path):
    # With the pivot masked, a space before the target header glues onto the header's
    # first token, which straddles the masked/trained boundary and stays masked: the
    # model would never learn to write the header. The audit must catch it.
    layout = tmp_path / "glued.jinja"
    layout.write_text("{{ pivot_response_header }} {{ pivot_response }} {{ target_response_header }} {{ target_response }}")
    rows = [ROWS[2], dict(ROWS[2], response="")]  # Italian: " R" is one token here
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    plug = {"include_pivot_instruction": False, "train_on_pivot": False, "response_template": str(layout)}
    result = run_axolotl("plug", "audit", write_config(tmp_path, cpu_config(tiny_model_dir, tmp_path, data, plug)))
    assert result.returncode == 1
    assert "rows in: 2  kept: 1  dropped: 1 (1 response: empty)" in result.stdout
    assert "PROBLEM row 0: header 'Risposta in italiano:' is not in a trained span" in result.stdout


def test_layout_missing_a_variable_fails_at_start(tiny_model_dir, tmp_path):
    from conftest import tokenize_with_axolotl

    layout = tmp_path / "forgetful.jinja"
    layout.write_text("{{ pivot_response_header }} {{ pivot_response }}\n{{ target_response }}")
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS[:1])
    plug = {"target_language": "zh", "include_pivot_instruction": False, "response_template": str(layout)}
    with pytest.raises(ValueError, match=r"forgetful.jinja does not insert \{\{ target_response_header \}\}"):
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, plug))


def test_python_module_entry_point_has_the_same_commands():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "axolotl_plug", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("audit", "demo-model", "demo"):
        assert command in result.stdout


@pytest.mark.slow
def test_demo_model_conversion_fixes_end_of_turn(tmp_path):
    result = run_axolotl("plug", "demo-model", "--output", str(tmp_path / "smol"))
    assert result.returncode == 0, result.stderr[-3000:]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "smol")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "smol")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|im_end|>")
    assert model.generation_config.eos_token_id == im_end == model.config.eos_token_id
    config = json.loads((tmp_path / "smol" / "config.json").read_text())
    assert config["model_type"] == "llama"
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )
    output = model.generate(**prompt, max_new_tokens=40, do_sample=False)[0]
    new = output[prompt["input_ids"].shape[1]:].tolist()
    assert new[-1] == im_end  # it stops by itself
    assert "Paris" in tokenizer.decode(new, skip_special_tokens=True)
