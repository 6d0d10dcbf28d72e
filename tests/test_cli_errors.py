"""Every `axolotl plug` command, fed each kind of bad input a user meets: a short message
that names the file, row, field or key, a non-zero exit, no traceback, and the user's
files exactly as they were.

The commands run in this process through click's runner (the same click group that
`axolotl plug` and `python -m axolotl_plug` run), so the whole sweep takes seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import write_jsonl
from tests.helpers.servers import free_port

REFUSING = '{"error": {"message": "Incorrect API key provided: sk-wr***"}}'


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """Good and bad inputs of every kind, shared by the sweep (no command may change them)."""
    root = tmp_path_factory.mktemp("sweep")
    write_jsonl(root / "bench.jsonl", [{"id": 1, "instruction": "你好吗？", "lang": "zh"}])
    write_jsonl(root / "answers.jsonl", [{"id": 1, "lang": "zh", "output": "我很好。"}])
    write_jsonl(root / "svamp.jsonl", [{"id": 1, "instruction": "一共几个？", "answer": 3}])
    write_jsonl(
        root / "tqa.jsonl", [{"id": 1, "instruction": "q", "correct_answers": ["a"], "incorrect_answers": ["b"]}]
    )
    write_jsonl(root / "pivot.jsonl", [{"id": "r0", "instruction": "Say hi.", "response": "Hi!"}])
    (root / "empty.jsonl").write_text("")
    (root / "broken.jsonl").write_text('{"id": 1, "instruction": "unfinished\n')
    (root / "numbers.jsonl").write_text("1\n2\n")
    write_jsonl(root / "no_instruction.jsonl", [{"id": 1, "prompt": "你好吗？"}])
    write_jsonl(root / "no_output.jsonl", [{"id": 1, "text": "我很好。"}])
    write_jsonl(root / "no_answer.jsonl", [{"id": 1, "instruction": "一共几个？"}])
    write_jsonl(
        root / "no_lists.jsonl", [{"id": 1, "instruction": "q", "correct_answers": "a", "incorrect_answers": ["b"]}]
    )
    model = root / "model"
    model.mkdir()
    (model / "plug.json").write_text(json.dumps({"target_language": "zh", "pivot_language": "en", "sequence_len": 256}))
    nolimit = root / "nolimit"
    nolimit.mkdir()
    (nolimit / "plug.json").write_text(json.dumps({"target_language": "zh"}))
    base = "base_model: tiny\nplugins:\n  - axolotl_plug.PlugPlugin\ndatasets:\n  - path: pivot.jsonl\n    type: plug\n"
    (root / "no_output_dir.yml").write_text(base + "plug:\n  target_language: zh\n")
    (root / "bad_key.yml").write_text(
        base + f"output_dir: {model}\nplug:\n  target_language: zh\n  train_on_pivto: false\n"
    )
    (root / "bad_lang.yml").write_text(base + f"output_dir: {model}\nsequence_len: 256\nplug:\n  target_language: xx\n")
    (root / "empty.yml").write_text("")
    (root / "broken_run").mkdir()
    (root / "broken_run" / "summary.json").write_text('{"n": 3,')
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


DOWN = "http://127.0.0.1:{port}/v1"
# (name, arguments, what the message must name); {w} is the work folder, {url} an endpoint
CASES = [
    # a missing file
    (
        "generate/missing",
        "generate --model-dir {w}/model --instructions {w}/nope.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["nope.jsonl", "no such file"],
    ),
    (
        "judge/missing",
        "judge --instructions {w}/nope.jsonl --a {w}/answers.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["nope.jsonl"],
    ),
    (
        "svamp/missing",
        "score svamp --answers {w}/answers.jsonl --references {w}/nope.jsonl --output {w}/o",
        ["nope.jsonl", "no such file"],
    ),
    (
        "svamp/missing-answers",
        "score svamp --answers {w}/nope.jsonl --references {w}/svamp.jsonl --output {w}/o",
        ["nope.jsonl", "does not exist"],
    ),
    ("audit/missing", "audit {w}/nope.yml", ["nope.yml", "does not exist"]),
    ("report/missing", "report {w}/nope --output {w}/o", ["nope", "does not exist"]),
    (
        "generate/not-a-hub-id",
        "generate --model-dir {w}/model --instructions nobody/no-such-benchmark --output {w}/out.jsonl --max-new-tokens 8",
        ["nobody/no-such-benchmark", "neither a file here nor a dataset the hub could load"],
    ),
    (
        "prefs/missing-judgments",
        "data prefs --a {w}/answers.jsonl --b {w}/answers.jsonl --judgments {w}/model --output {w}/prefs.jsonl",
        ["no judgments.jsonl"],
    ),
    ("report/broken", "report {w}/broken_run --output {w}/o", ["summary.json", "not valid JSON"]),
    (
        "build/missing",
        "data build --pivot {w}/nope.jsonl --target {w}/pivot.jsonl --lang zh --output {w}/o.jsonl",
        ["nope.jsonl"],
    ),
    # an empty file
    (
        "generate/empty",
        "generate --model-dir {w}/model --instructions {w}/empty.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["empty.jsonl", "empty"],
    ),
    (
        "judge/empty",
        "judge --instructions {w}/bench.jsonl --a {w}/empty.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["empty.jsonl", "empty"],
    ),
    (
        "single/empty",
        "judge --mode single --instructions {w}/empty.jsonl --a {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["empty.jsonl", "empty"],
    ),
    (
        "svamp/empty",
        "score svamp --answers {w}/empty.jsonl --references {w}/svamp.jsonl --output {w}/o",
        ["empty.jsonl", "empty"],
    ),
    (
        "truthfulqa/empty",
        "score truthfulqa --answers {w}/answers.jsonl --references {w}/empty.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["empty.jsonl", "empty"],
    ),
    (
        "translate/empty",
        "data translate --input {w}/empty.jsonl --lang zh --model m --base-url {url} --output {w}/t.jsonl",
        ["empty.jsonl", "empty"],
    ),
    (
        "build/empty",
        "data build --pivot {w}/empty.jsonl --target {w}/pivot.jsonl --lang zh --output {w}/o.jsonl",
        ["empty.jsonl", "empty"],
    ),
    ("audit/empty", "audit {w}/empty.yml", ["empty.yml"]),
    (
        "generate/empty-config",
        "generate {w}/empty.yml --instructions {w}/bench.jsonl --output {w}/out.jsonl",
        ["empty.yml", "not an axolotl config"],
    ),
    # invalid JSON
    (
        "generate/broken",
        "generate --model-dir {w}/model --instructions {w}/broken.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["broken.jsonl", "line 1", "not valid JSON"],
    ),
    (
        "judge/broken",
        "judge --instructions {w}/bench.jsonl --a {w}/broken.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["broken.jsonl", "line 1"],
    ),
    (
        "svamp/broken",
        "score svamp --answers {w}/answers.jsonl --references {w}/broken.jsonl --output {w}/o",
        ["broken.jsonl", "line 1"],
    ),
    (
        "truthfulqa/broken",
        "score truthfulqa --answers {w}/broken.jsonl --references {w}/tqa.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["broken.jsonl", "line 1"],
    ),
    (
        "translate/broken",
        "data translate --input {w}/broken.jsonl --lang zh --model m --base-url {url} --output {w}/t.jsonl",
        ["broken.jsonl", "line 1"],
    ),
    # a row of the wrong type
    (
        "generate/not-object",
        "generate --model-dir {w}/model --instructions {w}/numbers.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["numbers.jsonl", "row 0", "not an object"],
    ),
    (
        "judge/not-object",
        "judge --instructions {w}/bench.jsonl --a {w}/numbers.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["numbers.jsonl", "row 0"],
    ),
    (
        "svamp/not-object",
        "score svamp --answers {w}/answers.jsonl --references {w}/numbers.jsonl --output {w}/o",
        ["numbers.jsonl", "row 0"],
    ),
    (
        "build/not-object",
        "data build --pivot {w}/numbers.jsonl --target {w}/pivot.jsonl --lang zh --output {w}/o.jsonl",
        ["numbers.jsonl", "row 0"],
    ),
    # a model folder without what the command reads
    (
        "response-template/no-tokenizer",
        "response-template {w}/model --write",
        ["model/tokenizer_config.json not found", "no saved tokenizer"],
    ),
    # a missing required field
    (
        "generate/no-instruction",
        "generate --model-dir {w}/model --instructions {w}/no_instruction.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["no_instruction.jsonl", "row 0", "'instruction'"],
    ),
    (
        "judge/no-output",
        "judge --instructions {w}/bench.jsonl --a {w}/no_output.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["no_output.jsonl", "row 0", "'output'"],
    ),
    (
        "svamp/no-answer",
        "score svamp --answers {w}/answers.jsonl --references {w}/no_answer.jsonl --output {w}/o",
        ["no_answer.jsonl", "row 0", "'answer'"],
    ),
    (
        "truthfulqa/no-list",
        "score truthfulqa --answers {w}/answers.jsonl --references {w}/no_lists.jsonl --judge-model j --base-url {url} --output {w}/o",
        ["no_lists.jsonl", "row 0", "'correct_answers'"],
    ),
    # an unknown language code
    (
        "generate/unknown-lang",
        "generate {w}/bad_lang.yml --instructions {w}/no_lang.jsonl --output {w}/out.jsonl --max-new-tokens 8",
        ["xx"],
    ),
    (
        "build/unknown-lang",
        "data build --pivot {w}/pivot.jsonl --target {w}/pivot.jsonl --lang xx --output {w}/o.jsonl",
        ["xx"],
    ),
    (
        "translate/unknown-lang",
        "data translate --input {w}/pivot.jsonl --lang xx --model m --base-url {url} --output {w}/t.jsonl",
        ["xx"],
    ),
    ("chat/unknown-lang", "chat --model-dir {w}/model --lang xx", ["--lang", "xx"]),
    # a config without output_dir
    (
        "generate/no-output-dir",
        "generate {w}/no_output_dir.yml --instructions {w}/bench.jsonl --output {w}/out.jsonl",
        ["no_output_dir.yml", "output_dir"],
    ),
    ("chat/no-output-dir", "chat {w}/no_output_dir.yml", ["no_output_dir.yml", "output_dir"]),
    # a misspelt plug: key
    (
        "generate/bad-key",
        "generate {w}/bad_key.yml --instructions {w}/bench.jsonl --output {w}/out.jsonl",
        ["bad_key.yml", "plug.train_on_pivto", "unknown key"],
    ),
    (
        "serve/bad-key",
        "serve --upstream {url} --config {w}/bad_key.yml",
        ["bad_key.yml", "plug.train_on_pivto", "unknown key"],
    ),
    ("chat/bad-key", "chat {w}/bad_key.yml", ["bad_key.yml", "plug.train_on_pivto"]),
    ("audit/bad-key", "audit {w}/bad_key.yml", ["bad_key.yml", "plug.train_on_pivto", "unknown key"]),
    # no token limit at all
    (
        "generate/no-limit",
        "generate --model-dir {w}/nolimit --instructions {w}/bench.jsonl --output {w}/out.jsonl",
        ["no token limit", "--max-new-tokens"],
    ),
    ("chat/no-limit", "chat --model-dir {w}/nolimit", ["no token limit"]),
    # an endpoint that is down
    (
        "generate/down",
        "generate --model-dir {w}/model --instructions {w}/bench.jsonl --output {w}/gen_down.jsonl --max-new-tokens 8 --base-url {down} --max-retries 0",
        ["127.0.0.1", "gave up"],
    ),
    (
        "judge/down",
        "judge --instructions {w}/bench.jsonl --a {w}/answers.jsonl --b {w}/answers.jsonl --judge-model j --base-url {down} --max-retries 0 --output {w}/judge_down",
        ["127.0.0.1", "gave up"],
    ),
    (
        "svamp/down",
        "score svamp --answers {w}/answers.jsonl --references {w}/svamp.jsonl --extract-model m --base-url {down} --max-retries 0 --output {w}/svamp_down",
        ["127.0.0.1", "gave up"],
    ),
    (
        "truthfulqa/down",
        "score truthfulqa --answers {w}/answers.jsonl --references {w}/tqa.jsonl --judge-model j --base-url {down} --max-retries 0 --output {w}/tqa_down",
        ["127.0.0.1", "gave up"],
    ),
    (
        "translate/down",
        "data translate --input {w}/pivot.jsonl --lang zh --model m --base-url {down} --max-retries 0 --output {w}/t_down.jsonl",
        ["1 rows failed", "t_down.failed.jsonl"],
    ),
    # an endpoint that answers 401
    (
        "generate/401",
        "generate --model-dir {w}/model --instructions {w}/bench.jsonl --output {w}/gen_401.jsonl --max-new-tokens 8 --base-url {url}",
        ["HTTP 401", "Incorrect API key"],
    ),
    (
        "judge/401",
        "judge --instructions {w}/bench.jsonl --a {w}/answers.jsonl --b {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/judge_401",
        ["HTTP 401", "Incorrect API key"],
    ),
    (
        "single/401",
        "judge --mode single --instructions {w}/bench.jsonl --a {w}/answers.jsonl --judge-model j --base-url {url} --output {w}/single_401",
        ["HTTP 401", "Incorrect API key"],
    ),
    (
        "svamp/401",
        "score svamp --answers {w}/answers.jsonl --references {w}/svamp.jsonl --extract-model m --base-url {url} --output {w}/svamp_401",
        ["HTTP 401", "Incorrect API key"],
    ),
    (
        "truthfulqa/401",
        "score truthfulqa --answers {w}/answers.jsonl --references {w}/tqa.jsonl --judge-model j --base-url {url} --output {w}/tqa_401",
        ["HTTP 401", "Incorrect API key"],
    ),
    (
        "translate/401",
        "data translate --input {w}/pivot.jsonl --lang zh --model m --base-url {url} --output {w}/t_401.jsonl",
        ["HTTP 401", "Incorrect API key"],
    ),
]


@pytest.mark.parametrize("name, args, named", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_short_message_and_changes_nothing(work, name, args, named):
    write_jsonl(work / "no_lang.jsonl", [{"id": 1, "instruction": "你好吗？"}])
    before = snapshot(work)
    with FakeEngine(lambda body, n: (401, REFUSING)) as server:
        argv = args.format(w=work, url=server.url, down=DOWN.format(port=free_port())).split()
        result = plug_in_process(*argv)  # raises an exception the command group did not turn into a message
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    message = ("\n" + output)[("\n" + output).rindex("\nError: ") + 1 :].strip()  # click's closing message
    assert len(message.splitlines()) <= 3, message
    for text in named:
        assert text in message, message
    after = snapshot(work)
    assert {path: after[path] for path in before} == before  # every file as it was
