"""`axolotl plug chat`: the real command fed through stdin, on a PLUG-trained model and on
a LoRA output folder; what it prints is the target answer that `extract` finds. What it
prints is checked through click's runner in this process; the terminal, through a real
process on a pseudo-terminal."""

from __future__ import annotations

import re

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import extract
from tests.helpers.commands import plug_in_process
from tests.helpers.rows import ROWS

STATUS = re.compile(r"^\[(\w+) · (\d+) tokens · [\d.]+ tokens/s\]$", re.M)


def printed_answers(stdout: str) -> list[tuple[str, str]]:
    """(answer text, status) per answer: the text before each status line (after the
    chat's own first line; axolotl's CLI prints a banner before it)."""
    out, start = [], stdout.index("\n", stdout.index("plug chat · ")) + 1
    for match in STATUS.finditer(stdout):
        out.append((stdout[start : match.start()].strip("\n"), match.group(1)))
        start = match.end()
    return out


def greedy_targets(model_dir, instructions, config, limit):
    from axolotl_plug.eval.generation import load_for_generation
    from axolotl_plug.format.prompt import prompt_messages
    from tests.helpers.models import generate_answers

    model, tokenizer = load_for_generation(model_dir)
    prompts = [prompt_messages(text, "zh", config) for text in instructions]
    return [
        extract(a.text, "zh") for a in generate_answers(model, tokenizer, prompts, max_new_tokens=limit, batch_size=1)
    ]


def test_chat_prints_the_extracted_target(plug_trained):
    from axolotl_plug.config import read_config

    config_path, model_dir, _ = plug_trained
    _, config = read_config(config_path)
    instructions = [row["instruction"] for row in ROWS]
    result = plug_in_process(
        "chat", str(config_path), "--max-new-tokens", "200", input="\n".join(instructions) + "\nexit\n"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = printed_answers(result.stdout)
    expected = greedy_targets(model_dir, instructions, config, 200)
    assert [text for text, _ in answers] == [e.target for e in expected]
    assert [status for _, status in answers] == [e.status for e in expected]
    assert any(e.target for e in expected)  # the trained model reaches its target answer
    assert "English instruction" not in result.stdout and "中文回复" not in result.stdout  # no pivot, no header


def test_chat_on_a_reasoning_channel_model(reasoning_trained):
    """A model with the pivot in Qwen3's thinking channel: chat prints what follows the
    thinking (read at the markers), never the thinking; --show-pivot prints the thinking
    first, without its markers, and a blank line before the answer."""
    from axolotl_plug.config import read_config
    from axolotl_plug.format.answer import AnswerFormat
    from axolotl_plug.format.prompt import prompt_messages

    config_path, model_dir, _ = reasoning_trained
    _, config = read_config(config_path)
    instructions = [row["instruction"] for row in ROWS[:2]]
    result = plug_in_process("chat", str(config_path), "--max-new-tokens", "120", input="\n".join(instructions) + "\n")
    assert result.returncode == 0, result.stderr[-3000:]

    from axolotl_plug.eval.generation import load_for_generation
    from tests.helpers.models import generate_answers

    model, tokenizer = load_for_generation(model_dir)
    prompts = [prompt_messages(text, "zh", config) for text in instructions]
    raw = [a.text for a in generate_answers(model, tokenizer, prompts, max_new_tokens=120, batch_size=1)]
    expected = [AnswerFormat.from_config(config, "zh").extract(text) for text in raw]
    assert all(text.startswith("<think>") for text in raw) and any(e.status == "ok" for e in expected)
    assert printed_answers(result.stdout) == [(e.target, e.status) for e in expected]
    assert "<think>" not in result.stdout and "English instruction" not in result.stdout

    shown = plug_in_process("chat", str(config_path), "--max-new-tokens", "120", "--show-pivot", input=instructions[0])
    (text,) = [text for text, _ in printed_answers(shown.stdout)]
    thinking = AnswerFormat.from_config(config, "zh").split_thinking(raw[0])[0]
    assert thinking.startswith("English instruction:") and "think>" not in thinking
    assert text == f"{thinking}\n\n{expected[0].target}"


def test_chat_on_a_lora_folder_with_plug_json(tiny_model_dir, tmp_path):
    """A LoRA output folder (adapter, tokenizer, plug.json), no config: the base model's answers."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.serving.settings import write_settings

    adapter = tmp_path / "lora-out"
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    model.save_pretrained(adapter)  # LoRA B starts at zero: the adapter changes nothing yet
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    config = PlugConfig(target_language="zh")
    write_settings(adapter, config, 256)
    instructions = [ROWS[0]["instruction"]]
    result = plug_in_process(
        "chat", "--model-dir", str(adapter), "--max-new-tokens", "40", input=instructions[0] + "\n"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ((text, status),) = printed_answers(result.stdout)
    (expected,) = greedy_targets(tiny_model_dir, instructions, config, 40)
    assert (text, status) == (expected.target, expected.status)


def in_a_terminal(args: list[str], typed: list[str], timeout: float = 300) -> str:
    """Run `python -m axolotl_plug ARGS` with stdin and stdout on a pseudo-terminal, as a
    person runs it; type the lines, then `exit`; return what the screen showed."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "axolotl_plug", *args],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    os.close(follower)
    os.write(leader, ("\n".join(typed) + "\nexit\n").encode())
    screen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the command ended and closed its end
                break
            if not data:
                break
            screen += data
        elif process.poll() is not None:
            break
    process.kill()
    process.wait()
    os.close(leader)
    return screen.decode("utf-8", errors="replace").replace("\r\n", "\n")


def test_show_pivot_dims_the_pivot_in_a_terminal_and_without_it_hides_it(plug_trained):
    """The real command in a pseudo-terminal, with and without --show-pivot: the pivot
    sections (as the model wrote them, up to the target header) dimmed, then the target;
    without the flag, the target alone, no escape codes."""
    from axolotl_plug.config import read_config
    from axolotl_plug.eval.generation import load_for_generation
    from axolotl_plug.format.answer import AnswerFormat
    from axolotl_plug.format.prompt import prompt_messages
    from tests.helpers.models import generate_answers

    config_path, model_dir, _ = plug_trained
    _, config = read_config(config_path)
    instruction = ROWS[0]["instruction"]
    model, tokenizer = load_for_generation(model_dir)
    (raw,) = [
        a.text
        for a in generate_answers(
            model, tokenizer, [prompt_messages(instruction, "zh", config)], max_new_tokens=200, batch_size=1
        )
    ]
    sections = AnswerFormat.of("zh").locate(raw)
    assert sections.status == "ok"  # the trained model writes both sections here
    pivot, target = raw[: sections.target.header_start], extract(raw, "zh").target

    shown = in_a_terminal(["chat", str(config_path), "--max-new-tokens", "200", "--show-pivot"], [instruction])
    dimmed = "".join(re.findall(r"\x1b\[2m(.*?)\x1b\[0m", shown, re.S))
    assert dimmed == pivot.replace("\r\n", "\n")
    assert shown.rsplit("\x1b[0m", 1)[1].split("\n[ok · ")[0] == target  # the target, in normal text

    hidden = in_a_terminal(["chat", str(config_path), "--max-new-tokens", "200"], [instruction])
    assert "\x1b[" not in hidden and "English response" not in hidden
    assert f"{target}\n[ok · " in hidden
