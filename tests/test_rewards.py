"""The PLUG rewards for GRPO on written-out answers: each expected value comes from the
reward's definition (axolotl_plug/rewards.py) and the X-SVAMP table in docs/evaluation.md."""

from __future__ import annotations

import pytest

from axolotl_plug import rewards
from axolotl_plug.args import PlugConfig

PIVOT_INSTRUCTION = "English instruction:\nWhat is 6 times 7?"
PIVOT_ANSWER = "English response:\n6 times 7 is 42."
TARGET = "中文回复：\n六乘以七等于42。"
WHOLE = f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}\n\n{TARGET}"


@pytest.fixture(autouse=True)
def zh_run():
    rewards.configure(PlugConfig(target_language="zh"))
    yield
    rewards.configure(None)


def all_rewards(completions, **columns) -> dict[str, list]:
    names = ("plug_format", "target_language", "pivot_language", "answer_match", "consistency")
    return {name: getattr(rewards, name)(completions, **columns) for name in names}


def test_complete_partial_reordered_and_empty_answers():
    completions = [
        WHOLE,
        f"{PIVOT_ANSWER}\n\n{TARGET}",  # the restated instruction missing
        TARGET,  # no pivot section
        f"{TARGET}\n\n{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}",  # target first, against plug.order
        f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}",  # no target section
        "",
    ]
    assert rewards.plug_format(completions) == [1.0, 0.5, 0.5, 0.5, 0.0, 0.0]
    assert rewards.target_language(completions) == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert rewards.pivot_language(completions) == [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]


def test_target_in_the_wrong_language_and_the_pivot_leaking_into_it():
    wrong = f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}\n\n中文回复：\n6 times 7 is 42."
    # one Chinese sentence, then one English one: the share is the Chinese sentence's letters
    leaking = f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}\n\n中文回复：\n六乘以七等于四十二。The answer is forty-two."
    chinese = sum(ch.isalpha() for ch in "六乘以七等于四十二")  # 9
    english = sum(ch.isalpha() for ch in "The answer is forty-two.")  # 19
    assert (chinese, english) == (9, 19)
    assert rewards.target_language([wrong, leaking]) == [0.0, pytest.approx(chinese / (chinese + english))]
    assert rewards.plug_format([wrong, leaking]) == [1.0, 1.0]  # the format is right; the language reward says the rest


def test_numbers_read_by_the_x_svamp_rule():
    def answer(text: str) -> str:
        return f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}\n\n中文回复：\n{text}"

    completions = [answer("答案是12,34"), answer("一共1,000个"), answer("是3.5"), answer("42"), answer("没有数字")]
    golds = [34, 1000, 3.5, 42, 0]
    # 12,34 reads 34; 1,000 reads 1000; 3.5 reads 5 (the last integer); no digit reads nothing
    assert rewards.answer_match(completions, answer=golds) == [1.0, 1.0, 0.0, 1.0, 0.0]
    # the pivot answer says 42: only the target answer that says 42 is consistent with it
    assert rewards.consistency(completions, answer=golds) == [0.0, 0.0, 0.0, 1.0, 0.0]
    # rows without an answer get no score: None, as TRL expects
    assert rewards.answer_match(completions[:2], answer=[None, 1000]) == [None, 1.0]
    assert rewards.consistency(completions[:2]) == [None, None]


def test_conversational_completions_and_the_row_language():
    korean = "English instruction:\nSay hi.\n\nEnglish response:\nHi!\n\n한국어 응답:\n안녕하세요!"
    completions = [[{"role": "assistant", "content": WHOLE}], [{"role": "assistant", "content": korean}]]
    found = all_rewards(completions, lang=["zh", "ko"], answer=[42, None])
    assert found == {
        "plug_format": [1.0, 1.0],
        "target_language": [1.0, 1.0],
        "pivot_language": [1.0, 1.0],
        "answer_match": [1.0, None],
        "consistency": [1.0, None],
    }
    # read as Chinese rows, the Korean answer has no target section
    assert rewards.plug_format(completions, lang=["zh", "zh"]) == [1.0, 0.0]


def test_the_reasoning_channel_text_or_split_by_the_engine():
    rewards.configure(PlugConfig(target_language="zh", pivot_channel="reasoning"))
    thinking = f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}"
    completions = [
        f"<think>\n{thinking}\n</think>\n\n六乘以七等于42。",
        [{"role": "assistant", "reasoning_content": thinking, "content": "六乘以七等于42。"}],  # split by the engine
        f"<think>\n{PIVOT_ANSWER}\n</think>\n\n六乘以七等于42。",  # the restated instruction missing
        f"<think>\n{thinking}\n",  # the thinking never closed: no answer
    ]
    assert all_rewards(completions, answer=[42, 42, 42, 42]) == {
        "plug_format": [1.0, 1.0, 0.5, 0.0],
        "target_language": [1.0, 1.0, 1.0, 0.0],
        "pivot_language": [1.0, 1.0, 1.0, 1.0],
        "answer_match": [1.0, 1.0, 1.0, 0.0],
        "consistency": [1.0, 1.0, 1.0, 0.0],
    }


def test_a_row_with_no_language_anywhere_says_so():
    rewards.configure(PlugConfig())
    with pytest.raises(ValueError, match="give the rows a `lang` column or set plug.target_language"):
        rewards.plug_format([WHOLE])


def test_the_plugin_hands_the_runs_settings_to_the_rewards(tiny_model_dir, tiny_tokenizer, tmp_path):
    """Reward functions get only the dataset's columns: the plugin gives them the run's
    `plug:` block once the trainer is built (here a Korean run with the target first)."""
    from types import SimpleNamespace

    from axolotl_plug.plugin import PlugPlugin
    from tests.helpers.models import cpu_config, load_config
    from tests.helpers.rows import ROWS, write_jsonl

    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    cfg = load_config(cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "ko", "order": "target_first"}))
    rewards.configure(None)
    assert PlugPlugin().add_callbacks_post_trainer(cfg, SimpleNamespace(processing_class=tiny_tokenizer)) == []
    korean_first = "한국어 응답:\n안녕하세요!\n\nEnglish instruction:\nSay hi.\n\nEnglish response:\nHi!"
    assert rewards.plug_format([korean_first, WHOLE]) == [1.0, 0.0]  # Korean, target first; no Korean section


def test_type_plug_under_rl_grpo_gives_the_sft_prompt_answer_and_language(tiny_model_dir, tmp_path):
    """axolotl's own RL dataset loading with `rl: grpo`: each row becomes the messages
    PLUG SFT puts before the answer (rendered by the run's chat template, the very text SFT
    leaves untrained), its `answer` and its language, for the rewards."""
    from axolotl.common.datasets import load_preference_datasets
    from transformers import AutoTokenizer

    from tests.helpers.models import cpu_config, load_config, tokenize_with_axolotl
    from tests.helpers.rows import ROWS, write_jsonl

    rows = [dict(ROWS[0], answer=42), ROWS[1]]
    data = write_jsonl(tmp_path / "prompts.jsonl", rows)
    plug = {"target_language": "zh", "chat_template": "plug_tulu"}
    trl = {"reward_funcs": ["axolotl_plug.rewards.plug_format", "axolotl_plug.rewards.answer_match"]}
    raw = cpu_config(tiny_model_dir, tmp_path / "grpo", data, plug, rl="grpo", trl=trl, shuffle_merged_datasets=False)
    prompts = load_preference_datasets(cfg=load_config(raw)).train_dataset
    assert set(prompts.column_names) == {"prompt", "answer", "lang"}
    system = "Please interpret the instruction in English, and then respond both in English and in {}."
    assert prompts[0]["prompt"] == [
        {"role": "system", "content": system.format("Chinese")},
        {"role": "user", "content": ROWS[0]["instruction"]},
    ]
    assert [p["answer"] for p in prompts] == [42, None] and [p["lang"] for p in prompts] == ["zh", "ko"]

    sft, tokenizer = tokenize_with_axolotl(
        cpu_config(tiny_model_dir, tmp_path / "sft", data, plug, shuffle_merged_datasets=False)
    )
    start = next(i for i, label in enumerate(sft[1]["labels"]) if label != -100)
    saved = AutoTokenizer.from_pretrained(tiny_model_dir)
    rendered = tokenizer.apply_chat_template(prompts[1]["prompt"], tokenize=False, add_generation_prompt=True)
    assert rendered == tokenizer.decode(sft[1]["input_ids"][:start])  # the Korean row, as SFT renders it
    assert saved.chat_template != tokenizer.chat_template  # the run's template (plug_tulu), not the base model's
