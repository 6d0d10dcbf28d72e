"""Evaluation: metric functions, `axolotl plug generate` and its resume, sharded generation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.metrics import metrics_by_language, plug_metrics, score_answer
from tests.helpers.commands import plug_in_process
from tests.helpers.models import cpu_config
from tests.helpers.rows import REPO, ROWS, write_jsonl

LANGS = ["en", "zh", "ko"]
GOOD_ZH = "English response: Paris is the capital of France.\n中文回复：巴黎是法国的首都。"


def judged(lang, output, reference=None):
    record = {"id": "x", "lang": lang, "instruction": "q", "reference": reference}
    return score_answer(record, output, PlugConfig(), LANGS)


def test_metrics_on_hand_written_outputs():
    outputs = [
        judged("zh", GOOD_ZH, reference="巴黎是法国的首都。"),
        # right format, but the Korean answer's second sentence is English
        judged("ko", "English response: Seoul.\n한국어 응답: 서울은 한국의 수도입니다. It is a big city."),
        judged("zh", "中文回复：巴黎。\nEnglish response: Paris."),  # target first
        judged("zh", "Paris is the capital of France."),  # no headers at all
        judged("ko", ""),  # nothing generated
        judged("zh", "English response: 12345\n中文回复：12345"),  # no letters to identify
    ]
    assert [j.status for j in outputs] == ["ok", "ok", "target_first", "missing_target", "missing_target", "ok"]
    assert [j.target_lang for j in outputs] == ["zh", "ko", "zh", None, None, None]
    assert [j.pivot_lang for j in outputs] == ["en", "en", "en", None, None, None]
    leak = outputs[1].pivot_leak
    assert 0.3 < leak < 0.8  # "It is a big city." is most of the letters but not all
    got = plug_metrics(outputs, "en")
    assert got["format_ok"] == pytest.approx(3 / 6)
    assert got["target_lang_ok"] == pytest.approx(3 / 6)
    assert got["pivot_lang_ok"] == pytest.approx(3 / 6)
    assert got["pivot_leak"] == pytest.approx(leak / 6)
    assert got["target_chars"] == pytest.approx(sum(len(j.target) for j in outputs) / 6)
    assert got["chrf"] == pytest.approx(100.0)  # the only referenced answer is exact


def test_metrics_split_by_language_when_mixed_and_monolingual_mode():
    outputs = [judged("zh", GOOD_ZH), judged("ko", "English response: Hi.\n한국어 응답: 안녕하세요.")]
    metrics = metrics_by_language(outputs, "en")
    assert metrics["plug/format_ok"] == 1.0
    assert metrics["plug/zh/target_lang_ok"] == 1.0 and metrics["plug/ko/target_chars"] == len("안녕하세요.")
    mono = score_answer(
        {"id": "1", "lang": "zh", "instruction": "q"}, "巴黎是法国的首都。", PlugConfig(mode="monolingual"), LANGS
    )
    assert (mono.status, mono.target, mono.target_lang) == ("ok", "巴黎是法国的首都。", "zh")
    assert "pivot_lang_ok" not in plug_metrics([mono], "en", mode="monolingual")


@pytest.fixture()
def generate_config(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    cfg = cpu_config(tiny_model_dir, tmp_path, data, {"target_language": "zh", "chat_template": "plug_tulu"})
    path = tmp_path / "cfg.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    instructions = write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {"id": f"q{i}", "instruction": row["instruction"], "lang": row["lang"], "dataset": "demo"}
            for i, row in enumerate(ROWS)
        ],
    )
    return path, instructions


def test_generate_writes_alpaca_eval_lines_and_resumes(tiny_model_dir, tmp_path, generate_config):
    config, instructions = generate_config
    output = tmp_path / "answers.jsonl"
    # an interrupted earlier run: two answers done, the third line torn mid-write
    earlier = [
        {
            "id": "q0",
            "instruction": ROWS[0]["instruction"],
            "output": "KEEP",
            "raw_output": "KEEP",
            "status": "missing_target",
            "generator": "g",
            "lang": "zh",
        },
        {
            "id": "q1",
            "instruction": ROWS[1]["instruction"],
            "output": "KEEP",
            "raw_output": "KEEP",
            "status": "missing_target",
            "generator": "g",
            "lang": "ko",
        },
    ]
    output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in earlier) + '{"id": "q2", "instr')

    result = plug_in_process(
        "generate",
        str(config),
        "--instructions",
        str(instructions),
        "--output",
        str(output),
        "--model-dir",
        str(tiny_model_dir),
        "--max-new-tokens",
        "8",
        "--generator",
        "tiny",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [line["id"] for line in lines[:2]] == ["q0", "q1"] and sorted(line["id"] for line in lines) == [
        "q0",
        "q1",
        "q2",
        "q3",
    ]
    assert lines[0]["raw_output"] == "KEEP" and lines[1]["raw_output"] == "KEEP"  # not asked again
    for line in lines[2:]:
        assert set(line) >= {"id", "instruction", "output", "raw_output", "status", "generator", "lang", "dataset"}
        assert line["generator"] == "tiny" and line["dataset"] == "demo"
    assert "plug/format_ok" in result.stdout and "plug/target_lang_ok" in result.stdout


DIST_SCRIPT = r"""
import json, sys
from pathlib import Path
import torch
from accelerate import Accelerator
from transformers import AutoModelForCausalLM, AutoTokenizer
from axolotl_plug.eval.callback import generate_sharded

model_dir, out = sys.argv[1], Path(sys.argv[2])
accelerator = Accelerator(cpu=True)
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = accelerator.prepare(AutoModelForCausalLM.from_pretrained(model_dir))
prompts = [tokenizer(f"<s>question {i}", add_special_tokens=False)["input_ids"] for i in range(5)]
result = generate_sharded(model, accelerator, tokenizer, prompts, max_new_tokens=4, batch_size=2)
out.with_suffix(f".rank{accelerator.process_index}").write_text(json.dumps(result))
"""


def test_sharded_generation_gathers_every_prompt_once_across_two_processes(tiny_model_dir, tmp_path):
    script = tmp_path / "dist.py"
    script.write_text(DIST_SCRIPT)
    import socket

    with socket.socket() as probe:  # a free port, not a fixed one another process may hold
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # axolotl's config loader, run in-process by other tests, exports distributed and
    # accelerate settings; the two workers must start from a clean slate
    leaked = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in leaked and not k.startswith("ACCELERATE_")}
    env.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            str(script),
            str(tiny_model_dir),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    per_rank = [json.loads((tmp_path / f"out.rank{r}").read_text()) for r in (0, 1)]
    assert per_rank[0] == per_rank[1]  # every rank holds the gathered answers
    indices = [index for index, _, _ in per_rank[0]]
    ranks = {rank for _, _, rank in per_rank[0]}
    assert indices == [0, 1, 2, 3, 4] and ranks == {0, 1}


def test_eval_split_prompts_are_the_training_prompts(tiny_model_dir, tmp_path):
    from axolotl_plug.args import PlugConfig
    from axolotl_plug.eval.sources import eval_split_records
    from tests.helpers.models import tokenize_with_axolotl

    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    dataset, tokenizer = tokenize_with_axolotl(
        cpu_config(tiny_model_dir, tmp_path, data, {"chat_template": "plug_tulu"})
    )
    records = eval_split_records(dataset, tokenizer, PlugConfig(), limit=4)
    by_lang = {r["lang"]: r for r in records}
    assert set(by_lang) == {"zh", "ko", "it", "es"}
    ko = next(row for row in ROWS if row["lang"] == "ko")
    system = "Please interpret the instruction in English, and then respond both in English and in Korean."
    assert by_lang["ko"]["instruction"] == f"<s><|system|>\n{system}\n<|user|>\n{ko['instruction']}\n<|assistant|>\n"
    assert by_lang["ko"]["reference"] == ko["response"]
    assert tokenizer.decode(by_lang["ko"]["prompt_ids"]) == by_lang["ko"]["instruction"]


def test_generation_is_batched_left_padded_and_restores_training_mode(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.eval.generation import generate_from_ids

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.train()
    prompts = [
        tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("<s>a", "<s>a much longer prompt here")
    ]
    together = list(generate_from_ids(model, tokenizer, prompts, max_new_tokens=5, batch_size=2))
    alone = [next(generate_from_ids(model, tokenizer, [p], max_new_tokens=5, batch_size=1)) for p in prompts]
    assert together == alone  # left padding leaves each answer as if generated alone
    assert model.training
