"""The real `axolotl train` CLI on a tiny model, and every shipped example config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.templates import template_dir
from tests.helpers.commands import PYTHON_LAUNCHER, run_axolotl
from tests.helpers.models import cpu_config, load_config
from tests.helpers.rows import REPO, ROWS, write_jsonl

CONVERSATION = [  # (user, its English version, assistant, its English version)
    ("你好。", "Hello.", "你好！", "Hi!"),
    ("你是谁？", "Who are you?", "我是助手。", "I am an assistant."),
    ("再见。", "Goodbye.", "再见！", "Goodbye!"),
]
PLUG_KEYS = ["format_ok", "target_lang_ok", "pivot_lang_ok", "pivot_leak", "target_chars", "pivot_chars", "chrf"]


def test_axolotl_train_with_eval_callback_and_saved_template(plug_trained, tmp_path):
    """One real `axolotl train` run, continuing the PLUG-trained test model at a learning
    rate too small to change its answers: the evaluation callback logs every plug/ key
    (per language too) with the values their definitions give on the answers of its step
    files; the saved tokenizer carries plug_tulu. The data mixes single-turn rows with a
    three-turn conversation, every assistant turn trained (`turns: all`)."""
    _, trained_dir, _ = plug_trained
    messages = []
    for user, pivot_user, assistant, pivot_assistant in CONVERSATION:
        messages += [
            {"role": "user", "content": user, "pivot": pivot_user},
            {"role": "assistant", "content": assistant, "pivot": pivot_assistant},
        ]
    data = write_jsonl(tmp_path / "rows.jsonl", [*ROWS * 3, {"lang": "zh", "messages": messages}])
    singles = [
        {"id": f"b{i}", "instruction": r["instruction"], "lang": r["lang"], "reference": r["response"]}
        for i, r in enumerate(ROWS[:3])
    ]
    multi = {"id": "m0", "turns": [ROWS[0]["instruction"], "再说一遍。"], "lang": "zh"}  # MT-Bench's form
    bench = write_jsonl(tmp_path / "bench.jsonl", [*singles, multi])
    plug = {
        "target_language": "zh",
        "chat_template": "plug_tulu",
        "turns": "all",
        "eval": {"instructions": str(bench), "num_samples": 4, "max_new_tokens": 120, "batch_size": 2},
    }
    cfg = cpu_config(
        trained_dir, tmp_path, data, plug, val_set_size=2, eval_steps=1, max_steps=2, learning_rate=1e-9, seed=0
    )
    path = tmp_path / "train.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")

    result = run_axolotl("train", str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    logged = result.stdout + result.stderr
    assert f"{len(ROWS) * 3 + 1} rows gave {len(ROWS) * 3 + 3} training rows, one per trained assistant turn" in logged
    for key in PLUG_KEYS:
        assert f"'plug/{key}'" in logged, key
        assert f"'plug/ko/{key}'" in logged, key  # the three prompts mix zh, ko and it
    steps = sorted(p.name for p in (tmp_path / "out" / "plug_eval").glob("step_*.jsonl"))
    assert steps == ["step_0.jsonl", "step_1.jsonl", "step_2.jsonl"]
    lines = [json.loads(line) for line in (tmp_path / "out" / "plug_eval" / "step_2.jsonl").read_text().splitlines()]
    # the two-turn row answered turn by turn, after the single-turn rows
    assert [(line["id"], line["turn"]) for line in lines] == [
        ("b0", None),
        ("b1", None),
        ("b2", None),
        ("m0", 1),
        ("m0", 2),
    ]
    assert [line["instruction"] for line in lines[3:]] == multi["turns"]
    assert set(lines[0]) >= {
        "id",
        "lang",
        "instruction",
        "raw_output",
        "target",
        "pivot",
        "status",
        "target_lang",
        "pivot_lang",
    }

    assert any(r["status"] == "ok" and r["target"] and r["pivot"] for r in lines)  # real PLUG answers to score
    assert_logged_as_defined(logged, lines, ("zh", "ko"))

    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert saved.chat_template == (template_dir() / "plug_tulu.jinja").read_text(encoding="utf-8")
    prompt = saved.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt == "<s><|system|>\nS\n<|user|>\nU\n<|assistant|>\n"
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_eval_callback_on_a_reasoning_channel_model(reasoning_trained):
    """The model trained with the pivot in Qwen3's thinking channel: the evaluation
    callback reads each answer at the template's markers (the pivot sections in the
    thinking, the target after it) and logs the values their definitions give."""
    _, out, logged = reasoning_trained
    lines = [json.loads(line) for line in (out / "plug_eval" / "step_60.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == ["b0", "b1", "b2"]
    fmt = AnswerFormat.from_config(PlugConfig(target_language="zh", pivot_channel="reasoning"), "zh")
    for line in lines:
        assert line["raw_output"].startswith("<think>\n")  # the model writes the template's thinking channel
        found = fmt.extract(line["raw_output"])
        assert (line["status"], line["target"], line["pivot"]) == (found.status, found.target, found.pivot)
    # the pivot is the English response inside the thinking, the target starts after the closing marker
    ok = [(line, row) for line, row in zip(lines, ROWS) if line["status"] == "ok"]
    assert ok and all(line["pivot"] == row["pivot_response"] for line, row in ok)
    assert all(line["target"].startswith(row["response"]) for line, row in ok)
    assert_logged_as_defined(logged, lines, ("zh", "ko", "it"))


def assert_logged_as_defined(logged: str, lines: list[dict], langs) -> None:
    """The plug/ values logged at the last evaluation equal their definitions
    (docs/evaluation.md) over the answers of that evaluation's step file, overall and
    per language."""

    def last_logged(key: str) -> float:
        return float(re.findall(rf"'plug/{re.escape(key)}': '?([-\d.e]+)'?", logged)[-1])

    def share(rows, test) -> float:
        return sum(map(test, rows)) / len(rows)

    def mean(values) -> float:
        values = list(values)
        return sum(values) / len(values)

    for prefix, rows in [("", lines)] + [(f"{lang}/", [r for r in lines if r["lang"] == lang]) for lang in langs]:
        expected = {
            "format_ok": share(rows, lambda r: r["status"] == "ok"),
            "target_lang_ok": share(rows, lambda r: r["target_lang"] == r["lang"]),
            "pivot_lang_ok": share(rows, lambda r: r["pivot_lang"] == "en"),
            "target_chars": mean(len(r["target"]) for r in rows),
            "pivot_chars": mean(len(r["pivot"]) for r in rows),
        }
        for key, value in expected.items():
            # the console log rounds: 2 decimals, 4 significant digits
            assert last_logged(prefix + key) == pytest.approx(value, rel=5e-4, abs=0.0051), prefix + key


EXAMPLES = sorted((REPO / "example_configs").glob("*.yml"))


def test_there_are_paper_baseline_lora_and_demo_configs():
    names = {p.name for p in EXAMPLES}
    assert {
        "plug_zh.yml",
        "plug_ko.yml",
        "plug_it.yml",
        "plug_es.yml",
        "baseline_zh.yml",
        "plug_lora_qwen.yml",
        "plug_demo.yml",
        "plug_dpo_zh.yml",
        "plug_zh_fsdp.yml",
        "plug_qwen3_zh.yml",
        "plug_conversations_zh.yml",
        "plug_grpo_zh.yml",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_validates_with_axolotl(path, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # configs use repo-relative paths, as `make demo` does
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["base_model"] = str(tiny_model_dir)
    raw["output_dir"] = str(tmp_path / "out")
    # in this process axolotl's loader would start DeepSpeed's NCCL process group for
    # `deepspeed` and set accelerate's FSDP variables for `fsdp_config`, for every later
    # test: those two go through a real `axolotl preprocess` below, keys in place
    raw.pop("deepspeed", None), raw.pop("fsdp_config", None), raw.pop("fsdp_version", None)
    cfg = load_config(raw)
    assert cfg.plug["target_language"] == raw["plug"].get("target_language")
    types = {"grpo": "axolotl_plug.grpo", "dpo": "axolotl_plug.preference", None: "axolotl_plug.dataset.strategy"}
    expected = types[raw.get("rl")]
    assert all(ds["type"] == expected for ds in cfg.datasets)
    assert "/plug-" in cfg.dataset_prepared_path
    if raw["plug"].get("chat_template") == "plug_tulu":
        assert cfg.chat_template == "jinja" and "<|assistant|>" in cfg.chat_template_jinja


@pytest.mark.parametrize("name", ["plug_zh.yml", "plug_zh_fsdp.yml"])
def test_deepspeed_and_fsdp_examples_preprocess_with_their_keys_in_place(name, tiny_model_dir, tmp_path):
    """The ZeRO-3 and FSDP2 example configs, with only the model and the data swapped for
    the test's: the real `axolotl preprocess` validates them and prepares the PLUG data
    with `deepspeed` / `fsdp_config` in place, on CPU. That is as far as axolotl goes
    without a GPU (docs/training.md says where `axolotl train` stops)."""
    from tests.helpers import deepspeed_site

    raw = yaml.safe_load((REPO / "example_configs" / name).read_text(encoding="utf-8"))
    assert raw.get("deepspeed") or raw.get("fsdp_config")
    env = {}
    if raw.get("deepspeed"):
        raw["deepspeed"] = str(REPO / raw["deepspeed"])
        assert json.loads(Path(raw["deepspeed"]).read_text())["zero_optimization"]["stage"] == 3
        if not (deepspeed_site.FOLDER / "deepspeed").is_dir():
            pytest.fail(
                f"DeepSpeed for this test is missing: run `make test`, which installs it in {deepspeed_site.FOLDER}"
            )
        env["PYTHONPATH"] = str(deepspeed_site.FOLDER)
    else:
        assert raw["fsdp_version"] == 2 and raw["fsdp_config"]["state_dict_type"] == "FULL_STATE_DICT"
    raw |= {
        "base_model": str(tiny_model_dir),
        "datasets": [{"path": str(write_jsonl(tmp_path / "rows.jsonl", ROWS)), "type": "plug"}],
        "dataset_prepared_path": str(tmp_path / "prepared"),
        "output_dir": str(tmp_path / "out"),
    }
    config = tmp_path / name
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = run_axolotl("preprocess", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Success! Preprocessed data path" in result.stdout + result.stderr
    (prepared,) = (tmp_path / "prepared").glob("plug-*")
    assert any(prepared.iterdir())


def test_merge_lora_folder_carries_the_trained_chat_template_and_split(tiny_model_dir, tmp_path):
    """A real LoRA `axolotl train`, then the real `axolotl merge-lora` with each of its
    methods: OUTPUT_DIR/merged renders prompts with the chat template the model was
    trained with (plug_tulu, not the base's) and splits a PLUG answer with its own
    tokenizer, the response_template as training saved it."""
    import shutil

    from transformers import AutoTokenizer

    data = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    lora = dict(adapter="lora", lora_r=4, lora_alpha=8, lora_target_linear=True)
    kernels = dict(lora_mlp_kernel=False, lora_qkv_kernel=False, lora_o_kernel=False)
    plug = {"target_language": "zh", "chat_template": "plug_tulu"}
    cfg = cpu_config(tiny_model_dir, tmp_path, data, plug, **lora, **kernels)
    path = tmp_path / "train.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    trained = run_axolotl("train", str(path), *PYTHON_LAUNCHER, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    out = tmp_path / "out"
    saved = json.loads((out / "tokenizer_config.json").read_text(encoding="utf-8"))["response_template"]

    for method in ("memory_efficient", "legacy"):
        shutil.rmtree(out / "merged", ignore_errors=True)
        path.write_text(yaml.safe_dump({**cfg, "merge_method": method}, allow_unicode=True), encoding="utf-8")
        merged = run_axolotl("merge-lora", str(path), cwd=tmp_path)
        assert merged.returncode == 0, merged.stderr[-3000:]
        carried = json.loads((out / "merged" / "tokenizer_config.json").read_text(encoding="utf-8"))
        assert carried["response_template"] == saved, method
        tokenizer = AutoTokenizer.from_pretrained(out / "merged")
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True
        )
        assert prompt == tokenizer.bos_token + "<|user|>\n你好\n<|assistant|>\n", method  # plug_tulu, as trained
        parsed = tokenizer.parse_response("English response:\nHello.\n\n中文回复：\n你好。", prefix=prompt)
        assert (parsed["thinking"], parsed["content"]) == ("English response:\nHello.", "你好。"), method
