"""Resuming never costs a user's data: a file a command did not write is refused as it
is, a line torn by a crash is the only repair, and runs killed at random points end
with every item exactly once."""

from __future__ import annotations

import json
import random
import re

import pytest

from axolotl_plug.io.records import ForeignFileError, finished
from tests.helpers.commands import kill_when, plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import EN_ZH, pivot_rows, write_jsonl

ANSWER = "English response:\nFine.\n\n中文回复：\n很好。"


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def model_dir(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "plug.json").write_text(json.dumps({"target_language": "zh", "sequence_len": 512}))
    return folder


def test_torn_last_line_is_the_only_repair(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"id": 1, "raw_output": "a"}\n{"id": 2, "raw_output": "b"}\n{"id": 3, "raw_ou')
    assert set(finished(path)) == {"1", "2"}
    assert path.read_bytes() == b'{"id": 1, "raw_output": "a"}\n{"id": 2, "raw_output": "b"}\n'


@pytest.mark.parametrize(
    "content",
    [
        b'{"instruction": "q", "response": "a"}\n',  # a row without the key
        b'[{"id": 1}]\n',  # a JSON list
        b'not json at all\n{"id": 1}\n',
        b'{"id": 1}\n{"note": "a whole row without the key, and no newline"}',
        b"plain text without a newline",
    ],
)
def test_a_file_that_is_not_ours_is_refused_untouched(tmp_path, content):
    path = tmp_path / "mine.jsonl"
    path.write_bytes(content)
    with pytest.raises(ForeignFileError, match="choose another --output"):
        finished(path)
    assert path.read_bytes() == content


def test_commands_refuse_to_resume_into_a_users_file(tmp_path, model_dir):
    training = tmp_path / "train.jsonl"
    training.write_text("".join(json.dumps({"id": i, "instruction": "q", "response": "a"}) + "\n" for i in range(3)))
    original = training.read_bytes()
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": 9, "instruction": "你好吗？"}])
    answers = write_jsonl(tmp_path / "answers.jsonl", [{"id": 9, "output": "很好"}])
    judge_dir = tmp_path / "judged"
    judge_dir.mkdir()
    (judge_dir / "judgments.jsonl").write_bytes(original)
    with FakeEngine(lambda body, n: ANSWER) as server:
        runs = {
            "generate": plug_in_process(
                "generate",
                "--model-dir",
                str(model_dir),
                "--instructions",
                str(bench),
                "--base-url",
                server.url,
                "--max-new-tokens",
                "16",
                "--output",
                str(training),
            ),
            "judge": plug_in_process(
                "judge",
                "--instructions",
                str(bench),
                "--a",
                str(answers),
                "--b",
                str(answers),
                "--judge-model",
                "j",
                "--base-url",
                server.url,
                "--output",
                str(judge_dir),
            ),
            "translate": plug_in_process(
                "data",
                "translate",
                "--input",
                str(write_jsonl(tmp_path / "en.jsonl", pivot_rows()[:2])),
                "--lang",
                "zh",
                "--model",
                "m",
                "--base-url",
                server.url,
                "--output",
                str(training),
            ),
        }
    for name, result in runs.items():
        assert result.returncode == 1, (name, result.stderr[-1000:])
        assert (
            "line 1 is not a row this command writes" in result.stderr and "choose another --output" in result.stderr
        ), name
    assert server.requests == []  # refused before anything was asked
    assert training.read_bytes() == original and (judge_dir / "judgments.jsonl").read_bytes() == original


def zh_translation(body, number):
    text = body["messages"][-1]["content"]
    instruction = re.search("<<<INSTRUCTION>>>\n(.*)\n<<<RESPONSE>>>", text, re.S).group(1)
    zh_i, zh_r = next((zi, zr) for en_i, _, zi, zr in EN_ZH if en_i == instruction)
    return ("sleep", 0.03, f"<<<INSTRUCTION>>>\n{zh_i}\n<<<RESPONSE>>>\n{zh_r}")


def killed_five_times(args: list[str], watched, total: int, reply) -> list[int]:
    """Kill the command five times at random points, each after it wrote at least one
    more line, then let it finish; return the complete lines after each kill. Exactly
    five kills, each leaving work undone, or the test fails."""
    rng = random.Random(17)
    kept = []
    for _ in range(5):
        have = watched.read_bytes().count(b"\n") if watched.is_file() else 0
        with FakeEngine(reply) as server:
            kept.append(kill_when([*args, "--base-url", server.url], watched, have + rng.randint(1, 2)))
        assert kept[-1] > have  # it wrote before it was killed
    assert len(kept) == 5 and kept[-1] < total, kept  # five kills, and the last left work to do
    with FakeEngine(reply) as server:
        result = plug_in_process(*args, "--base-url", server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(server.requests) == total - kept[-1]  # the last run asked only for what was missing
    return kept


def test_generate_killed_five_times_ends_with_every_id_once(tmp_path, model_dir):
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": i, "instruction": f"问题 {i}"} for i in range(24)])
    out = tmp_path / "answers.jsonl"
    args = [
        "generate",
        "--model-dir",
        str(model_dir),
        "--instructions",
        str(bench),
        "--max-new-tokens",
        "16",
        "--concurrency",
        "2",
        "--output",
        str(out),
    ]
    killed_five_times(args, out, 24, lambda body, n: ("sleep", 0.03, ANSWER))
    assert sorted(row["id"] for row in lines(out)) == list(range(24))


def test_judge_killed_five_times_ends_with_every_judgment_once(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": i, "instruction": f"q{i}"} for i in range(12)])
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": i, "output": f"a{i}"} for i in range(12)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": i, "output": f"b{i}"} for i in range(12)])
    out = tmp_path / "judged"
    args = [
        "judge",
        "--instructions",
        str(bench),
        "--a",
        str(a),
        "--b",
        str(b),
        "--judge-model",
        "j",
        "--concurrency",
        "2",
        "--output",
        str(out),
    ]
    killed_five_times(args, out / "judgments.jsonl", 24, lambda body, n: ("sleep", 0.03, "[[A]]"))
    keys = [(row["id"], row["order"]) for row in lines(out / "judgments.jsonl")]
    assert len(keys) == len(set(keys)) == 24
    assert json.loads((out / "summary.json").read_text())["n"] == 12


def test_single_grading_killed_five_times_ends_with_every_rating_once(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": i, "instruction": f"q{i}"} for i in range(12)])
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": i, "output": f"a{i}"} for i in range(12)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": i, "output": f"b{i}"} for i in range(12)])
    out = tmp_path / "graded"
    args = [
        "judge",
        "--mode",
        "single",
        "--instructions",
        str(bench),
        "--a",
        str(a),
        "--b",
        str(b),
        "--judge-model",
        "j",
        "--concurrency",
        "2",
        "--output",
        str(out),
    ]
    killed_five_times(args, out / "judgments.jsonl", 24, lambda body, n: ("sleep", 0.03, "Rating: [[7]]"))
    keys = [(row["id"], row["system"]) for row in lines(out / "judgments.jsonl")]
    assert len(keys) == len(set(keys)) == 24
    summary = json.loads((out / "summary.json").read_text())
    assert summary["systems"]["a"]["n"] == summary["systems"]["b"]["n"] == 12
    assert summary["systems"]["a"]["mean"] == summary["systems"]["b"]["mean"] == 7


def test_translate_killed_five_times_ends_with_every_row_once(tmp_path):
    rows = pivot_rows() + [{**row, "id": f"{row['id']}-again"} for row in pivot_rows()]
    source = write_jsonl(tmp_path / "en.jsonl", rows)
    out = tmp_path / "zh.jsonl"
    args = [
        "data",
        "translate",
        "--input",
        str(source),
        "--lang",
        "zh",
        "--model",
        "m",
        "--concurrency",
        "1",
        "--output",
        str(out),
    ]
    killed_five_times(args, out, len(rows), zh_translation)
    assert sorted(row["id"] for row in lines(out)) == sorted(row["id"] for row in rows)


def test_a_row_without_the_commands_own_field_is_not_resumed(tmp_path):
    """`finished(required=...)`: a file of rows with ids is resumed only by the command
    whose rows they are (answer lines have `raw_output`)."""
    from axolotl_plug.eval.answers import unanswered

    path = write_jsonl(tmp_path / "rows.jsonl", [{"id": 1, "output": "x"}])
    assert set(finished(path)) == {"1"}
    with pytest.raises(ForeignFileError, match="line 1 is not a row this command writes"):
        finished(path, required=("raw_output",))
    with pytest.raises(ForeignFileError, match="line 1 is not a row this command writes"):
        unanswered([{"id": 2, "instruction": "q", "lang": "zh"}], path)
    write_jsonl(path, [{"id": 1, "output": "x", "raw_output": "x"}])
    assert [r["id"] for r in unanswered([{"id": 1}, {"id": 2}], path)] == [2]


def test_judge_and_score_keep_a_run_folder_by_one_rule(tmp_path):
    """The same folders go to judging and to scoring: a user's summary is refused by both
    with the same message, each refuses the other's run, and each rewrites its own."""
    from axolotl_plug.eval.judge.prompt import ours
    from axolotl_plug.eval.judge.run import run_single
    from axolotl_plug.eval.report import read_summary
    from axolotl_plug.eval.score.svamp import score_svamp
    from axolotl_plug.io.client import ChatClient

    answers = write_jsonl(tmp_path / "answers.jsonl", [{"id": 1, "lang": "zh", "output": "答案是2。"}])
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": 1, "lang": "zh", "instruction": "一加一？", "answer": 2}])
    users = tmp_path / "users"
    users.mkdir()
    (users / "summary.json").write_text('{"my": "notes"}', encoding="utf-8")
    with FakeEngine(lambda body, n: "[[9]]") as engine:

        def judge(folder):
            client = ChatClient("judge", engine.url)
            return run_single(str(bench), [answers], folder, client, protocol=ours(mode="single"), progress=False)

        def score(folder):
            return score_svamp(answers, str(bench), folder, progress=False)

        for run in (judge, score):
            with pytest.raises(ForeignFileError, match=r"users/summary.json is not a file this command writes"):
                run(users)
        assert (users / "summary.json").read_text(encoding="utf-8") == '{"my": "notes"}'
        judge(tmp_path / "judged")
        score(tmp_path / "scored")
        with pytest.raises(ForeignFileError, match="summary.json is not a file this command writes"):
            judge(tmp_path / "scored")
        with pytest.raises(ForeignFileError, match="summary.json is not a file this command writes"):
            score(tmp_path / "judged")
        assert judge(tmp_path / "judged") == read_summary(tmp_path / "judged")
        assert score(tmp_path / "scored") == read_summary(tmp_path / "scored")


def test_a_file_one_command_wrote_is_refused_as_another_commands_output(tmp_path, model_dir):
    """Each appended line names the command that wrote it: generate's answers (they have
    the `id` and `lang` a translation has) are not adopted as `data translate` output,
    and a judge's judgments not as X-TruthfulQA's, even in a folder of their own."""
    bench = write_jsonl(tmp_path / "bench.jsonl", [{"id": f"r{i}", "instruction": f"问题 {i}"} for i in range(2)])
    answers = tmp_path / "answers.jsonl"
    with FakeEngine(lambda body, n: ANSWER) as server:
        made = plug_in_process(
            "generate", "--model-dir", str(model_dir), "--instructions", str(bench), "--base-url", server.url,
            "--max-new-tokens", "16", "--output", str(answers),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr[-2000:]
        assert [row["written_by"] for row in lines(answers)] == ["generate", "generate"]
        original = answers.read_bytes()
        translate = plug_in_process(
            "data", "translate", "--input", str(write_jsonl(tmp_path / "en.jsonl", pivot_rows()[:2])),
            "--lang", "zh", "--model", "m", "--base-url", server.url, "--output", str(answers),
        )  # fmt: skip
    assert translate.returncode == 1
    assert f"{answers}: line 1 was written by `axolotl plug generate`" in translate.stderr
    assert answers.read_bytes() == original and server.requests[2:] == []  # nothing asked, nothing changed

    judged = tmp_path / "judged"
    judge = ["judge", "--instructions", str(bench), "--a", str(answers), "--b", str(answers), "--judge-model", "j"]
    with FakeEngine(lambda body, n: "[[A]]") as server:
        assert plug_in_process(*judge, "--base-url", server.url, "--output", str(judged)).returncode == 0
    scored = tmp_path / "scored"
    scored.mkdir()
    (scored / "judgments.jsonl").write_bytes((judged / "judgments.jsonl").read_bytes())
    refs = write_jsonl(
        tmp_path / "tqa.jsonl",
        [
            {"id": f"r{i}", "instruction": f"问题 {i}", "correct_answers": ["对"], "incorrect_answers": ["错"]}
            for i in range(2)
        ],
    )
    with FakeEngine(lambda body, n: "yes") as server:
        result = plug_in_process(
            "score", "truthfulqa", "--answers", str(answers), "--references", str(refs), "--judge-model", "j",
            "--base-url", server.url, "--output", str(scored),
        )  # fmt: skip
    assert result.returncode == 1
    assert "judgments.jsonl: line 1 was written by `axolotl plug judge`" in result.stderr
    assert server.requests == []
