"""`axolotl plug chat`: the real command fed through stdin, on a PLUG-trained model and on
a LoRA output folder; what it prints is the target answer that `extract` finds."""

from __future__ import annotations

import io
import re

from axolotl_plug.args import PlugConfig
from axolotl_plug.extract import extract
from conftest import ROWS
from test_train_and_configs import run_axolotl

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
    from axolotl_plug.dataset.layout import prompt_messages
    from axolotl_plug.eval.generation import generate_answers, load_for_generation

    model, tokenizer = load_for_generation(model_dir)
    prompts = [prompt_messages(text, "zh", config) for text in instructions]
    return [extract(a.text, "zh") for a in generate_answers(model, tokenizer, prompts, max_new_tokens=limit, batch_size=1)]


def test_chat_prints_the_extracted_target(plug_trained):
    from axolotl_plug.config import read_config

    config_path, model_dir, _ = plug_trained
    _, config = read_config(config_path)
    instructions = [row["instruction"] for row in ROWS]
    result = run_axolotl("plug", "chat", str(config_path), "--max-new-tokens", "200",
                         input="\n".join(instructions) + "\nexit\n")
    assert result.returncode == 0, result.stderr[-3000:]
    answers = printed_answers(result.stdout)
    expected = greedy_targets(model_dir, instructions, config, 200)
    assert [text for text, _ in answers] == [e.target for e in expected]
    assert [status for _, status in answers] == [e.status for e in expected]
    assert any(e.target for e in expected)  # the trained model reaches its target answer
    assert "English instruction" not in result.stdout and "中文回复" not in result.stdout  # no pivot, no header


def test_chat_on_a_lora_folder_with_plug_json(tiny_model_dir, tmp_path):
    """A LoRA output folder (adapter, tokenizer, plug.json), no config: the base model's answers."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.serving.settings import write_settings

    adapter = tmp_path / "lora-out"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(adapter)  # LoRA B starts at zero: the adapter changes nothing yet
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    config = PlugConfig(target_language="zh")
    write_settings(adapter, config, 256)
    instructions = [ROWS[0]["instruction"]]
    result = run_axolotl("plug", "chat", "--model-dir", str(adapter), "--max-new-tokens", "40",
                         input=instructions[0] + "\n")
    assert result.returncode == 0, result.stderr[-3000:]
    (text, status), = printed_answers(result.stdout)
    (expected,) = greedy_targets(tiny_model_dir, instructions, config, 40)
    assert (text, status) == (expected.target, expected.status)


def scripted_chat(answer: str, stdout, show_pivot: bool) -> None:
    """The loop with a stand-in model that streams a fixed PLUG answer one character at a time."""
    from axolotl_plug.serving import chat

    def fake_answer(model, tokenizer, instruction, lang, config, write, **_):
        splitter = chat.answer_splitter(config, lang)
        for char in answer:
            chat._show(splitter.feed(char), write)
        chat._show(splitter.close(), write)
        return chat.Turn(splitter.target, splitter.status, 9, 1.0)

    original, chat.answer = chat.answer, fake_answer
    try:
        chat.chat_loop(None, None, PlugConfig(target_language="zh"), None, show_pivot=show_pivot,
                       stdin=io.StringIO("hi\n"), stdout=stdout)
    finally:
        chat.answer = original


ANSWER = "English instruction:\nHi\n\nEnglish response:\nHello.\n\n中文回复：\n你好。"


def test_show_pivot_prints_the_pivot_before_the_target():
    out = io.StringIO()  # not a terminal: no colours
    scripted_chat(ANSWER, out, show_pivot=True)
    assert out.getvalue().split("\n", 1)[1] == "English instruction:\nHi\n\nEnglish response:\nHello.\n\n你好。\n[ok · 9 tokens · 9.0 tokens/s]\n"


def test_pivot_is_dimmed_in_a_terminal():
    import os
    import pty

    leader, follower = pty.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        scripted_chat(ANSWER, terminal, show_pivot=True)
    screen = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not data:
            break
        screen += data
    os.close(leader)
    text = screen.decode("utf-8").replace("\r\n", "\n")
    assert "\x1b[2mEnglish instruction:" in text  # the pivot, dimmed
    assert "\x1b[0m你好。\n[ok · 9 tokens" in text  # the target answer in normal text
