"""`axolotl plug generate`: full-length answers, truncation marks, the reference's
extraction rule, and generation on a real serving engine (`transformers serve`)."""

from __future__ import annotations

import json

from axolotl_plug.format.answer import AnswerFormat, extract
from tests.helpers.commands import plug_in_process
from tests.helpers.rows import ROWS, write_jsonl


def reference_target(text, lang, order="pivot_first"):
    return AnswerFormat.of(lang, order=order).reference_target(text)


def read(path):
    return {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_served_generation_gives_the_local_answers(plug_trained, plug_trained_served, tmp_path):
    config, model_dir, bench = plug_trained
    args = ["generate", str(config), "--instructions", str(bench)]
    runs = {"whole": "200", "cut": "16"}  # room for every answer; a limit that cuts them all
    for name, limit in runs.items():
        local = plug_in_process(
            *args, "--max-new-tokens", limit, "--output", str(tmp_path / f"local-{name}.jsonl"), "--batch-size", "1"
        )
        assert local.returncode == 0, local.stderr[-3000:]
    for name, limit in runs.items():
        served = plug_in_process(
            *args,
            "--max-new-tokens",
            limit,
            "--output",
            str(tmp_path / f"served-{name}.jsonl"),
            "--base-url",
            plug_trained_served,
            "--served-model",
            str(model_dir),
            "--concurrency",
            "2",
        )
        assert served.returncode == 0, served.stderr[-3000:]
    for name in runs:
        here, there = read(tmp_path / f"local-{name}.jsonl"), read(tmp_path / f"served-{name}.jsonl")
        assert sorted(here) == sorted(there) == list(range(len(ROWS)))  # integer ids stay integers
        assert sum(row["raw_output"].startswith("English instruction:") for row in here.values()) >= 3
        for rid in here:  # the same prompt, greedy: the same answer
            assert there[rid]["raw_output"] == here[rid]["raw_output"]
            assert there[rid]["output"] == here[rid]["output"]
            assert there[rid]["truncated"] == here[rid]["truncated"]
            assert here[rid]["truncated"] or name == "whole"  # the short limit cuts every answer
    whole = read(tmp_path / "served-whole.jsonl").values()
    # whole PLUG answers that ended by themselves (a tiny model's: some may ramble to the limit)
    assert any(row["status"] == "ok" and row["output"] and not row["truncated"] for row in whole)
    assert "answers 4: truncated by the token limit 4, no target answer 4" in served.stdout


def test_default_limit_is_what_sequence_len_leaves(plug_trained, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.config import read_config
    from axolotl_plug.eval.answers import file_counts
    from axolotl_plug.eval.generation import generate_file, prompt_ids
    from axolotl_plug.format.prompt import prompt_messages
    from axolotl_plug.io.records import load_instructions

    config_path, model_dir, bench = plug_trained
    _, config = read_config(config_path)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    records = load_instructions(str(bench))[:1]
    prompt = prompt_ids(tokenizer, prompt_messages(records[0]["instruction"], "zh", config))
    output = tmp_path / "answers.jsonl"
    generate_file(model, tokenizer, records, config, output, "tiny", sequence_len=len(prompt) + 3, progress=False)
    (line,) = read(output).values()
    assert len(tokenizer(line["raw_output"], add_special_tokens=False)["input_ids"]) <= 3
    assert line["truncated"] is True
    assert file_counts(output) == {"answers": 1, "truncated": 1, "no_target_answer": 1}


def test_served_default_limit_is_what_sequence_len_leaves(tiny_model_dir, tmp_path):
    """Served without --max-new-tokens: the model folder's tokenizer counts each prompt,
    and each request asks for what sequence_len leaves after it."""
    import shutil

    from transformers import AutoTokenizer

    from axolotl_plug.args import PlugConfig
    from axolotl_plug.serving.settings import write_settings
    from tests.helpers.engine import FakeEngine

    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    write_settings(model_dir, PlugConfig(target_language="zh"), 300)
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        "".join(
            json.dumps({"id": i, "instruction": row["instruction"]}, ensure_ascii=False) + "\n"
            for i, row in enumerate(ROWS[:2])
        ),
        encoding="utf-8",
    )
    with FakeEngine(lambda body, n: "English response:\nHi.\n\n中文回复：\n你好。") as server:
        result = plug_in_process(
            "generate",
            "--model-dir",
            str(model_dir),
            "--instructions",
            str(bench),
            "--base-url",
            server.url,
            "--output",
            str(tmp_path / "a.jsonl"),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # the prompt as written out: PLUG's default system turn for zh, the user turn, the
    # template's assistant opening; counted by the folder's own tokenizer
    system = "Please interpret the instruction in English, and then respond both in English and in Chinese."

    def prompt_tokens(instruction: str) -> int:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": instruction}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    expected = sorted(300 - prompt_tokens(row["instruction"]) for row in ROWS[:2])
    assert sorted(request["body"]["max_tokens"] for request in server.requests) == expected
    assert len(set(expected)) == 2  # two prompts of different lengths, two limits


def test_paper_extraction_is_everything_after_the_first_exact_header():
    text = "English response:\nHi.\n\n中文回复：\n你好。\n\nEnglish response:\nagain"
    assert reference_target(text, "zh") == "你好。\n\nEnglish response:\nagain"  # no cut at a later header
    assert extract(text, "zh").target == "你好。"  # ours cuts there
    ascii_colon = "English response:\nHi.\n\n中文回复:\n你好。"
    assert reference_target(ascii_colon, "zh") == ""  # the exact header only
    assert extract(ascii_colon, "zh").target == "你好。"
    assert reference_target("no header at all", "zh") == ""


def test_generate_extraction_flag_writes_the_reference_rule(tiny_model_dir, tmp_path):
    from axolotl_plug.args import PlugConfig
    from axolotl_plug.eval.answers import Generated, answer_line

    record = {"id": 7, "lang": "zh", "instruction": "q"}
    answer = Generated("English response:\nHi.\n\n中文回复:\n你好。", False)
    assert answer_line(record, answer, PlugConfig(), "g", "paper")["output"] == ""
    line = answer_line(record, answer, PlugConfig(), "g", "ours")
    assert (line["output"], line["id"], line["extraction"], line["truncated"]) == ("你好。", 7, "ours", False)
    # target_first (the reference's extract_first_response): cut at the pivot header that follows
    target_first = Generated("English instruction:\nq\n\n中文回复：\n 你好。 \n\nEnglish response:\nHi.", False)
    config = PlugConfig(order="target_first")
    assert answer_line(record, target_first, config, "g", "paper")["output"] == "你好。"
    assert answer_line(record, Generated("中文回复：\n你好。\n", False), config, "g", "paper")["output"] == "你好。"


def test_paper_extraction_in_target_first_order_cuts_at_the_exact_pivot_header():
    text = "中文回复：\n第一。\nEnglish response:\nfirst\n中文回复：\n第二"
    assert reference_target(text, "zh", order="target_first") == "第一。"
    assert reference_target(text, "zh") == "第一。\nEnglish response:\nfirst\n中文回复：\n第二"
    # the pivot header must be exact too: 'English response :' does not cut
    assert reference_target("中文回复：a English response :b", "zh", order="target_first") == "a English response :b"
    assert reference_target("English response:\nonly the pivot", "zh", order="target_first") == ""


def test_training_leaves_plug_json_and_generate_needs_no_config(plug_trained, tmp_path):
    config, model_dir, bench = plug_trained
    settings = json.loads((model_dir / "plug.json").read_text(encoding="utf-8"))
    assert settings | {"axolotl_plug": None} == {
        "axolotl_plug": None,
        "target_language": "zh",
        "pivot_language": "en",
        "mode": "plug",
        "order": "pivot_first",
        "include_pivot_instruction": True,
        "headers": {},
        "system_prompt": "default",
        "strip_fields": True,
        "pivot_channel": "content",
        "thinking_markers": None,
        "sequence_len": 512,
    }
    args = ["--instructions", str(bench), "--max-new-tokens", "40"]
    with_config = plug_in_process("generate", str(config), *args, "--output", str(tmp_path / "a.jsonl"))
    without = plug_in_process("generate", *args, "--model-dir", str(model_dir), "--output", str(tmp_path / "b.jsonl"))
    assert with_config.returncode == 0 and without.returncode == 0, without.stderr[-2000:]
    a, b = read(tmp_path / "a.jsonl"), read(tmp_path / "b.jsonl")
    assert {k: v["raw_output"] for k, v in a.items()} == {k: v["raw_output"] for k, v in b.items()}
    missing = plug_in_process("generate", *args, "--model-dir", str(tmp_path), "--output", str(tmp_path / "c.jsonl"))
    assert missing.returncode != 0 and "plug.json not found" in missing.stderr


def test_a_merged_model_folder_finds_plug_json_one_level_up(tmp_path):
    """`axolotl merge-lora` writes OUTPUT_DIR/merged without plug.json; commands given that
    folder read the one training left in OUTPUT_DIR."""
    from axolotl_plug.args import PlugConfig
    from axolotl_plug.serving.settings import read_settings, write_settings
    from tests.helpers.engine import FakeEngine

    write_settings(tmp_path / "out", PlugConfig(target_language="ko"), 1024)
    merged = tmp_path / "out" / "merged"
    merged.mkdir()
    settings, sequence_len = read_settings(merged)
    assert (settings.target_language, sequence_len) == ("ko", 1024)
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"id": 1, "instruction": "안녕하세요?"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with FakeEngine(lambda body, n: "English response:\nHi.\n\n한국어 응답:\n안녕하세요.") as server:
        result = plug_in_process(
            "generate",
            "--model-dir",
            str(merged),
            "--instructions",
            str(bench),
            "--base-url",
            server.url,
            "--max-new-tokens",
            "16",
            "--output",
            str(tmp_path / "a.jsonl"),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert read(tmp_path / "a.jsonl")[1]["output"] == "안녕하세요."
    assert "respond both in English and in Korean" in server.requests[0]["body"]["messages"][0]["content"]


def test_generate_prints_the_metrics_a_reader_works_out_by_hand(tiny_model_dir, tmp_path):
    """The closing table of `generate`, by value: two scripted answers whose figures follow
    from the definitions in docs/evaluation.md."""
    import shutil

    from sacrebleu.metrics import CHRF

    from axolotl_plug.args import PlugConfig
    from axolotl_plug.serving.settings import write_settings
    from tests.helpers.engine import FakeEngine

    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    write_settings(model_dir, PlugConfig(target_language="zh"), 512)
    answers = {
        "巴黎是哪个国家的首都？": "English response:\nParis is the capital of France.\n\n中文回复：\n巴黎是法国的首都。",
        "天空是什么颜色？": "English response:\nThe sky is blue.\n\n中文回复：\nThe sky is blue.",  # target in English
    }
    references = {"巴黎是哪个国家的首都？": "巴黎是法国的首都。", "天空是什么颜色？": "天空是蓝色的。"}
    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [{"id": i, "instruction": q, "lang": "zh", "reference": references[q]} for i, q in enumerate(answers)],
    )

    def script(body, number):
        return answers[body["messages"][-1]["content"]]

    with FakeEngine(script) as server:
        result = plug_in_process(
            "generate", "--model-dir", str(model_dir), "--instructions", str(bench), "--base-url", server.url,
            "--max-new-tokens", "64", "--output", str(tmp_path / "answers.jsonl"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    table = dict(line.split() for line in result.stdout.splitlines() if line.startswith("plug/"))
    chrf = (
        CHRF()
        .corpus_score(["巴黎是法国的首都。", "The sky is blue."], [["巴黎是法国的首都。", "天空是蓝色的。"]])
        .score
    )
    assert table == {
        "plug/format_ok": "1.000",  # both have the pivot section, then the target one
        "plug/target_lang_ok": "0.500",  # the second target answer is English
        "plug/pivot_lang_ok": "1.000",
        "plug/pivot_leak": "0.500",  # none of the first target's letters, all of the second's
        "plug/target_chars": f"{(9 + 16) / 2:.3f}",  # 巴黎是法国的首都。 and The sky is blue.
        "plug/pivot_chars": f"{(31 + 16) / 2:.3f}",  # Paris is the capital of France. and The sky is blue.
        "plug/chrf": f"{chrf:.3f}",
    }


def test_served_generation_reads_a_reasoning_channel_model_split_or_not(tiny_model_dir, tmp_path):
    """A model folder whose plug.json records the reasoning channel and its template's
    markers (gpt-oss's here): a reply the engine split (reasoning_content + content) and
    one it did not are both read at those markers, and the files and table say so."""
    import shutil

    from axolotl_plug.args import PlugConfig
    from axolotl_plug.serving.settings import write_settings
    from tests.helpers.engine import FakeEngine

    opening, closing = "<|channel|>analysis<|message|>", "<|end|><|start|>assistant<|channel|>final<|message|>"
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "model")
    config = PlugConfig(target_language="zh", pivot_channel="reasoning", thinking_markers=[opening, closing])
    write_settings(model_dir, config, 512)
    thinking = "English instruction:\nWhat is the capital of France?\n\nEnglish response:\nParis."
    replies = {
        "法国的首都是哪里？": {"reasoning_content": thinking, "content": "巴黎。"},  # split by the engine
        "天空是什么颜色？": f"{opening}English response:\nBlue.{closing}蓝色。",  # as the model wrote it
        "一加一等于几？": f"{opening}English response:\nTwo.",  # never closed the thinking
    }
    bench = write_jsonl(
        tmp_path / "bench.jsonl", [{"id": i, "instruction": q, "lang": "zh"} for i, q in enumerate(replies)]
    )
    with FakeEngine(lambda body, number: replies[body["messages"][-1]["content"]]) as server:
        result = plug_in_process(
            "generate", "--model-dir", str(model_dir), "--instructions", str(bench), "--base-url", server.url,
            "--max-new-tokens", "64", "--output", str(tmp_path / "answers.jsonl"),
        )  # fmt: skip
        system = server.requests[0]["body"]["messages"][0]["content"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        system
        == "Think in English: interpret the instruction in English and respond in English. Then give your answer in Chinese."
    )
    got = {r["instruction"]: (r["output"], r["status"]) for r in read(tmp_path / "answers.jsonl").values()}
    assert got == {
        "法国的首都是哪里？": ("巴黎。", "ok"),
        "天空是什么颜色？": ("蓝色。", "ok"),
        "一加一等于几？": ("", "missing_target"),
    }
    table = dict(line.split() for line in result.stdout.splitlines() if line.startswith("plug/"))
    assert table["plug/format_ok"] == f"{2 / 3:.3f}"


def test_in_process_generate_reads_a_reasoning_channel_model(reasoning_trained, tmp_path):
    """`generate` in this process on the model trained with the pivot in Qwen3's thinking
    channel: each line's output is what follows the thinking, read at the markers the
    run recorded in plug.json (no training config needed)."""
    from axolotl_plug.args import PlugConfig

    _, model_dir, _ = reasoning_trained
    bench = write_jsonl(
        tmp_path / "bench.jsonl", [{"id": i, "instruction": r["instruction"]} for i, r in enumerate(ROWS[:2])]
    )
    output = tmp_path / "answers.jsonl"
    result = plug_in_process(
        "generate", "--model-dir", str(model_dir), "--instructions", str(bench), "--max-new-tokens", "120",
        "--output", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    fmt = AnswerFormat.from_config(PlugConfig(target_language="zh", pivot_channel="reasoning"), "zh")
    rows = list(read(output).values())
    assert len(rows) == 2 and all(row["raw_output"].startswith("<think>\n") for row in rows)
    for row in rows:
        found = fmt.extract(row["raw_output"])
        assert (row["output"], row["status"]) == (found.target, found.status)
    assert any(row["status"] == "ok" and row["output"].startswith(ROWS[i]["response"]) for i, row in enumerate(rows))
