"""Answer files as judge, score and report read them: one rule for an item's language."""

from __future__ import annotations

from axolotl_plug.eval.answers import read_answers
from axolotl_plug.eval.judge.prompt import ours
from axolotl_plug.eval.judge.run import run_single
from axolotl_plug.eval.report import answer_shares
from axolotl_plug.eval.score.svamp import score_svamp
from axolotl_plug.io.client import ChatClient
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import write_jsonl


def test_an_item_without_a_language_is_put_under_the_same_one_by_judge_score_and_report(tmp_path):
    """Item 2's answer and its benchmark row name no language; the file's other answers
    are all Chinese. Judging, scoring and the report all count it as Chinese."""
    answers = write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {"id": 1, "lang": "zh", "instruction": "一加一等于几？", "output": "一加一等于2。", "status": "ok"},
            {"id": 2, "instruction": "二加二等于几？", "output": "二加二等于4。", "status": "ok"},
        ],
    )
    bench = write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {"id": 1, "lang": "zh", "instruction": "一加一等于几？", "answer": 2},
            {"id": 2, "instruction": "二加二等于几？", "answer": 4},
        ],
    )
    with FakeEngine(lambda body, number: "Correct and in Chinese. [[8]]") as engine:
        judged = run_single(
            str(bench),
            [answers],
            tmp_path / "judged",
            ChatClient("judge", engine.url),
            protocol=ours(mode="single"),
            progress=False,
        )
    scored = score_svamp(answers, str(bench), tmp_path / "scored", progress=False)
    shares = answer_shares({answers})

    assert judged["systems"]["a"]["by_language"]["zh"]["n"] == 2
    assert list(judged["systems"]["a"]["by_language"]) == ["zh"]
    assert scored["by_language"]["zh"]["n"] == 2 and list(scored["by_language"]) == ["zh"]
    assert set(shares) == {"zh", "all"} and shares["zh"] == shares["all"]
    assert read_answers(answers).langs == {"1": "zh"}  # the file itself is read as it is


def test_generate_counts_and_the_report_share_agree_on_which_answers_have_no_target(tmp_path):
    """One rule (format.sections.has_target) for `generate`'s counts and the report's
    share: a missing target section, an empty or blank output."""
    from axolotl_plug.eval.answers import file_counts

    answers = write_jsonl(
        tmp_path / "answers.jsonl",
        [
            {"id": 1, "lang": "zh", "output": "你好。", "status": "ok"},
            {"id": 2, "lang": "zh", "output": "", "status": "missing_target"},
            {"id": 3, "lang": "zh", "output": "   \n", "status": "ok"},
            {"id": 4, "lang": "zh", "output": "你好。", "status": "missing_pivot"},
        ],
    )
    assert file_counts(answers)["no_target_answer"] == 2
    assert answer_shares({answers})["zh"]["no_target"] == 2 / 4
