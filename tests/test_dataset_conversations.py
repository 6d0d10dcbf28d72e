"""Conversation rows (`messages`): the trained assistant turn laid out as a PLUG answer, the
earlier turns as history in their target-language content only, read back by decoding
the trained tokens of axolotl's own pipeline with the real Qwen2 tokenizer, on ChatML,
plug_tulu and Qwen3's own template with the pivot in its thinking channel."""

from __future__ import annotations

import pytest
import yaml

from axolotl_plug.args import PlugConfig
from axolotl_plug.dataset.layout import RowError, build_conversation, build_conversations
from axolotl_plug.dataset.strategy import PlugDataError, recording_reports
from axolotl_plug.format.templates import template_dir
from tests.helpers.commands import plug_in_process
from tests.helpers.models import cpu_config, tokenize_with_axolotl, trained_runs
from tests.helpers.real_templates import real_chat_template
from tests.helpers.real_tokenizers import real_tokenizer_dir
from tests.helpers.rows import ROWS, write_jsonl

TURNS = [  # (user, its English version, assistant, its English version)
    ("用一句话介绍巴黎。", "Describe Paris in one sentence.", "巴黎是法国的首都。", "Paris is the capital of France."),
    ("再说一个事实。", "Give one more fact.", "巴黎有埃菲尔铁塔。", "Paris has the Eiffel Tower."),
    ("谢谢！用一个词总结。", "Thanks! Sum it up in one word.", "浪漫。", "Romantic."),
]


def conversation(k: int, **extra) -> dict:
    """A Chinese conversation of the first k turns, each message with its English version."""
    messages = []
    for user, pivot_user, assistant, pivot_assistant in TURNS[:k]:
        messages += [
            {"role": "user", "content": user, "pivot": pivot_user},
            {"role": "assistant", "content": assistant, "pivot": pivot_assistant},
        ]
    return {"lang": "zh", "messages": messages, **extra}


CONVERSATIONS = [conversation(1), conversation(2), conversation(3)]


def single_turn_answer(turn: int, config: PlugConfig) -> tuple[str | None, str]:
    """(reasoning, content) of the same turn given as a single-turn row: the trained turn
    of a conversation is laid out exactly so."""
    user, pivot_user, assistant, pivot_assistant = TURNS[turn - 1]
    row = {
        "instruction": user,
        "response": assistant,
        "pivot_instruction": pivot_user,
        "pivot_response": pivot_assistant,
    }
    built = build_conversation({**row, "lang": "zh"}, config)
    return built.reasoning, built.answer


def tokenized(
    tmp_path, rows, templates: dict[str, str], dataset: dict | None = None, **plug
) -> dict[str, list[tuple[str, list[str]]]]:
    """One axolotl run with one dataset per chat template (dataset-level; `dataset`: more
    dataset keys), the same rows in each: {template: [(decoded text, trained runs) per
    training row]}."""
    data = write_jsonl(tmp_path / "conversations.jsonl", rows)
    datasets = [
        {"path": str(data), "type": "plug", "chat_template": "jinja", "chat_template_jinja": jinja, **(dataset or {})}
        for jinja in templates.values()
    ]
    raw = cpu_config(
        real_tokenizer_dir("qwen2"),
        tmp_path,
        data,
        {"target_language": "zh", **plug},
        datasets=datasets,
        shuffle_merged_datasets=False,
        tokens=["<think>", "</think>"],
        eot_tokens=["<|im_end|>"],
    )
    dataset, tokenizer = tokenize_with_axolotl(raw)
    decoded = [(tokenizer.decode(row["input_ids"]), trained_runs(row, tokenizer)) for row in dataset]
    per = len(decoded) // len(templates)
    return {name: decoded[i * per : (i + 1) * per] for i, name in enumerate(templates)}


CONTENT_TEMPLATES = {
    "chatml": str(real_chat_template("Qwen-Qwen2.5-7B-Instruct")),
    "plug_tulu": str(template_dir() / "plug_tulu.jinja"),
}
END_OF_TURN = {"chatml": "<|im_end|>", "plug_tulu": "<|im_end|>"}  # plug_tulu ends a turn with the eos token


def assert_history(text: str, turn: int) -> None:
    """The earlier turns are in the text as the target-language content only, in order."""
    at = 0
    for user, pivot_user, assistant, pivot_assistant in TURNS[: turn - 1]:
        assert text.index(user, at) < text.index(assistant, at), turn
        at = text.index(assistant, at)
        assert pivot_assistant not in text and pivot_user not in text, turn
    assert TURNS[turn - 1][0] in text[at:]


@pytest.mark.parametrize(
    ("turns", "dataset"),
    [
        ("last", None),
        ("all", None),
        # a role besides the assistant's to train: axolotl's own strategy labels the rows
        ("all", {"roles_to_train": ["assistant", "tool"]}),
    ],
)
def test_the_trained_turn_is_a_plug_answer_after_target_only_history(tmp_path, turns, dataset):
    config = PlugConfig(target_language="zh")
    found = tokenized(tmp_path, CONVERSATIONS, CONTENT_TEMPLATES, dataset, turns=turns)
    expected_turns = [1, 2, 3] if turns == "last" else [1, 1, 2, 1, 2, 3]
    for name, rows in found.items():
        assert len(rows) == len(expected_turns), name
        for (text, runs), turn in zip(rows, expected_turns):
            _, answer = single_turn_answer(turn, config)
            assert runs == [answer + END_OF_TURN[name]], (name, turn)  # only the trained turn and its end of turn
            assert text.count("English response:") == 1 and text.rstrip().endswith(END_OF_TURN[name])
            assert_history(text, turn)


@pytest.mark.parametrize("turns", ["last", "all"])
def test_in_the_thinking_channel_on_qwen3(tmp_path, turns):
    """Qwen3's template renders the thinking of the trained turn only; the history's
    answers are plain content, as a client sends them back."""
    config = PlugConfig(target_language="zh", pivot_channel="reasoning")
    found = tokenized(
        tmp_path,
        CONVERSATIONS,
        {"qwen3": str(real_chat_template("Qwen-Qwen3-0.6B"))},
        pivot_channel="reasoning",
        turns=turns,
    )
    expected_turns = [1, 2, 3] if turns == "last" else [1, 1, 2, 1, 2, 3]
    assert len(found["qwen3"]) == len(expected_turns)
    for (text, runs), turn in zip(found["qwen3"], expected_turns):
        reasoning, answer = single_turn_answer(turn, config)
        assert runs == [f"<think>\n{reasoning}\n</think>\n\n{answer}<|im_end|>"], turn
        assert text.count("<think>") == 1
        assert_history(text, turn)


def test_a_dataset_mixes_single_turn_and_conversation_rows():
    config = PlugConfig(target_language="zh", turns="all")
    single = {**ROWS[0]}
    mixed = [dict(single, messages=None), {**conversation(2), "instruction": None, "response": None}]
    built = [c for row in mixed for c in build_conversations(row, config)]
    assert [c.turn for c in built] == [0, 1, 2]
    assert built[0].messages[-2] == {"role": "user", "content": single["instruction"]}
    # the second turn's history: system, first question, first answer (content only), second question
    assert [m["role"] for m in built[2].messages] == ["system", "user", "assistant", "user", "assistant"]
    assert built[2].messages[2] == {"role": "assistant", "content": TURNS[0][2]}


def test_a_conversations_own_system_message_replaces_the_plug_prompt():
    row = conversation(1)
    row["messages"] = [{"role": "system", "content": "  Be brief.  "}, *row["messages"]]
    (built,) = build_conversations(row, PlugConfig(target_language="zh"))
    assert built.messages[0] == {"role": "system", "content": "Be brief."}


BAD = [
    (
        {"messages": [{"role": "assistant", "content": "x"}]},
        "field 'messages' (message 0): role 'assistant' out of order (expected 'user')",
        "messages: role 'assistant' out of order",
    ),
    (
        {"messages": conversation(2)["messages"][:3]},
        "field 'messages' (message 2): ends with a user message (nothing to train)",
        "messages: ends with a user message",
    ),
    (
        {"messages": [*conversation(1)["messages"][:1], {"role": "assistant", "content": " ", "pivot": "x"}]},
        "field 'messages' (message 1, assistant): empty content",
        "messages: empty content",
    ),
    (
        {"messages": [*conversation(1)["messages"][:1], {"role": "assistant", "content": "好。"}]},
        "field 'messages' (message 1, the trained assistant turn): no 'pivot' (the pivot-language version)",
        "messages: no 'pivot'",
    ),
    (
        {"messages": [{"role": "user", "content": "问？"}, *conversation(1)["messages"][1:]]},
        "field 'messages' (message 0, its user turn): no 'pivot' (the pivot-language version)",
        "messages: no 'pivot'",
    ),
    (
        {"messages": "hello"},
        "field 'messages': expected a list of messages, got str 'hello'",
        "messages: expected a list of messages, got str 'hello'",
    ),
]


@pytest.mark.parametrize(("row", "message", "reason"), BAD)
def test_bad_conversations_name_the_message(row, message, reason):
    with pytest.raises(RowError) as bad:
        build_conversations({"lang": "zh", **row}, PlugConfig(target_language="zh"))
    assert (str(bad.value), bad.value.reason) == (message, reason)


def long_conversation() -> dict:
    """Three turns whose third question alone fills sequence_len (512)."""
    row = conversation(3)
    row["messages"][4] = dict(row["messages"][4], content="请 " * 600)
    return row


def test_bad_conversations_stop_training_naming_row_and_turn(tiny_model_dir, tmp_path):
    rows = [conversation(1), {"lang": "zh", "messages": conversation(1)["messages"][:1]}, long_conversation()]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    with pytest.raises(PlugDataError) as err:
        tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "turns": "all"}))
    message = str(err.value)
    assert "2 of 5 training rows (conversation turns) cannot be used" in message
    assert "row 1: field 'messages' (message 0): ends with a user message (nothing to train)" in message
    assert (
        "row 2: field 'messages' (assistant turn 3): no trainable token within sequence_len=512 "
        "(the conversation up to this turn is" in message
    )


def test_skipped_turns_are_counted_and_the_audit_shows_history_and_trained_turn(tiny_model_dir, tmp_path):
    rows = [conversation(2), {"lang": "zh", "messages": "x"}, long_conversation(), dict(ROWS[0], messages=None)]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    plug = {"target_language": "zh", "turns": "all", "on_bad_row": "skip", "chat_template": "plug_tulu"}
    with recording_reports() as reports:
        dataset, _ = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path, data, plug))
    (report,) = reports
    # 2 + 1 (the bad row) + 3 + 1 training rows; the bad row and the too-long third turn dropped
    assert (report.rows_in, report.rows_out, len(dataset)) == (4, 5, 5)
    assert (report.rows, report.turns) == ([0, 0, 2, 2, 3], [1, 2, 1, 2, 0])
    assert report.dropped == {
        "messages: expected a list of messages, got str 'x'": 1,
        "messages: no trainable token within sequence_len=512": 1,
    }

    config = tmp_path / "audit.yml"
    config.write_text(yaml.safe_dump(cpu_config(tiny_model_dir, tmp_path, data, plug), allow_unicode=True))
    result = plug_in_process("audit", str(config), "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "rows in: 4  training rows (one per trained turn): 7  kept: 5  dropped: 2" in out
    second = out[out.index("-- sample row 0, assistant turn 2 (zh):") :]
    assert "history: 1 earlier assistant turn, in their target-language content, not trained" in second
    first_answer = second.index(TURNS[0][2])  # the first answer, as history: not trained, no pivot
    assert second[first_answer - 1] != "⟦" and "Paris is the capital of France." not in second
    assert f"<|assistant|>\n⟦English instruction:\n{TURNS[1][1]}" in second


def test_dpo_on_a_conversation_is_the_sft_rendering_of_its_last_turn(tiny_model_dir, tmp_path):
    """`type: plug` under `rl: dpo` through axolotl's own preference pipeline: a
    conversation ending with the user's message, its answers as objects or as whole PLUG
    answers. prompt is the SFT rendering up to the last turn's assistant start (the
    history in target content only), chosen the SFT rendering from there; bad rows name
    the answer or the message."""
    from axolotl.common.datasets import load_preference_datasets

    from tests.helpers.models import load_config

    config = PlugConfig(target_language="zh")
    history = conversation(2)["messages"][:3]  # turn 1, then the second question
    user, pivot_user, answer, pivot_answer = TURNS[1]
    chosen = {"response": answer, "pivot_response": pivot_answer}
    rejected = {"response": "不知道。", "pivot_response": "I do not know."}
    whole = build_conversations(conversation(2), config)[-1].answer  # the same answer laid out
    rows = [
        {"lang": "zh", "messages": history, "chosen": chosen, "rejected": rejected},
        {"lang": "zh", "messages": history, "chosen": whole, "rejected": rejected},
        {
            "lang": "zh",
            "messages": conversation(1)["messages"],
            "chosen": chosen,
            "rejected": rejected,
        },  # ends with an answer
        {"lang": "zh", "messages": history, "chosen": "no headers at all", "rejected": rejected},
    ]
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    plug = {"target_language": "zh", "on_bad_row": "skip", "chat_template": "plug_tulu"}
    raw = cpu_config(tiny_model_dir, tmp_path / "dpo", data, plug, rl="dpo")
    prefs = load_preference_datasets(cfg=load_config(raw)).train_dataset
    assert len(prefs) == 2 and prefs[0] == prefs[1]  # the whole answer reads as the object it was laid out from

    sft_data = write_jsonl(tmp_path / "sft.jsonl", [conversation(2)])
    sft, tokenizer = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path / "sft", sft_data, plug))
    ids, labels = sft[0]["input_ids"], sft[0]["labels"]
    start = next(i for i, label in enumerate(labels) if label != -100)
    assert tokenizer.decode(ids[:start]) == prefs[0]["prompt"]
    assert tokenizer.decode(ids[start:]).rstrip() == prefs[0]["chosen"]
    assert f"<|assistant|>\n{TURNS[0][2]}</s>" in prefs[0]["prompt"] and TURNS[0][3] not in prefs[0]["prompt"]
    assert prefs[0]["rejected"].startswith(f"English instruction:\n{pivot_user}\n\nEnglish response:\nI do not know.")

    with pytest.raises(PlugDataError) as refused:
        load_preference_datasets(cfg=load_config({**raw, "plug": {**plug, "on_bad_row": "error"}}))
    assert (
        "the row with instruction '用一句话介绍巴黎。': field 'messages': the conversation must end with the user's message"
        in str(refused.value)
    )
    from axolotl_plug.dataset.preference import preference_texts

    with pytest.raises(RowError) as bad:
        preference_texts(rows[3], config, renderer=_renderer(tokenizer))
    assert str(bad.value).startswith("field 'chosen': no target header")


def _renderer(tokenizer):
    from axolotl_plug.dataset.render import ChatRenderer

    return ChatRenderer(tokenizer, (template_dir() / "plug_tulu.jinja").read_text(encoding="utf-8"))


def test_the_conversation_example_trains_every_turn(tiny_model_dir, tmp_path, monkeypatch):
    """example_configs/plug_conversations_zh.yml on its data, the model swapped for the
    test's: one training row per assistant turn, each training exactly that turn's PLUG
    answer (its English instruction and response, then the Chinese answer)."""
    import json

    from tests.helpers.rows import REPO

    monkeypatch.chdir(REPO)
    raw = yaml.safe_load((REPO / "example_configs/plug_conversations_zh.yml").read_text(encoding="utf-8"))
    raw.update(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "out"), adapter=None)
    raw.update(dataset_prepared_path=str(tmp_path / "prepared"), bf16=False, tf32=False, gradient_checkpointing=False)
    dataset, tokenizer = tokenize_with_axolotl(raw)
    rows = [
        json.loads(line) for line in (REPO / "example_configs/data/conversations_zh.jsonl").read_text().splitlines()
    ]
    turns = [
        (m, row["messages"][i - 1]) for row in rows for i, m in enumerate(row["messages"]) if m["role"] == "assistant"
    ]
    assert len(dataset) == len(turns) == 7
    expected = sorted(
        f"English instruction:\n{question['pivot']}\n\nEnglish response:\n{answer['pivot']}\n\n"
        f"中文回复：\n{answer['content']}{tokenizer.eos_token}"
        for answer, question in turns
    )
    assert sorted(run for row in dataset for run in trained_runs(row, tokenizer)) == expected  # axolotl shuffles


def test_prebuilt_conversations_train_whole_answers_after_target_only_history(tiny_model_dir, tmp_path):
    """`plug.prebuilt` on a conversation whose assistant messages are whole PLUG answers
    (the paper's released form, turn by turn): each trained turn trains its whole answer;
    in the history an answer is its target section alone."""
    config = PlugConfig(target_language="zh")
    answers = [single_turn_answer(turn, config)[1] for turn in (1, 2)]
    row = conversation(2)
    for message, answer in zip(row["messages"][1::2], answers):
        message["content"] = answer
        del message["pivot"]
    data = write_jsonl(tmp_path / "prebuilt.jsonl", [row])
    plug = {"target_language": "zh", "prebuilt": True, "turns": "all", "chat_template": "plug_tulu"}
    dataset, tokenizer = tokenize_with_axolotl(
        cpu_config(tiny_model_dir, tmp_path, data, plug, shuffle_merged_datasets=False)
    )
    found = [(tokenizer.decode(r["input_ids"]), trained_runs(r, tokenizer)) for r in dataset]
    assert [runs for _, runs in found] == [[answers[0] + "</s>"], [answers[1] + "</s>"]]
    second = found[1][0]
    assert f"<|assistant|>\n{TURNS[0][2]}</s>" in second and second.count("English response:") == 1
