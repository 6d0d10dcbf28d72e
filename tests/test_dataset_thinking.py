"""The pivot in the thinking channel (`plug.pivot_channel: reasoning`) on the real chat
templates of today's reasoning models (llama.cpp's copies), read back by decoding the
trained tokens of axolotl's own pipeline with the real Qwen2 tokenizer."""

from __future__ import annotations

import copy
import logging

import pytest

from axolotl_plug.args import PlugConfig
from axolotl_plug.dataset.layout import RowError, build_conversation
from axolotl_plug.dataset.render import ChatRenderer
from axolotl_plug.dataset.strategy import thinking_channel
from axolotl_plug.dataset.thinking import WORKING_TEMPLATES, ThinkingTemplateError, probe, renamed
from tests.helpers.models import cpu_config, tokenize_with_axolotl, trained_runs
from tests.helpers.real_templates import real_chat_template
from tests.helpers.real_tokenizers import real_tokenizer, real_tokenizer_dir
from tests.helpers.rows import ROWS, write_jsonl

ROW = ROWS[0]  # Chinese
PIVOT = f"English instruction:\n{ROW['pivot_instruction']}\n\nEnglish response:\n{ROW['pivot_response']}"
TARGET = ROW["response"]
SYSTEM = (
    "Think in English: interpret the instruction in English and respond in English. Then give your answer in Chinese."
)

# The templates' own markers and special tokens, added as a user of each model family has
# them (axolotl's `tokens`, `eot_tokens`): the Qwen2 vocabulary lacks them.
TOKENS = ["<think>", "</think>", "<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|return|>"]
TOKENS += ["[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>"]
EXTRA = {"tokens": TOKENS, "eot_tokens": ["<|im_end|>", "<|return|>"]}
SUPPORTED = {
    "Qwen-Qwen3-0.6B": f"<think>\n{PIVOT}\n</think>\n\n{TARGET}<|im_end|>",
    # its generation prompt opens the thinking: the model writes from the pivot on
    "Qwen3.5-4B": f"{PIVOT}\n</think>\n\n{TARGET}<|im_end|>",
    # gpt-oss reads `thinking`, not `reasoning_content`
    "openai-gpt-oss-120b": (
        f"<|channel|>analysis<|message|>{PIVOT}<|end|><|start|>assistant<|channel|>final<|message|>{TARGET}<|return|>"
    ),
    # GLM writes no end of turn: the next turn's role marker ends it
    "GLM-4.6": f"\n<think>{PIVOT}</think>\n{TARGET}",
}
WITHOUT_PIVOT = {
    "Qwen-Qwen3-0.6B": f"</think>\n\n{TARGET}<|im_end|>",
    "openai-gpt-oss-120b": f"<|end|><|start|>assistant<|channel|>final<|message|>{TARGET}<|return|>",
}
# each with the reason it has no thinking channel for a final answer
REFUSED = [
    "HuggingFaceTB-SmolLM3-3B",  # reads the thinking from the content, behind a /think system flag
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B",  # drops the thinking of every assistant message
    "Kimi-K2-Thinking",  # keeps the thinking only of tool-call turns after the last plain answer
]
NO_CHANNEL = "does not render the thinking of a final assistant message"


def trained_by_template(tmp_path, templates, **plug) -> dict[str, tuple[str, list[str]]]:
    """One axolotl run with one dataset per template (the same row, each with its own
    dataset-level chat template): {template: (decoded text, trained runs)}."""
    datasets = []
    for template in templates:
        data = write_jsonl(tmp_path / f"{template}.jsonl", [ROW])
        jinja = str(real_chat_template(template))
        datasets.append({"path": str(data), "type": "plug", "chat_template": "jinja", "chat_template_jinja": jinja})
    settings = {"target_language": "zh", "pivot_channel": "reasoning", **plug}
    raw = cpu_config(
        real_tokenizer_dir("qwen2"), tmp_path, tmp_path, settings, datasets=datasets, shuffle_merged_datasets=False
    )
    dataset, tokenizer = tokenize_with_axolotl({**raw, **EXTRA})
    assert len(dataset) == len(templates)
    return {t: (tokenizer.decode(row["input_ids"]), trained_runs(row, tokenizer)) for t, row in zip(templates, dataset)}


def test_real_templates_train_markers_pivot_answer_and_end_of_turn(tmp_path):
    found = trained_by_template(tmp_path, list(SUPPORTED))
    for template, trained in SUPPORTED.items():
        text, runs = found[template]
        assert runs == [trained], template  # one run: nothing of the system or user turn
        assert SYSTEM in text and text.index(ROW["instruction"]) < text.index(PIVOT), template


def test_without_pivot_training_the_thinking_is_masked(tmp_path):
    found = trained_by_template(tmp_path, list(WITHOUT_PIVOT), train_on_pivot=False)
    assert {template: runs for template, (_, runs) in found.items()} == {t: [r] for t, r in WITHOUT_PIVOT.items()}


def test_a_template_without_a_thinking_channel_is_refused_before_any_row(tmp_path):
    template = "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B"
    data = write_jsonl(tmp_path / "rows.jsonl", [ROW])
    settings = {
        "target_language": "zh",
        "pivot_channel": "reasoning",
        "chat_template": str(real_chat_template(template)),
    }
    with pytest.raises(ThinkingTemplateError) as refused:
        tokenize_with_axolotl(cpu_config(real_tokenizer_dir("qwen2"), tmp_path, data, settings))
    message = str(refused.value)
    assert f"{template}.jinja' (plug.chat_template) {NO_CHANNEL}" in message
    assert f"reasoning needs a template that renders it: {WORKING_TEMPLATES}" in message
    assert "With this template, use pivot_channel: content." in message


@pytest.mark.parametrize("template", REFUSED)
def test_the_probe_refuses_each_template_without_a_thinking_channel(template):
    renderer = ChatRenderer(real_tokenizer("qwen2"), real_chat_template(template).read_text())
    with pytest.raises(ThinkingTemplateError, match=f"chat template {template} {NO_CHANNEL}"):
        probe(renderer.render, template)


@pytest.mark.parametrize("template", list(SUPPORTED))
def test_the_probe_finds_each_templates_key_and_markers(template):
    channel = probe(ChatRenderer(real_tokenizer("qwen2"), real_chat_template(template).read_text()).render, template)
    expected = {
        "Qwen-Qwen3-0.6B": ("reasoning_content", ("<think>", "</think>")),
        "Qwen3.5-4B": ("reasoning_content", ("<think>", "</think>")),
        "openai-gpt-oss-120b": (
            "thinking",
            ("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"),
        ),
        "GLM-4.6": ("reasoning_content", ("<think>", "</think>")),
    }
    assert (channel.key, channel.markers) == expected[template]


def test_markers_that_are_not_single_tokens_are_warned_about(caplog):
    tokenizer = copy.deepcopy(real_tokenizer("qwen2"))  # tokens are added to it below
    renderer = ChatRenderer(tokenizer, real_chat_template("Qwen-Qwen3-0.6B").read_text())
    with caplog.at_level(logging.WARNING):
        thinking_channel(renderer, "'qwen3.jinja'", tokenizer)
    (warning,) = [r.getMessage() for r in caplog.records if "not single tokens" in r.getMessage()]
    assert "chat template 'qwen3.jinja' are not single tokens" in warning
    assert "'<think>' is 3 tokens, '</think>' is 3 tokens" in warning
    assert "axolotl's `tokens: ['<think>', '</think>']`" in warning
    tokenizer.add_tokens(["<think>", "</think>"])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        thinking_channel(renderer, "'qwen3.jinja'", tokenizer)
    assert not [r for r in caplog.records if "not single tokens" in r.getMessage()]


def test_target_first_and_monolingual_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="a model thinks before it answers"):
        PlugConfig(pivot_channel="reasoning", order="target_first")
    with pytest.raises(ValueError, match="no pivot sections to put in the thinking channel"):
        PlugConfig(pivot_channel="reasoning", mode="monolingual")


def test_a_generation_prompt_that_does_not_lead_into_the_trained_answer_is_refused():
    """axolotl's bundled `qwen3` prompts with `<think>\n\n` but renders an answer as
    `<think>\nR`: trained so, the model would write a thinking it is never prompted into."""
    from tests.helpers.models import bundled_chat_templates

    with pytest.raises(ThinkingTemplateError) as refused:
        probe(
            ChatRenderer(real_tokenizer("qwen2"), bundled_chat_templates()["qwen3"]).render, "'qwen3' (chat_template)"
        )
    assert "chat template 'qwen3' (chat_template): its generation prompt ends '\\n' where a conversation" in str(
        refused.value
    )


def test_prebuilt_and_laid_out_rows_give_the_same_thinking_and_answer():
    config = PlugConfig(target_language="zh", pivot_channel="reasoning")
    laid_out = build_conversation(ROW, config)
    prebuilt = {"instruction": ROW["instruction"], "response": f"{PIVOT}\n\n中文回复：\n{TARGET}"}
    rebuilt = build_conversation(prebuilt, config.model_copy(update={"prebuilt": True}))
    assert laid_out.messages == rebuilt.messages
    assert laid_out.messages[-1] == {"role": "assistant", "reasoning_content": PIVOT, "content": TARGET}
    assert laid_out.messages[0] == {"role": "system", "content": SYSTEM}


@pytest.mark.parametrize("template", ["Qwen-Qwen3-0.6B", "openai-gpt-oss-120b"])
def test_preference_rows_are_the_reasoning_channels_sft_rendering(template):
    """DPO's prompt / chosen / rejected: the SFT rendering of the row with each answer,
    an answer given as the model writes it (thinking, closing marker, target) or in parts."""
    from axolotl_plug.dataset.preference import preference_texts

    renderer = ChatRenderer(real_tokenizer("qwen2"), real_chat_template(template).read_text())
    key = probe(renderer.render, template).key
    config = PlugConfig(target_language="zh", pivot_channel="reasoning", thinking_markers=list(THINKING[template]))
    opening, closing = THINKING[template]
    row = {
        "instruction": ROW["instruction"],
        "chosen": f"{opening}\n{PIVOT}\n{closing}\n\n{TARGET}",
        "rejected": {"response": "巴黎。", "pivot_response": "Paris.", "pivot_instruction": ROW["pivot_instruction"]},
    }
    texts = preference_texts(row, config, renderer, thinking_key=key)
    sft = build_conversation(ROW, config).messages
    sft[-1] = renamed(sft[-1], key)
    assert texts["prompt"] + texts["chosen"] == renderer.render(sft).rstrip()
    end_of_turn = {"Qwen-Qwen3-0.6B": "<|im_end|>", "openai-gpt-oss-120b": "<|return|>"}[template]
    assert texts["chosen"] == f"{opening}{chr(10) if key == 'reasoning_content' else ''}{PIVOT}" + (
        f"\n{closing}\n\n{TARGET}{end_of_turn}" if key == "reasoning_content" else f"{closing}{TARGET}{end_of_turn}"
    )
    assert "English response:\nParis." in texts["rejected"] and "巴黎。" in texts["rejected"]
    with pytest.raises(RowError, match="no target answer"):
        preference_texts({**row, "chosen": f"{opening}\n{PIVOT}"}, config, renderer, thinking_key=key)


THINKING = {
    "Qwen-Qwen3-0.6B": ("<think>", "</think>"),
    "openai-gpt-oss-120b": ("<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"),
}


def test_audit_shows_the_thinking_and_the_answer_and_checks_the_closing_marker_is_trained(tmp_path):
    import yaml

    from tests.helpers.commands import plug_in_process

    data = write_jsonl(tmp_path / "rows.jsonl", [ROW])
    for template, train_on_pivot in (("Qwen-Qwen3-0.6B", True), ("GLM-4.6", False)):
        settings = {
            "target_language": "zh",
            "pivot_channel": "reasoning",
            "chat_template": str(real_chat_template(template)),
            "train_on_pivot": train_on_pivot,
        }
        raw = {**cpu_config(real_tokenizer_dir("qwen2"), tmp_path, data, settings), **EXTRA}
        path = tmp_path / "cfg.yml"
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        result = plug_in_process("audit", str(path), "-n", "1")
        assert result.returncode == 0, result.stderr[-3000:]
        sizes = (len(ROW["pivot_instruction"]), len(ROW["pivot_response"]), len(TARGET))
        assert "thinking: pivot instruction {} chars, pivot answer {} chars; answer: {} chars (ok)".format(*sizes) in (
            result.stdout
        ), template
        assert "problem" not in result.stdout.lower(), result.stdout


@pytest.mark.parametrize(
    "template, refusal",
    [
        # renders the thinking, drops the answer
        (
            "{% for m in messages %}{{ m.get('reasoning_content', m['content']) }}{% endfor %}",
            "drops the answer of a final assistant message that has a thinking",
        ),
        # answer first
        (
            "{% for m in messages %}{{ m['content'] }}{{ m.get('reasoning_content', '') }}{% endfor %}",
            "writes the answer before the thinking",
        ),
        # nothing between thinking and answer
        (
            "{% for m in messages %}{{ m.get('reasoning_content', '') }}{{ m['content'] }}{% endfor %}",
            "writes no marker between the thinking and the answer",
        ),
    ],
)
def test_the_probe_says_what_is_wrong_with_a_template(template, refusal):
    with pytest.raises(ThinkingTemplateError, match=refusal):
        probe(ChatRenderer(real_tokenizer("qwen2"), template).render, "'custom.jinja'")


def test_the_answer_layout_headers_and_pivot_instruction_flag_shape_the_thinking(tmp_path):
    layout = tmp_path / "my_layout.jinja"
    layout.write_text(
        "{{ pivot_response_header }} {{ pivot_response }}\n---\n{{ target_response_header }} {{ target_response }}",
        encoding="utf-8",
    )
    config = PlugConfig(
        target_language="zh",
        pivot_channel="reasoning",
        include_pivot_instruction=False,
        answer_template=str(layout),
        headers={"en": {"response": "Answer:"}},
    )
    message = build_conversation(ROW, config).messages[-1]
    # the layout up to the target header, stripped; the target answer carries no header
    assert message == {
        "role": "assistant",
        "reasoning_content": f"Answer: {ROW['pivot_response']}\n---",
        "content": TARGET,
    }
    assert build_conversation(ROW, config).messages[0]["content"] == (
        "Think in English: respond in English. Then give your answer in Chinese."
    )
