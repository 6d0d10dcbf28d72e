"""`axolotl plug audit` and `axolotl plug demo-model`, run as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers.commands import plug_command, plug_in_process, run_axolotl
from tests.helpers.models import cpu_config
from tests.helpers.rows import ROWS, write_jsonl


def write_config(tmp_path, cfg) -> str:
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_audit_reports_rows_trained_share_and_samples(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    cfg = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    result = plug_command("audit", write_config(tmp_path, cfg), "-n", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.startswith(f"== {data}\n")  # ours first: the host's config dump and logs stay hidden
    assert "[INFO]" not in out + result.stderr and "W1202" not in result.stderr
    cfg["plug"]["train_on_pivto"] = False  # a typo: axolotl loads the plugin, then the config fails
    verbose = plug_command("audit", write_config(tmp_path, cfg), "--verbose")
    assert verbose.returncode == 1 and "plug.train_on_pivto: unknown key" in verbose.stderr
    assert "[INFO] [axolotl" in verbose.stdout + verbose.stderr  # --verbose shows the host's logs
    assert f"== {data}" in out
    assert "rows in: 4  kept: 4  dropped: 0" in out
    assert "trained tokens: " in out and "%)" in out
    assert "<|assistant|>\n⟦English instruction:\n" in out and "</s>⟧" in out


def test_audit_fails_on_untrained_header_and_bad_rows(tiny_model_dir, tmp_path):
    # With the pivot masked, a space before the target header glues onto the header's
    # first token, which straddles the masked/trained boundary and stays masked: the
    # model would never learn to write the header. The audit must catch it.
    layout = tmp_path / "glued.jinja"
    layout.write_text(
        "{{ pivot_response_header }} {{ pivot_response }} {{ target_response_header }} {{ target_response }}"
    )
    rows = [ROWS[2], dict(ROWS[2], response="")]  # Italian: " R" is one token here
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    plug = {"include_pivot_instruction": False, "train_on_pivot": False, "answer_template": str(layout)}
    result = plug_in_process("audit", write_config(tmp_path, cpu_config(tiny_model_dir, tmp_path, data, plug)))
    assert result.returncode == 1
    assert "rows in: 2  kept: 1  dropped: 1 (1 response: empty)" in result.stdout
    assert "PROBLEM row 0: header 'Risposta in italiano:' is not in a trained span" in result.stdout


def test_layout_missing_a_variable_fails_at_start(tiny_model_dir, tmp_path):
    from tests.helpers.models import tokenize_with_axolotl

    layout = tmp_path / "forgetful.jinja"
    layout.write_text("{{ pivot_response_header }} {{ pivot_response }}\n{{ target_response }}")
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS[:1])
    plug = {"target_language": "zh", "include_pivot_instruction": False, "answer_template": str(layout)}
    with pytest.raises(ValueError, match=r"forgetful.jinja does not insert \{\{ target_response_header \}\}"):
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, plug))


EVERY_COMMAND = [
    "audit",
    "chat",
    "data build",
    "data prefs",
    "data translate",
    "demo",
    "demo-model",
    "generate",
    "judge",
    "report",
    "response-template",
    "score svamp",
    "score truthfulqa",
    "serve",
]


def test_every_command_has_help_that_says_what_it_does():
    import click
    from click.testing import CliRunner

    from axolotl_plug.cli import plug

    def walk(group, prefix=""):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, f"{prefix}{name} ")
            else:
                yield f"{prefix}{name}", command

    commands = dict(walk(plug))
    assert sorted(commands) == EVERY_COMMAND
    for name, command in commands.items():
        result = CliRunner().invoke(plug, [*name.split(), "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith(f"Usage: plug {name} "), result.output
        first_line = command.help.strip().splitlines()[0]
        assert " ".join(first_line.split()) in " ".join(result.output.split()), (name, first_line)
        for option in command.params:
            if isinstance(option, click.Option):
                assert option.opts[0] in result.output, (name, option.opts[0])


def test_both_entry_points_list_the_same_commands():
    import re
    import subprocess
    import sys

    def listed(output: str) -> list[str]:
        return re.findall(r"^  (\S+)", output.split("Commands:")[1], re.M)

    module = subprocess.run([sys.executable, "-m", "axolotl_plug", "--help"], capture_output=True, text=True)
    via_axolotl = run_axolotl("plug", "--help")
    assert module.returncode == 0 and via_axolotl.returncode == 0, via_axolotl.stderr[-2000:]
    assert listed(module.stdout) == listed(via_axolotl.stdout) == sorted({c.split()[0] for c in EVERY_COMMAND})


@pytest.mark.slow
def test_demo_model_conversion_fixes_end_of_turn(tmp_path):
    result = plug_in_process("demo-model", "--output", str(tmp_path / "smol"))
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
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    output = model.generate(**prompt, max_new_tokens=40, do_sample=False)[0]
    new = output[prompt["input_ids"].shape[1] :].tolist()
    assert new[-1] == im_end  # it stops by itself
    assert "Paris" in tokenizer.decode(new, skip_special_tokens=True)
