"""`axolotl plug report`: real judge and score runs in, one table out; a column
without a run stays empty."""

from __future__ import annotations

import json

from axolotl_plug.eval.judge.run import run_judge
from axolotl_plug.eval.score.svamp import score_svamp
from axolotl_plug.io.client import ChatClient
from tests.helpers.commands import plug_command
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import write_jsonl

BENCH = [
    {"id": 1, "instruction": "用一句话介绍巴黎。", "dataset": "helpful_base"},
    {"id": 2, "instruction": "法国的首都是哪里？", "dataset": "koala"},
]
PLUG = [
    {"id": 1, "lang": "zh", "output": "巴黎是法国的首都，也是它最大的城市。", "status": "ok", "generator": "plug"},
    {"id": 2, "lang": "zh", "output": "", "status": "missing_target", "generator": "plug"},
]
BASELINE = [
    {"id": 1, "lang": "zh", "output": "巴黎是法国的首都。", "status": "ok", "generator": "baseline"},
    {"id": 2, "lang": "zh", "output": "Paris is the capital of France.", "status": "ok", "generator": "baseline"},
]


def prefer_the_longer_answer(body, number):
    user = body["messages"][1]["content"]
    first, second = user.split("[Answer A]\n")[1].split("\n\n[Answer B]\n")
    return "[[A]]" if len(first) > len(second) else "[[B]]"


def test_report_joins_runs_and_leaves_missing_columns_empty(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", BENCH)
    plug, baseline = write_jsonl(tmp_path / "plug.jsonl", PLUG), write_jsonl(tmp_path / "baseline.jsonl", BASELINE)
    with FakeEngine(prefer_the_longer_answer) as server:
        run_judge(str(bench), plug, baseline, tmp_path / "pair", ChatClient("judge", server.url), progress=False)
    svamp_refs = write_jsonl(
        tmp_path / "svamp.jsonl",
        [{"id": 1, "instruction": "q", "answer": 7}, {"id": 2, "instruction": "q", "answer": 4}],
    )
    svamp_answers = write_jsonl(
        tmp_path / "plug_svamp.jsonl",
        [
            {"id": 1, "lang": "zh", "output": "所以他一共有7个苹果。", "status": "ok", "generator": "plug"},
            {"id": 2, "lang": "zh", "output": "所以他一共有3个苹果。", "status": "ok", "generator": "plug"},
        ],
    )
    score_svamp(svamp_answers, str(svamp_refs), tmp_path / "svamp")

    out = tmp_path / "report"
    result = plug_command("report", str(tmp_path / "pair"), str(tmp_path / "svamp"), "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["system"]: row for row in json.loads((out / "report.json").read_text())}
    assert set(rows) == {"plug", "baseline"} and {r["language"] for r in rows.values()} == {"zh"}
    # plug won item 1 and lost item 2 (its answer there is empty): 50 / 0 / 50
    assert rows["plug"]["alpacaeval"] == "50.0 / 0.0 / 50.0 vs baseline"
    assert rows["baseline"]["alpacaeval"] == "50.0 / 0.0 / 50.0 vs plug"
    assert rows["plug"]["svamp"] == "50.0" and rows["baseline"]["svamp"] == ""  # no run: empty, not zero
    for column in ("single", "truthful", "informative", "both"):
        assert rows["plug"][column] == rows["baseline"][column] == ""
    # from the answer files each run names: plug's four answers, one of them empty
    assert (rows["plug"]["target_lang"], rows["plug"]["no_target"]) == ("75.0", "25.0")
    assert (rows["baseline"]["target_lang"], rows["baseline"]["no_target"]) == ("50.0", "0.0")
    table = (out / "report.md").read_text()
    assert table == result.stdout.rstrip("\n") + "\n"
    plug_line = next(line for line in table.splitlines() if line.startswith("| zh | plug |"))
    assert plug_line.endswith("|  |  |  |  | 50.0 | 75.0 | 25.0 |")
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_names_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    result = plug_command("report", str(tmp_path / "empty"), "--output", str(tmp_path / "out"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no summary.json" in result.stderr


def test_report_never_replaces_a_users_file(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", BENCH)
    plug, baseline = write_jsonl(tmp_path / "plug.jsonl", PLUG), write_jsonl(tmp_path / "baseline.jsonl", BASELINE)
    with FakeEngine(prefer_the_longer_answer) as server:
        run_judge(str(bench), plug, baseline, tmp_path / "pair", ChatClient("judge", server.url), progress=False)
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "report.md").write_text("# my own notes\n")
    result = plug_command("report", str(tmp_path / "pair"), "--output", str(mine))
    assert result.returncode == 1 and "not a file this command writes" in result.stderr
    assert (mine / "report.md").read_text() == "# my own notes\n" and not (mine / "report.png").exists()
