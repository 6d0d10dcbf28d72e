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
    # as TRL passes it for a PLUG-trained model: split by the folder's response_template, the
    # pivot sections as `thinking`, the target header consumed
    split = [{"role": "assistant", "thinking": f"{PIVOT_INSTRUCTION}\n\n{PIVOT_ANSWER}", "content": "六乘以七等于42。"}]
    assert all_rewards([split], answer=[42]) == {name: [1.0] for name in found}


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


@pytest.mark.parametrize("rl", ["grpo", "gdpo"])
def test_type_plug_under_rl_grpo_gives_the_sft_prompt_answer_and_language(tiny_model_dir, tmp_path, rl):
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
    raw = cpu_config(tiny_model_dir, tmp_path / rl, data, plug, rl=rl, trl=trl, shuffle_merged_datasets=False)
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


def test_axolotl_train_grpo_logs_the_plug_rewards_of_the_completions_it_scored(plug_trained, tmp_path):
    """The real `axolotl train` with `rl: grpo` on CPU (rollouts by transformers' generate,
    two steps, two generations per prompt), from the PLUG-trained test model: each reward is
    logged under its name, the loss is finite, and the first step's logged means are the
    rewards of the completions that step scored (recorded by a zero-weight reward beside them)."""
    import json
    import math
    import re

    import yaml

    from tests.helpers.commands import PYTHON_LAUNCHER, run_axolotl
    from tests.helpers.models import cpu_config
    from tests.helpers.rows import REPO, ROWS, write_jsonl

    _, trained, _ = plug_trained
    data = write_jsonl(tmp_path / "prompts.jsonl", [dict(r, answer=42) for r in ROWS])
    names = ["plug_format", "target_language", "pivot_language", "answer_match", "consistency"]
    trl = {
        "use_vllm": False,
        "num_generations": 2,
        "max_completion_length": 160,
        "temperature": 0.2,
        "reward_funcs": [f"axolotl_plug.rewards.{name}" for name in names] + ["tests.helpers.recording_reward.record"],
        "reward_weights": [1.0] * len(names) + [0.0],
    }
    plug = {"target_language": "zh", "chat_template": "plug_tulu"}
    cfg = cpu_config(trained, tmp_path, data, plug, rl="grpo", trl=trl, micro_batch_size=2, max_steps=2, seed=0)
    path = tmp_path / "grpo.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    recorded = tmp_path / "recorded.jsonl"
    result = run_axolotl(
        "train", str(path), *PYTHON_LAUNCHER, env={"PLUG_RECORD_REWARDS": str(recorded), "PYTHONPATH": str(REPO)}
    )
    logged = result.stdout + result.stderr
    assert result.returncode == 0, logged[-3000:]

    step, _ = [json.loads(line) for line in recorded.read_text(encoding="utf-8").splitlines()]  # one call a step
    # the plugin handed the rewards this run's plug: block (its template path is the run's own)
    assert step["settings"]["target_language"] == "zh"
    assert step["settings"]["chat_template"].endswith("plug_tulu.jinja")
    rewards.configure(PlugConfig(target_language="zh"))
    for name in names:
        values = [v for v in getattr(rewards, name)(step["completions"], lang=step["lang"], answer=step["answer"])]
        mean = sum(values) / len(values)
        shown = float(re.search(rf"'rewards/{name}/mean': '?([-\d.e]+)'?", logged).group(1))  # the first step's
        assert shown == pytest.approx(mean, rel=5e-4, abs=5e-4), name  # the console rounds to 4 significant digits
    losses = [float(v) for v in re.findall(r"'loss': '?([-\d.e]+)'?", logged)]
    assert len(losses) == 2 and all(map(math.isfinite, losses))  # a loss each step
    assert any(v > 0 for v in rewards.plug_format(step["completions"], lang=step["lang"]))  # real PLUG answers scored
