"""PLUG preference tuning: `type: plug` under `rl: dpo` through axolotl's own preference
pipeline, `data prefs` from real judge runs, and `axolotl train` with `rl: dpo`."""

from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from axolotl_plug.args import PlugConfig
from axolotl_plug.dataset.layout import build_conversation
from tests.helpers.commands import PYTHON_LAUNCHER, plug_in_process, run_axolotl
from tests.helpers.engine import FakeEngine
from tests.helpers.models import cpu_config, load_config, tokenize_with_axolotl
from tests.helpers.rows import ROWS, write_jsonl

ZH = ROWS[0]
OBJECT = {
    "pivot_instruction": ZH["pivot_instruction"],
    "pivot_response": ZH["pivot_response"],
    "response": ZH["response"],
}
OTHER = {
    "pivot_instruction": "Say something about Paris.",
    "pivot_response": "Paris has many museums.",
    "response": "巴黎有很多博物馆。",
}


def preference_rows_with_axolotl(raw: dict):
    """axolotl's preference pipeline on a config (the path `axolotl train` takes under `rl:`)."""
    from axolotl.common.datasets import load_preference_datasets

    return load_preference_datasets(cfg=load_config(raw)).train_dataset


@pytest.mark.parametrize("template", [{"chat_template": "chatml"}, {"plug": "plug_tulu"}], ids=["chatml", "plug_tulu"])
def test_preference_rows_are_the_sft_rendering(tiny_model_dir, tmp_path, template):
    """prompt, chosen and rejected equal the SFT rendering of the same row, up to the
    assistant's start and from it; a whole PLUG answer and the same answer as an object
    give the same text."""
    plug = {"target_language": "zh", **({"chat_template": template["plug"]} if "plug" in template else {})}
    top = {"chat_template": template["chat_template"]} if "chat_template" in template else {}
    laid_out = build_conversation({**ZH, "response": ZH["response"]}, PlugConfig(target_language="zh")).answer
    prefs = write_jsonl(
        tmp_path / "prefs.jsonl",
        [
            {"instruction": ZH["instruction"], "lang": "zh", "chosen": OBJECT, "rejected": OTHER},
            {"instruction": ZH["instruction"], "lang": "zh", "chosen": laid_out, "rejected": OTHER},
        ],
    )
    rows = preference_rows_with_axolotl(cpu_config(tiny_model_dir, tmp_path / "dpo", prefs, plug, rl="dpo", **top))
    assert len(rows) == 2 and set(rows.column_names) == {"prompt", "chosen", "rejected"}
    assert rows[0] == rows[1]  # the whole answer reads as the object it was laid out from

    sft_rows = write_jsonl(tmp_path / "sft.jsonl", [ZH])
    sft, tokenizer = tokenize_with_axolotl(cpu_config(tiny_model_dir, tmp_path / "sft", sft_rows, plug, **top))
    ids, labels = sft[0]["input_ids"], sft[0]["labels"]
    start = next(i for i, label in enumerate(labels) if label != -100)
    assert tokenizer.decode(ids[:start]) == rows[0]["prompt"]  # system and user turns, up to the assistant's start
    answer = tokenizer.decode(ids[start:])
    assert answer.rstrip() == rows[0]["chosen"] and answer.startswith("English instruction:")
    assert rows[0]["chosen"].endswith(("<|im_end|>", "</s>"))  # with its end of turn
    assert rows[0]["rejected"].startswith("English instruction:\nSay something about Paris.")


def test_bad_preference_rows_are_named_or_counted(tiny_model_dir, tmp_path):
    prefs = write_jsonl(
        tmp_path / "prefs.jsonl",
        [
            {"instruction": ZH["instruction"], "lang": "zh", "chosen": OBJECT, "rejected": OTHER},
            {
                "instruction": ZH["instruction"],
                "lang": "zh",
                "chosen": "an answer without any header",
                "rejected": OTHER,
            },
        ],
    )
    skipping = cpu_config(tiny_model_dir, tmp_path, prefs, {"target_language": "zh", "on_bad_row": "skip"}, rl="dpo")
    assert len(preference_rows_with_axolotl(skipping)) == 1
    strict = cpu_config(tiny_model_dir, tmp_path / "strict", prefs, {"target_language": "zh"}, rl="dpo")
    with pytest.raises(
        Exception, match=r"the row with instruction '用一句话介绍巴黎。': field 'chosen': no target header"
    ):
        preference_rows_with_axolotl(strict)


def test_monolingual_keeps_the_target_answers(tiny_model_dir, tmp_path):
    laid_out = build_conversation(ZH, PlugConfig(target_language="zh")).answer
    prefs = write_jsonl(
        tmp_path / "prefs.jsonl",
        [{"instruction": ZH["instruction"], "lang": "zh", "chosen": laid_out, "rejected": OTHER}],
    )
    rows = preference_rows_with_axolotl(
        cpu_config(
            tiny_model_dir,
            tmp_path,
            prefs,
            {"target_language": "zh", "mode": "monolingual"},
            rl="dpo",
            chat_template="chatml",
        )
    )
    assert rows[0]["chosen"] == ZH["response"] + "<|im_end|>"
    assert rows[0]["rejected"] == OTHER["response"] + "<|im_end|>"
    assert "respond to the following user message in Chinese" in rows[0]["prompt"]


def test_train_on_pivot_off_is_refused_under_dpo(tmp_path):
    from axolotl_plug.config import apply_plug_config

    cfg = {
        "rl": "dpo",
        "plug": {"target_language": "zh", "train_on_pivot": False},
        "datasets": [{"path": "p.jsonl", "type": "plug"}],
    }
    with pytest.raises(
        ValueError, match="train_on_pivot: false under rl: dpo: the preference trainer scores whole answers"
    ):
        apply_plug_config(cfg)
    with pytest.raises(ValueError, match="rl: dpo, ipo, simpo"):
        apply_plug_config({"rl": "kto", "plug": {"target_language": "zh"}, "datasets": [{"path": "p", "type": "plug"}]})


# -- data prefs --------------------------------------------------------------------------
# per id: the slot the judge prefers with A's answer first, then with B's first
PLAN = {
    "win": ("a", "a"),
    "slight": ("a", "tie"),
    "tie": ("tie", "tie"),
    "error": ("a", None),
    "missing_target": ("a", "a"),
    "english": ("a", "a"),
    "b_wins": ("b", "b"),
}


def planned_judge(body, number):
    user = body["messages"][1]["content"]
    item = re.search(r"\[User instruction\]\n(\w+)", user).group(1)
    slot_a = user.split("[Answer A]\n")[1].split("\n\n[Answer B]")[0]
    first = "b" if "答案B" in slot_a else "a"
    wanted = PLAN[item][0 if first == "a" else 1]
    if wanted is None:
        return "I cannot decide."
    if wanted == "tie":
        return "[[C]]"
    return "[[A]]" if wanted == first else "[[B]]"


def answer(rid: str, side: str) -> dict:
    target = "The answer in English." if rid == "english" and side == "a" else f"答案{side.upper()}：{rid}。"
    raw = f"English response:\nAnswer {side} for {rid}.\n\n中文回复：\n{target}"
    status = "missing_target" if rid == "missing_target" and side == "b" else "ok"
    return {
        "id": rid,
        "lang": "zh",
        "instruction": rid,
        "output": target,
        "raw_output": raw,
        "status": status,
        "generator": f"sample-{side}",
    }


def test_data_prefs_keeps_winners_and_counts_what_it_drops(tmp_path):
    from axolotl_plug.eval.judge.run import run_judge
    from axolotl_plug.io.client import ChatClient

    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": rid, "instruction": rid} for rid in PLAN])
    a = write_jsonl(tmp_path / "a.jsonl", [answer(rid, "a") for rid in PLAN])
    b = write_jsonl(tmp_path / "b.jsonl", [answer(rid, "b") for rid in PLAN])
    with FakeEngine(planned_judge) as server:
        run_judge(str(bench), a, b, tmp_path / "judged", ChatClient("judge", server.url), reasks=0, progress=False)
    out = tmp_path / "prefs.jsonl"
    result = plug_in_process(
        "data",
        "prefs",
        "--a",
        str(a),
        "--b",
        str(b),
        "--judgments",
        str(tmp_path / "judged"),
        "--require-target-language",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert sorted(rows) == ["b_wins", "slight", "win"]
    assert (
        rows["win"]["chosen"] == answer("win", "a")["raw_output"]
        and rows["win"]["rejected"] == answer("win", "b")["raw_output"]
    )
    assert rows["b_wins"]["chosen_system"] == "sample-b" and rows["slight"]["outcome"] == "slight_a"
    assert "preference rows: 3 written" in result.stdout and "(2 wins, 1 slight wins)" in result.stdout
    assert "dropped: 1 tie, 1 judge error, 1 no target section, 1 target not in the target language" in result.stdout
    assert "mean target answer: chosen" in result.stdout

    swapped = plug_in_process(
        "data",
        "prefs",
        "--a",
        str(b),
        "--b",
        str(a),
        "--judgments",
        str(tmp_path / "judged"),
        "--output",
        str(tmp_path / "other.jsonl"),
    )
    assert swapped.returncode == 1 and "give the same files, in the same order" in swapped.stderr
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"instruction": "keep me"}\n')
    refused = plug_in_process(
        "data", "prefs", "--a", str(a), "--b", str(b), "--judgments", str(tmp_path / "judged"), "--output", str(mine)
    )
    assert refused.returncode == 1 and mine.read_text() == '{"instruction": "keep me"}\n'


# -- the loop on a real model ------------------------------------------------------------------


def prefer_one_answer(body, number):
    """A judge with a fixed taste, whatever the order: the answer that sorts first wins."""
    user = body["messages"][1]["content"]
    first, second = user.split("[Answer A]\n")[1].split("\n\n[Answer B]\n")
    return "[[C]]" if first == second else "[[A]]" if first < second else "[[B]]"


def test_sample_judge_prefs_and_dpo_train(plug_trained, tmp_path):
    """Two sampled generate runs of the SFT model, judged by a loopback judge, turned
    into preference rows by `data prefs` (exactly the rows the judging rule gives),
    which axolotl's DPO loader puts in their chosen and rejected slots; `axolotl train`
    with `rl: dpo` starts at the reference (loss ln 2, margin 0) and ends with the
    chosen answers ahead, and the PLUG callback reports its metrics at the evaluation."""
    config, model_dir, _ = plug_trained
    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [{"id": i, "instruction": ROWS[i % 4]["instruction"], "lang": ROWS[i % 4]["lang"]} for i in range(12)],
    )
    runs = []
    for seed in (1, 2):
        out = tmp_path / f"sample-{seed}.jsonl"
        result = plug_in_process(
            "generate",
            str(config),
            "--instructions",
            str(bench),
            "--max-new-tokens",
            "120",
            "--temperature",
            "0.5",
            "--seed",
            str(seed),
            "--generator",
            f"sample-{seed}",
            "--output",
            str(out),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert all((row["temperature"], row["top_p"], row["seed"]) == (0.5, 1.0, seed) for row in lines)
        runs.append(out)
    assert [json.loads(x)["raw_output"] for x in runs[0].read_text().splitlines()] != [
        json.loads(x)["raw_output"] for x in runs[1].read_text().splitlines()
    ]  # two seeds, two candidates
    with FakeEngine(prefer_one_answer) as server:
        judged = plug_in_process(
            "judge",
            "--instructions",
            str(bench),
            "--a",
            str(runs[0]),
            "--b",
            str(runs[1]),
            "--judge-model",
            "j",
            "--base-url",
            server.url,
            "--output",
            str(tmp_path / "judged"),
        )
    assert judged.returncode == 0, judged.stderr[-2000:]
    prefs = tmp_path / "prefs.jsonl"
    built = plug_in_process(
        "data",
        "prefs",
        "--a",
        str(runs[0]),
        "--b",
        str(runs[1]),
        "--judgments",
        str(tmp_path / "judged"),
        "--output",
        str(prefs),
    )
    assert built.returncode == 0, built.stderr[-2000:] + built.stdout
    # the rows by the rule: the judge prefers, in both orders, the target answer that sorts
    # first; equal answers tie; a pair where either answer has no target section is dropped
    a_rows, b_rows = ({row["id"]: row for row in map(json.loads, run.read_text().splitlines())} for run in runs)
    expected = []
    for rid, a_row in a_rows.items():
        b_row = b_rows[rid]
        if a_row["output"] == b_row["output"] or "ok" != a_row["status"] or "ok" != b_row["status"]:
            continue
        won, lost = (a_row, b_row) if a_row["output"] < b_row["output"] else (b_row, a_row)
        expected.append((rid, won["raw_output"], lost["raw_output"]))
    written = [(row["id"], row["chosen"], row["rejected"]) for row in map(json.loads, prefs.read_text().splitlines())]
    assert written == expected and len(written) >= 2

    plug = {
        "target_language": "zh",
        "chat_template": "plug_tulu",
        "eval": {"instructions": str(bench), "num_samples": 2, "max_new_tokens": 8, "batch_size": 2},
    }
    steps = len(written)  # one epoch, one row a step
    cfg = cpu_config(
        model_dir,
        tmp_path,
        prefs,
        plug,
        rl="dpo",
        max_steps=steps,
        micro_batch_size=1,
        test_datasets=[{"path": str(prefs), "type": "plug", "split": "train"}],
        eval_steps=steps,
        shuffle_merged_datasets=False,
    )
    path = tmp_path / "dpo.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    # chosen and rejected reach their slots: axolotl's own DPO loader, as the audit runs it
    audit = plug_in_process("audit", str(path), "-n", str(steps))
    assert audit.returncode == 0, audit.stderr[-2000:]
    for _, chosen, rejected in written:
        assert f"\nchosen:\n{chosen}" in audit.stdout and f"\nrejected:\n{rejected}" in audit.stdout

    result = run_axolotl("train", str(path), *PYTHON_LAUNCHER)
    assert result.returncode == 0, result.stderr[-3000:]
    logged = result.stdout + result.stderr

    def logged_values(key: str) -> list[float]:
        return [float(v) for v in re.findall(rf"'{re.escape(key)}': '?([-\d.e]+)'?", logged)]

    losses, margins = logged_values("loss"), logged_values("rewards/margins")
    # the first step's policy is its reference: every reward is 0 and the loss is -log sigmoid(0) = ln 2
    assert margins[0] == 0.0 and abs(losses[0] - math.log(2)) < 1e-3
    assert all(math.isfinite(v) for v in losses)
    # after an epoch on the rows, the same rows' chosen answers gain on their rejected ones
    # (the margin a reversed chosen/rejected would make negative)
    before, after = logged_values("eval_rewards/margins")  # evaluated before the first step and after the last
    assert before == 0.0 and after > 0
    assert "'plug/format_ok'" in logged  # the PLUG callback still reports during DPO


def test_audit_shows_prompt_chosen_and_rejected(tiny_model_dir, tmp_path):
    prefs = write_jsonl(
        tmp_path / "prefs.jsonl",
        [{"instruction": ZH["instruction"], "lang": "zh", "chosen": OBJECT, "rejected": OTHER}],
    )
    cfg = cpu_config(tiny_model_dir, tmp_path, prefs, {"target_language": "zh", "chat_template": "plug_tulu"}, rl="dpo")
    path = tmp_path / "dpo.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    result = plug_in_process("audit", str(path), "-n", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("preference rows: 1\n\n-- sample row 0\nprompt:\n<s><|system|>\n")
    assert "\nchosen:\nEnglish instruction:\nDescribe Paris in one sentence." in result.stdout
    assert "\nrejected:\nEnglish instruction:\nSay something about Paris." in result.stdout
