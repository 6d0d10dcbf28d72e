"""`axolotl plug data build` and `translate`, the latter against the loopback server."""

from __future__ import annotations

import json
import re

from axolotl_plug.datagen.translate import INSTRUCTION_MARK, RESPONSE_MARK, translate_file
from axolotl_plug.io.client import ChatClient
from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import EN_ZH, pivot_rows, target_rows, write_jsonl


def build(tmp_path, pivot, target, *extra):
    p = write_jsonl(tmp_path / "pivot.jsonl", pivot) if isinstance(pivot, list) else pivot
    t = write_jsonl(tmp_path / "target.jsonl", target) if isinstance(target, list) else target
    out = tmp_path / "plug_zh.jsonl"
    result = plug_in_process(
        "data", "build", "--pivot", str(p), "--target", str(t), "--lang", "zh", "--output", str(out), *extra
    )
    return result, out


def read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_build_rejects_with_reasons_and_reports(tmp_path):
    pivot, target = pivot_rows(), target_rows()
    target[1]["response"] = " "  # empty
    target[2]["instruction"] = "Why is the sky blue?"  # left untranslated
    pivot[3]["response"] = "蜜蜂会制造蜂蜜和蜂蜡。"  # the pivot side is not English
    target[4]["response"] = "一周有七天。" * 40  # far longer than a Chinese answer should be
    pivot.append({"id": "only_pivot", "instruction": "Hello?", "response": "Hi."})
    target.append({"id": "only_target", "instruction": "你好？", "response": "你好。"})

    result, out = build(tmp_path, pivot, target)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "plug_zh.report.json").read_text())
    assert report["rows_joined"] == 8 and report["rows_written"] == 5 and report["joined_by"] == "id"
    assert report["missing_in_target"] == ["only_pivot"] and report["missing_in_pivot"] == ["only_target"]
    reasons = {r["id"]: (r["reason"], r["pivot_row"], r["target_row"]) for r in report["rejected"]}
    assert reasons["r1"] == ("response: empty", 1, 1)
    assert reasons["r2"][0].startswith("instruction: not in zh")
    assert reasons["r3"][0].startswith("pivot_response: not in en")
    assert [o["id"] for o in report["length_outliers"]] == ["r4"] and 0.2 < report["typical_length_ratio"] < 0.6
    rows = read(out)
    assert [r["id"] for r in rows] == ["r0", "r4", "r5", "r6", "r7"]  # the outlier is only flagged
    assert rows[0] == {
        "id": "r0",
        "lang": "zh",
        "instruction": EN_ZH[0][2],
        "response": EN_ZH[0][3],
        "pivot_instruction": EN_ZH[0][0],
        "pivot_response": EN_ZH[0][1],
    }
    rejected = read(tmp_path / "plug_zh.rejected.jsonl")
    assert {r["id"] for r in rejected} == {"r1", "r2", "r3"} and all(r["reason"] for r in rejected)
    assert "rejected: 3" in result.stdout and "1 outliers flagged" in result.stdout

    result, out = build(tmp_path, pivot, target, "--reject-length-outliers")
    assert "r4" not in [r["id"] for r in read(out)]
    assert any(
        r["id"] == "r4" and r["reason"].startswith("length ratio") for r in read(tmp_path / "plug_zh.rejected.jsonl")
    )


def test_build_error_mode_names_file_row_and_field(tmp_path):
    target = target_rows()
    target[5]["response"] = ""
    result, _ = build(tmp_path, pivot_rows(), target, "--on-bad-row", "error")
    assert result.returncode != 0
    assert "target.jsonl row 5 (id r5): field 'response': empty" in result.stderr


def test_build_alpaca_layout_joined_by_position(tmp_path):
    pivot = tmp_path / "alpaca_en.json"
    pivot.write_text(
        json.dumps(
            [
                {
                    "instruction": "Translate the word into Chinese.",
                    "input": "apple",
                    "output": "The Chinese word for apple is 苹果.",
                },
                {"instruction": "What do bees make?", "input": "", "output": "Bees make honey and wax."},
            ],
            ensure_ascii=False,
        )
    )
    target = tmp_path / "alpaca_zh.json"
    target.write_text(
        json.dumps(
            [
                {"instruction": "把这个词翻译成中文。", "input": "apple", "output": "苹果的中文是苹果。"},
                {"instruction": "蜜蜂会制造什么？", "input": "", "output": "蜜蜂会制造蜂蜜和蜂蜡。"},
            ],
            ensure_ascii=False,
        )
    )
    result, out = build(tmp_path, pivot, target)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read(out)
    assert rows[0]["pivot_instruction"] == "Translate the word into Chinese.\n\napple"
    assert rows[0]["instruction"] == "把这个词翻译成中文。\n\napple"
    assert rows[1]["pivot_instruction"] == "What do bees make?" and rows[1]["response"] == "蜜蜂会制造蜂蜜和蜂蜡。"
    assert json.loads((tmp_path / "plug_zh.report.json").read_text())["joined_by"] == "position"

    shorter = tmp_path / "short.json"
    shorter.write_text(json.dumps(json.loads(target.read_text())[:1], ensure_ascii=False))
    result, _ = build(tmp_path, pivot, shorter)
    assert result.returncode != 0 and "have 2 and 1 rows" in result.stderr


# -- translate ---------------------------------------------------------------------------
ZH = {en_i: (zh_i, zh_r) for en_i, _, zh_i, zh_r in EN_ZH}


def translator(plan: dict[str, str]):
    """A scripted translation model: `plan[instruction]` can make it drop the markers
    once ('drop_once'), always ('drop'), answer in English ('english') or fail ('500')."""
    seen: dict[str, int] = {}

    def reply(body, number):
        text = body["messages"][-1]["content"]
        instruction = re.search(f"{INSTRUCTION_MARK}\n(.*)\n{RESPONSE_MARK}", text, re.S).group(1)
        seen[instruction] = seen.get(instruction, 0) + 1
        mode = plan.get(instruction, "")
        zh_i, zh_r = ZH[instruction]
        if mode == "500":
            return (500, "internal error")
        if mode == "drop" or (mode == "drop_once" and seen[instruction] == 1):
            return f"{zh_i}\n{zh_r}"
        if mode == "english":
            return text
        return f"{INSTRUCTION_MARK}\n{zh_i}\n{RESPONSE_MARK}\n{zh_r}"

    return reply


def test_translate_clean_failed_rows_and_resume_then_build(tmp_path):
    source = write_jsonl(tmp_path / "en.jsonl", pivot_rows()[:5])
    out = tmp_path / "zh.jsonl"
    names = [row["instruction"] for row in pivot_rows()]
    plan = {names[1]: "500", names[2]: "drop_once", names[3]: "drop", names[4]: "english"}

    with FakeEngine(translator(plan)) as server:
        client = ChatClient("mt", server.url, max_retries=1)
        counts = translate_file(source, "zh", out, client, reasks=2, concurrency=2, progress=False)
    assert counts == {"translated": 2, "rejected": 2, "failed": 1, "already_done": 0}
    rejected = {r["id"]: r["reason"] for r in read(tmp_path / "zh.rejected.jsonl")}
    assert rejected == {"r3": "markers lost", "r4": "instruction not in zh (0% of its letters are)"}
    assert sorted(r["id"] for r in read(out)) == ["r0", "r2"]
    (failed,) = read(tmp_path / "zh.failed.jsonl")  # the row that failed keeps its reason
    assert (failed["id"], failed["status"]) == ("r1", 500) and "internal error" in failed["message"]

    plan.pop(names[1])  # the server recovers: a rerun asks only for r1
    with FakeEngine(translator(plan)) as server:
        result = plug_in_process(
            "data",
            "translate",
            "--input",
            str(source),
            "--lang",
            "zh",
            "--model",
            "mt",
            "--base-url",
            server.url,
            "--output",
            str(out),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(server.requests) == 1 and names[1] in server.user_messages()[0]
    assert "translated: 1" in result.stdout and "already done: 4" in result.stdout
    assert not (tmp_path / "zh.failed.jsonl").exists()  # nothing failed this time
    by_id = {r["id"]: r for r in read(out)}
    assert by_id["r1"] == {
        "id": "r1",
        "lang": "zh",
        "instruction": EN_ZH[1][2],
        "response": EN_ZH[1][3],
        "written_by": "data translate",
    }

    result, plug = build(tmp_path, source, out)
    assert result.returncode == 0 and [r["id"] for r in read(plug)] == ["r0", "r1", "r2"]


def test_translate_stops_at_a_refusal_with_the_servers_message(tmp_path):
    source = write_jsonl(tmp_path / "en.jsonl", pivot_rows()[:5])
    out = tmp_path / "zh.jsonl"
    with FakeEngine(lambda body, n: (401, '{"error": {"message": "Incorrect API key provided"}}')) as server:
        result = plug_in_process(
            "data",
            "translate",
            "--input",
            str(source),
            "--lang",
            "zh",
            "--model",
            "mt",
            "--base-url",
            server.url,
            "--output",
            str(out),
            "--concurrency",
            "1",
        )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "HTTP 401" in result.stderr and "Incorrect API key provided" in result.stderr
    assert len(server.requests) == 1  # every other row would be refused the same way


# -- conversations -------------------------------------------------------------------------
def conversation(rid: str, turns: list[int], language: str = "en") -> dict:
    """A conversation of EN_ZH's rows `turns`, in English or in Chinese."""
    messages = [{"role": "system", "content": "Be brief."}]
    for i in turns:
        en_i, en_r, zh_i, zh_r = EN_ZH[i]
        user, answer = (en_i, en_r) if language == "en" else (zh_i, zh_r)
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"id": rid, "messages": messages}


def test_translate_conversations_turn_by_turn_and_resume_per_conversation_then_build(tmp_path):
    conversations = [conversation("c0", [0, 1]), conversation("c1", [2, 3]), conversation("c2", [4, 0])]
    source = write_jsonl(tmp_path / "en.jsonl", [*conversations, pivot_rows()[1]])
    out = tmp_path / "zh.jsonl"
    plan = {EN_ZH[3][0]: "drop", EN_ZH[0][0]: "500"}  # c1's second turn loses its markers; c0 and c2 fail

    with FakeEngine(translator(plan)) as server:
        counts = translate_file(source, "zh", out, ChatClient("mt", server.url, max_retries=0), progress=False)
    assert counts == {"translated": 1, "rejected": 1, "failed": 2, "already_done": 0}
    (rejected,) = read(tmp_path / "zh.rejected.jsonl")
    assert (rejected["id"], rejected["reason"]) == ("c1", "turn 2: markers lost")

    plan.clear()  # the server recovers: the two failed conversations are asked again, every turn of each
    with FakeEngine(translator(plan)) as server:
        counts = translate_file(source, "zh", out, ChatClient("mt", server.url), progress=False)
    assert counts == {"translated": 2, "rejected": 0, "failed": 0, "already_done": 2}
    assert sorted(server.user_messages()) == sorted(
        f"{INSTRUCTION_MARK}\n{EN_ZH[i][0]}\n{RESPONSE_MARK}\n{EN_ZH[i][1]}" for i in (0, 1, 4, 0)
    )
    translated = {row["id"]: row for row in read(out)}
    assert translated["c2"] == {**conversation("c2", [4, 0], "zh"), "lang": "zh", "written_by": "data translate"}

    result, plug = build(tmp_path, source, out)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["id"]: row for row in read(plug)}
    assert sorted(rows) == ["c0", "c2", "r1"]  # c1 was never translated
    expected = [{"role": "system", "content": "Be brief."}]
    for i in (4, 0):
        en_i, en_r, zh_i, zh_r = EN_ZH[i]
        expected += [
            {"role": "user", "content": zh_i, "pivot": en_i},
            {"role": "assistant", "content": zh_r, "pivot": en_r},
        ]
    assert rows["c2"] == {"id": "c2", "lang": "zh", "messages": expected}


def test_build_rejects_conversations_that_do_not_match_or_are_in_the_wrong_language(tmp_path):
    pivot = [conversation("c0", [0, 1]), conversation("c1", [2, 3])]
    short = conversation("c0", [0], "zh")
    english = conversation("c1", [2, 3], "zh")
    english["messages"][4]["content"] = EN_ZH[3][1]  # the second answer left in English
    result, out = build(tmp_path, pivot, [short, english])
    assert result.returncode == 0, result.stderr[-2000:]
    assert read(out) == []
    reasons = {r["id"]: r["reason"] for r in read(tmp_path / "plug_zh.rejected.jsonl")}
    assert reasons == {
        "c0": "messages: 2 turns in the pivot file, 1 in the target",
        "c1": "messages[4].content: not in zh (0% of its letters are)",
    }
    strict, _ = build(tmp_path, pivot, [short, english], "--on-bad-row", "error")
    assert (
        strict.returncode != 0
        and "target.jsonl row 0 (id c0): field 'messages': 2 turns in the pivot file" in strict.stderr
    )


def test_build_names_the_message_of_a_malformed_conversation(tmp_path):
    """A conversation is checked by the rule training reads it with: roles in turn, text in each."""
    pivot = [conversation("c0", [0])]
    target = [{"id": "c0", "messages": [{"role": "assistant", "content": EN_ZH[0][3]}]}]
    result, out = build(tmp_path, pivot, target)
    assert result.returncode == 0, result.stderr[-2000:]
    (rejected,) = read(tmp_path / "plug_zh.rejected.jsonl")
    assert rejected["reason"] == "messages: message 0: role 'assistant' out of order (expected 'user')"
