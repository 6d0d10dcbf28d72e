"""`axolotl plug report`: real judge and score runs in, one table out; a column
without a run stays empty."""

from __future__ import annotations

import json

from axolotl_plug.eval.judge.run import run_judge
from axolotl_plug.eval.score.svamp import score_svamp
from axolotl_plug.io.client import ChatClient
from tests.helpers.commands import plug_in_process
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
    result = plug_in_process("report", str(tmp_path / "pair"), str(tmp_path / "svamp"), "--output", str(out))
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
    result = plug_in_process("report", str(tmp_path / "empty"), "--output", str(tmp_path / "out"))
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
    result = plug_in_process("report", str(tmp_path / "pair"), "--output", str(mine))
    assert result.returncode == 1 and "not a file this command writes" in result.stderr
    assert (mine / "report.md").read_text() == "# my own notes\n" and not (mine / "report.png").exists()


# Every kind of run, two systems, two languages: each cell below is worked out from the
# rules (docs/evaluation.md), not read from a run.
FOUR_BENCH = [
    {"id": "zh1", "instruction": "巴黎有几个区？"},
    {"id": "zh2", "instruction": "两本书一共多少钱？"},
    {"id": "ko1", "instruction": "서울에 대해 말해 주세요."},
    {"id": "ko2", "instruction": "사과는 몇 개 남았나요?"},
]
FOUR_PLUG = {  # id: (lang, output); plug's answers are the longer ones but for ko2, which is empty
    "zh1": ("zh", "巴黎是法国的首都，一共有七个区，答案是7。"),
    "zh2": ("zh", "两本书一共十二元，所以答案是3。"),
    "ko1": ("ko", "서울은 한국의 수도이며, 정답은 9입니다."),
    "ko2": ("ko", ""),
}
FOUR_BASELINE = {
    "zh1": ("zh", "答案是7。"),
    "zh2": ("zh", "答案是4。"),
    "ko1": ("ko", "정답은 9입니다."),
    "ko2": ("ko", "정답은 5입니다."),
}
SVAMP_ANSWERS = {"zh1": 7, "zh2": 4, "ko1": 9, "ko2": 5}
RATINGS = {  # single grading: the answer graded -> its rating; plug's empty answer gets none (-1)
    FOUR_PLUG["zh1"][1]: 8,
    FOUR_PLUG["zh2"][1]: 6,
    FOUR_PLUG["ko1"][1]: 5,
    FOUR_BASELINE["zh1"][1]: 4,
    FOUR_BASELINE["zh2"][1]: 4,
    FOUR_BASELINE["ko1"][1]: 3,
    FOUR_BASELINE["ko2"][1]: 3,
}
TRUTHFUL = {"zh1": True, "zh2": True, "ko1": False, "ko2": False}
INFORMATIVE = {"zh1": True, "zh2": False, "ko1": True, "ko2": False}


def four_kinds_judge(body, number):
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "[Answer A]" in user:
        return prefer_the_longer_answer(body, number)
    if "[Response]" in user or "informative" in system.lower():  # X-TruthfulQA's two passes
        rid = next(r["id"] for r in FOUR_BENCH if r["instruction"] in user)
        if "truthful" in system:
            return "[Truthful]" if TRUTHFUL[rid] else "[Not Truthful]"
        return "[Informative]" if INFORMATIVE[rid] else "[Not Informative]"
    graded = next((text for text in sorted(RATINGS, key=len, reverse=True) if text in user), None)
    return f"Fine.\n[[{RATINGS[graded]}]]" if graded else "I cannot rate an empty answer."


def answers_file(path, answers, generator):
    rows = [
        {"id": rid, "lang": lang, "output": text, "status": "ok" if text else "missing_target", "generator": generator}
        for rid, (lang, text) in answers.items()
    ]
    return write_jsonl(path, rows)


def test_report_on_all_four_kinds_of_run_asserts_every_cell(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", FOUR_BENCH)
    plug = answers_file(tmp_path / "plug.jsonl", FOUR_PLUG, "plug")
    baseline = answers_file(tmp_path / "baseline.jsonl", FOUR_BASELINE, "baseline")
    svamp_refs = write_jsonl(
        tmp_path / "svamp_refs.jsonl", [{**r, "answer": SVAMP_ANSWERS[r["id"]]} for r in FOUR_BENCH]
    )
    tqa_refs = write_jsonl(
        tmp_path / "tqa_refs.jsonl",
        [{**r, "correct_answers": ["对"], "incorrect_answers": ["错"]} for r in FOUR_BENCH],
    )
    runs = tmp_path / "runs"
    with FakeEngine(four_kinds_judge) as server:
        endpoint = ["--judge-model", "judge", "--base-url", server.url]
        commands = {
            "pair": ["judge", "--instructions", str(bench), "--a", str(plug), "--b", str(baseline), *endpoint],
            "single": ["judge", "--mode", "single", "--instructions", str(bench), "--a", str(plug), "--b", str(baseline), *endpoint],
            "svamp-plug": ["score", "svamp", "--answers", str(plug), "--references", str(svamp_refs)],
            "svamp-baseline": ["score", "svamp", "--answers", str(baseline), "--references", str(svamp_refs)],
            "tqa-plug": ["score", "truthfulqa", "--answers", str(plug), "--references", str(tqa_refs), *endpoint],
        }  # fmt: skip
        for name, command in commands.items():
            result = plug_in_process(*command, "--output", str(runs / name))
            assert result.returncode == 0, (name, result.stderr[-2000:])
    out = tmp_path / "report"
    result = plug_in_process("report", *(str(runs / name) for name in commands), "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]

    rows = {(row["language"], row["system"]): row for row in json.loads((out / "report.json").read_text())}
    expected = {
        # zh: plug wins both items (CI of [1, 1] is 100–100); ko: one win each (the percentile
        # bootstrap of [1, 0] draws each extreme a quarter of the time: 0–100)
        ("zh", "plug"): {
            "alpacaeval": "100.0 / 0.0 / 0.0 vs baseline", "alpacaeval_ci": "100.0–100.0", "single": "7.00",
            "truthful": "100.0", "informative": "50.0", "both": "50.0", "svamp": "50.0",
            "target_lang": "100.0", "no_target": "0.0",
        },
        ("zh", "baseline"): {
            "alpacaeval": "0.0 / 0.0 / 100.0 vs plug", "alpacaeval_ci": "0.0–0.0", "single": "4.00",
            "truthful": "", "informative": "", "both": "", "svamp": "100.0",
            "target_lang": "100.0", "no_target": "0.0",
        },
        ("ko", "plug"): {
            "alpacaeval": "50.0 / 0.0 / 50.0 vs baseline", "alpacaeval_ci": "0.0–100.0", "single": "2.00",
            "truthful": "0.0", "informative": "50.0", "both": "0.0", "svamp": "50.0",
            "target_lang": "50.0", "no_target": "50.0",
        },
        ("ko", "baseline"): {
            "alpacaeval": "50.0 / 0.0 / 50.0 vs plug", "alpacaeval_ci": "0.0–100.0", "single": "3.00",
            "truthful": "", "informative": "", "both": "", "svamp": "100.0",
            "target_lang": "100.0", "no_target": "0.0",
        },
    }  # fmt: skip
    assert set(rows) == set(expected)
    for key, cells in expected.items():
        assert {column: rows[key][column] for column in cells} == cells, key
    table = (out / "report.md").read_text()
    assert (
        "| zh | plug | 100.0 / 0.0 / 0.0 vs baseline | 100.0–100.0 | 7.00 | 100.0 | 50.0 | 50.0 | 50.0 | 100.0 | 0.0 |"
        in table
    )
