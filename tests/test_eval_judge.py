"""`axolotl plug judge` against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading

import pytest

from axolotl_plug.eval.judge.aggregate import item_outcome
from axolotl_plug.eval.judge.run import run_judge
from axolotl_plug.io.client import ChatClient, ChatError
from tests.helpers.commands import plug_command, plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import write_jsonl

PLAN = {
    "win_a": ("a", "a"),
    "slight_a": ("a", "tie"),
    "contradiction": ("a", "b"),
    "both_tie": ("tie", "tie"),
    "win_b": ("b", "b"),
    "slight_b": ("tie", "b"),
    "no_verdict": ("a", None),
}
CATEGORY = {"win_a": "helpful_base", "slight_a": "helpful_base", "contradiction": "koala"}


def scripted_judge(body: dict, number: int) -> str:
    """Reads which system sits in slot A and answers with the planned preference; an
    empty answer loses."""
    prompt = body["messages"][-1]["content"]
    slot_a = re.search(r"\[Answer A\]\n(.*)\n\n\[Answer B\]\n(.*)$", prompt, re.S)
    if not slot_a.group(1) or not slot_a.group(2):
        return "An empty answer loses.\n" + ("[[B]]" if not slot_a.group(1) else "[[A]]")
    slot_a_system, item_id = re.match(r"answer of (\w) for (\w+)", slot_a.group(1)).groups()
    order = 0 if slot_a_system == "a" else 1
    wanted = PLAN[item_id][order]
    if wanted is None:
        return "Both answers are fine, I cannot decide."
    if wanted == "tie":
        return "They are equally good.\n[[C]]"
    token = "A" if wanted == slot_a_system else "B"
    return f"Reasoning about both answers.\n[[{token}]]"


@pytest.fixture()
def files(tmp_path):
    ids = list(PLAN) + ["only_in_a", "empty_in_b"]
    instructions = write_jsonl(
        tmp_path / "bench.jsonl",
        [{"id": i, "instruction": f"instruction {i}", "dataset": CATEGORY.get(i, "oasst")} for i in ids],
    )
    a = write_jsonl(
        tmp_path / "a.jsonl",
        [{"id": i, "output": f"answer of a for {i}", "generator": "plug", "truncated": i == "win_a"} for i in ids],
    )
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [
            {"id": i, "output": "" if i == "empty_in_b" else f"answer of b for {i}", "generator": "baseline"}
            for i in ids
            if i != "only_in_a"
        ],
    )
    return instructions, a, b


def client(server, **kw) -> ChatClient:
    return ChatClient("judge-model", server.url, api_key_env="PLUG_TEST_KEY", **kw)


def test_every_aggregation_rule(files, tmp_path):
    instructions, a, b = files
    with FakeEngine(scripted_judge) as server:
        summary = run_judge(str(instructions), a, b, tmp_path / "out", client(server), reasks=1, progress=False)
    # the empty answer is judged (and loses); only the id one file lacks is missing
    assert (summary["n"], summary["ties"], summary["errors"], summary["missing"]) == (8, 2, 1, 1)
    assert summary["missing_ids"] == ["only_in_a"]
    assert summary["a"] | {"ci95": None} == {
        "name": "plug",
        "wins": 2,
        "slight_wins": 1,
        "win_rate": 3 / 8,
        "ci95": None,
        "empty": 0,
        "truncated": 1,
        "answers": str(a),
    }
    assert summary["b"] | {"ci95": None} == {
        "name": "baseline",
        "wins": 1,
        "slight_wins": 1,
        "win_rate": 2 / 8,
        "ci95": None,
        "empty": 1,
        "truncated": 0,
        "answers": str(b),
    }
    lo, hi = summary["a"]["ci95"]
    assert 0 <= lo <= 3 / 8 <= hi <= 1 and lo < hi
    assert summary["by_category"]["helpful_base"]["a"]["win_rate"] == 1.0
    assert summary["by_category"]["koala"]["ties"] == 1
    assert set(summary["by_category"]["oasst"]) >= {"n", "ties", "errors", "a", "b"}
    # 16 judgments; the verdict-less item was asked once more in its failing order
    judgments = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text().splitlines()]
    assert len(judgments) == 16 and len(server.requests) == 17
    assert {j["verdict"] for j in judgments if j["id"] == "no_verdict" and j["order"] == "ba"} == {"error"}
    assert set(judgments[0]) >= {"id", "order", "model", "messages_hash", "raw_reply", "verdict"}
    table = (tmp_path / "out" / "summary.md").read_text()
    assert "| overall | 8 | 2 (+1 slight) | 1 (+1 slight) | 2 | 1 | 37.5%" in table
    assert "| baseline | 1 | 0 |" in table and "| plug | 0 | 1 |" in table
    assert (tmp_path / "out" / "winrate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_outcome_table_directly():
    assert item_outcome("A", "B") == "win_a"  # A first, then B's answer first and B-slot wins: a both times
    assert item_outcome("B", "A") == "win_b"
    assert item_outcome("A", "C") == "slight_a" and item_outcome("C", "A") == "slight_b"
    assert item_outcome("A", "A") == "tie"  # a, then b: a contradiction
    assert item_outcome("C", "C") == "tie"
    assert item_outcome("A", None) == "error" and item_outcome("error", "B") == "error"


def test_server_errors_and_timeouts_are_retried(files, tmp_path):
    instructions, a, b = files
    trouble = {1: (500, "boom"), 2: (429, "slow down"), 3: ("sleep", 1.5, "late")}

    def flaky(body, number):
        return trouble.get(number) or scripted_judge(body, number)

    with FakeEngine(flaky) as server:
        summary = run_judge(
            str(instructions),
            a,
            b,
            tmp_path / "out",
            client(server, timeout=0.5),
            concurrency=1,
            reasks=3,
            progress=False,
        )
    assert summary["n"] == 8 and summary["errors"] == 1  # only the planned verdict-less item
    # 16 judgments, 3 more asks of the verdict-less order (reasks=3), 3 failed calls
    assert len(server.requests) == 16 + 3 + 3


def test_one_item_costs_at_most_the_stated_requests(files, tmp_path):
    """Every ask fails once in transport and then comes back without a verdict: the
    client retries the transport failure, the judge re-asks for the verdict, and the
    two counts multiply, no more."""
    instructions, a, b = files
    one = write_jsonl(tmp_path / "one.jsonl", [{"id": "win_a", "instruction": "instruction win_a"}])

    def fail_then_ramble(body, number):
        return (503, "busy") if number % 2 else "Both are fine."

    with FakeEngine(fail_then_ramble) as server:
        summary = run_judge(
            str(one), a, b, tmp_path / "out", client(server, max_retries=1), concurrency=1, reasks=2, progress=False
        )
    # two answer orders, each asked 1 + 2 times (re-asks), each ask sent 1 + 1 times (a retry)
    assert len(server.requests) == 2 * (1 + 2) * (1 + 1)
    assert summary["errors"] == 1


def test_resume_after_interrupted_run_asks_only_for_missing(files, tmp_path):
    instructions, a, b = files
    out = tmp_path / "out"

    def down_for_win_b(body, number):
        return (503, "unavailable") if "for win_b" in body["messages"][-1]["content"] else scripted_judge(body, number)

    with FakeEngine(down_for_win_b) as server:
        with pytest.raises(ChatError, match="2 requests failed and were not recorded"):
            run_judge(str(instructions), a, b, out, client(server, max_retries=2), reasks=1, progress=False)
    assert len((out / "judgments.jsonl").read_text().splitlines()) == 14
    assert not (out / "summary.json").exists()

    with FakeEngine(scripted_judge) as server:
        summary = run_judge(str(instructions), a, b, out, client(server), reasks=1, progress=False)
    assert len(server.requests) == 2  # the two orders of win_b, nothing else
    assert all("for win_b" in m for m in server.user_messages())
    assert summary["b"]["wins"] == 1 and len((out / "judgments.jsonl").read_text().splitlines()) == 16


def test_a_changed_answer_is_judged_again(files, tmp_path):
    instructions, a, b = files
    out = tmp_path / "out"
    with FakeEngine(scripted_judge) as server:
        run_judge(str(instructions), a, b, out, client(server), reasks=0, progress=False)
    rows = [json.loads(line) for line in a.read_text().splitlines()]
    rows[0]["output"] = "answer of a for win_a, regenerated"
    write_jsonl(a, rows)
    with FakeEngine(scripted_judge) as server:
        run_judge(str(instructions), a, b, out, client(server), reasks=0, progress=False)
    assert len(server.requests) == 2 and all("regenerated" in m for m in server.user_messages())


def test_cli_sends_the_key_but_never_writes_it(files, tmp_path, monkeypatch):
    instructions, a, b = files
    secret = "sk-test-4f9a1c2e7d"
    monkeypatch.setenv("PLUG_TEST_KEY", secret)
    out = tmp_path / "out"
    with FakeEngine(scripted_judge) as server:
        result = plug_command(
            "judge",
            "--instructions",
            str(instructions),
            "--a",
            str(a),
            "--b",
            str(b),
            "--judge-model",
            "judge-model",
            "--base-url",
            server.url,
            "--api-key-env",
            "PLUG_TEST_KEY",
            "--max-retries",
            "1",
            "--output",
            str(out),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert {r["headers"].get("authorization") for r in server.requests} == {f"Bearer {secret}"}
    assert "| overall | 8 |" in result.stdout
    for path in out.iterdir():
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in result.stdout + result.stderr


def test_reference_mode(files, tmp_path):
    instructions, a, b = files
    with FakeEngine(scripted_judge) as server:
        result = plug_in_process(
            "judge",
            "--instructions",
            str(instructions),
            "--a",
            str(a),
            "--reference",
            str(b),
            "--judge-model",
            "judge-model",
            "--base-url",
            server.url,
            "--max-retries",
            "1",
            "--output",
            str(tmp_path / "o"),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["b"]["name"] == "reference" and summary["n"] == 8
    assert len(server.requests) == 17  # still both orders


# A judge-prompt file in FastChat's format, in our own words (the reference's text is
# not ours to ship): the paper protocol reads any such file.
FASTCHAT_PROMPTS = [
    {
        "name": "single-test",
        "type": "single",
        "system_prompt": "Rate it.",
        "prompt_template": "{question} {answer}",
        "description": "not pairwise",
        "category": "general",
        "output_format": "[[rating]]",
    },
    {
        "name": "pair-test",
        "type": "pairwise",
        "system_prompt": "You compare two assistants. Penalise unnatural language.",
        "prompt_template": "[Question]\n{question}\n\n[Answer A]\n{answer_a}\n\n[Answer B]\n{answer_b}\n\nVerdict?",
        "description": "ours, for the test",
        "category": "general",
        "output_format": "[[A]]",
    },
]

# replies with several verdict tokens: the reference reads [[A]] first, then [[B]], then [[C]]
PRIORITY = {"win_a": "[[B]] no, on reflection [[A]]", "win_b": "[[C]] or rather [[B]]", "both_tie": "[[C]]"}


def test_paper_protocol_sends_and_reads_as_the_reference(files, tmp_path):
    instructions, a, b = files
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)

    def reference_judge(body, number):
        system, user = body["messages"]
        assert system == {"role": "system", "content": FASTCHAT_PROMPTS[1]["system_prompt"]}
        assert user["role"] == "user" and user["content"].startswith("[Question]\ninstruction ")
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0, 0, 1024)
        item = re.search(r"for (\w+)", user["content"]).group(1)
        return PRIORITY.get(item, "No verdict here.")

    with FakeEngine(reference_judge) as server:
        result = plug_in_process(
            "judge",
            "--instructions",
            str(instructions),
            "--a",
            str(a),
            "--b",
            str(b),
            "--judge-model",
            "judge-model",
            "--base-url",
            server.url,
            "--protocol",
            "paper",
            "--prompt-file",
            str(prompts),
            "--prompt-name",
            "pair-test",
            "--output",
            str(tmp_path / "out"),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(server.requests) == 2 * 8  # never asked again, whatever the reply
    judgments = [json.loads(line) for line in (tmp_path / "out" / "judgments.jsonl").read_text().splitlines()]
    verdicts = {(j["id"], j["order"]): j["verdict"] for j in judgments}
    assert verdicts[("win_a", "ab")] == verdicts[("win_a", "ba")] == "A"
    assert verdicts[("win_b", "ab")] == "B" and verdicts[("both_tie", "ba")] == "C"
    assert verdicts[("slight_a", "ab")] == "error"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["protocol"], summary["prompt_name"], summary["judge_max_tokens"]) == ("paper", "pair-test", 1024)
    assert len(summary["prompt_hash"]) == 16 and summary["n"] == 8


def test_paper_protocol_with_a_reference_file_asks_as_the_reference_pair_mode(files, tmp_path):
    """`--protocol paper --reference R` is the reference's pairwise judging with R as the
    second answer file (`llm_judge.py --mode pair --answer_file A R`): both orders, R in
    slot B first and in slot A second. Its `--mode reference` asks one order only, R
    always in slot B, and its scoring script cannot read that output (it needs the
    second order's winner); docs/evaluation.md lists the difference."""
    instructions, a, b = files
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)
    with FakeEngine(lambda body, number: "[[A]]") as server:
        result = plug_in_process(
            "judge", "--instructions", str(instructions), "--a", str(a), "--reference", str(b),
            "--judge-model", "judge-model", "--base-url", server.url, "--protocol", "paper",
            "--prompt-file", str(prompts), "--prompt-name", "pair-test", "--output", str(tmp_path / "out"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    compared = [i for i in PLAN] + ["empty_in_b"]  # ids in both files
    slots = []
    for request in server.requests:
        user = request["body"]["messages"][1]["content"]
        first, rest = user.split("[Answer A]\n")[1].split("\n\n[Answer B]\n")
        second = rest.split("\n\nVerdict?")[0]
        slots.append((first.split(" for ")[0] if first else "", second.split(" for ")[0] if second else ""))
    assert len(server.requests) == 2 * len(compared)  # both orders, never asked again
    assert slots.count(("answer of a", "answer of b")) + slots.count(("answer of a", "")) == len(compared)
    assert slots.count(("answer of b", "answer of a")) + slots.count(("", "answer of a")) == len(compared)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["b"]["name"] == "reference" and summary["protocol"] == "paper"


def test_paper_protocol_without_the_prompt_file_says_where_it_comes_from(files, tmp_path):
    instructions, a, b = files
    result = plug_in_process(
        "judge",
        "--instructions",
        str(instructions),
        "--a",
        str(a),
        "--b",
        str(b),
        "--judge-model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--protocol",
        "paper",
        "--output",
        str(tmp_path / "out"),
    )
    assert result.returncode != 0
    assert "--prompt-file" in result.stderr and "judge_prompts_focus_language.jsonl" in result.stderr
    assert "not ours to copy" in result.stderr


def test_a_prompt_that_is_not_pairwise_is_refused(tmp_path):
    from axolotl_plug.eval.judge.prompt import paper

    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)
    with pytest.raises(ValueError, match="'single-test' is not a pairwise"):
        paper(prompts, "single-test")
    with pytest.raises(ValueError, match="no prompt named 'pair-v9'"):
        paper(prompts, "pair-v9")


def test_an_endpoint_refusing_a_setting_is_named(files, tmp_path):
    instructions, a, b = files
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)

    in_flight = threading.Barrier(8)  # the concurrency: the 8 first requests are answered together

    def strict(body, number):
        if number <= 8:
            in_flight.wait(timeout=60)
        return (400, '{"error": {"message": "top_p must be in (0, 1]"}}') if body.get("top_p") == 0 else "[[A]]"

    with FakeEngine(strict) as server:
        result = plug_in_process(
            "judge",
            "--instructions",
            str(instructions),
            "--a",
            str(a),
            "--b",
            str(b),
            "--judge-model",
            "m",
            "--base-url",
            server.url,
            "--protocol",
            "paper",
            "--prompt-file",
            str(prompts),
            "--prompt-name",
            "pair-test",
            "--output",
            str(tmp_path / "out"),
        )
    assert result.returncode != 0
    assert "refused the setting top_p=0:" in result.stderr  # named by the error; n=1, also sent, is not
    # a 400 is not retried and stops the run: no request starts after it, so the requests
    # are the 8 in flight (of the 16 the run would make); the documented bound is --concurrency
    assert len(server.requests) == 8


def test_our_protocol_bounds_the_reply_too(files, tmp_path):
    instructions, a, b = files
    with FakeEngine(scripted_judge) as server:
        run_judge(str(instructions), a, b, tmp_path / "out", client(server), max_tokens=300, progress=False)
    assert {r["body"]["max_tokens"] for r in server.requests} == {300}
    assert all("top_p" not in r["body"] for r in server.requests)


def test_paper_protocol_sends_answers_exactly_as_the_files_hold_them(tmp_path):
    """Surrounding whitespace, blank lines and braces reach the judge untouched: the user
    message is FastChat's template filled by str.format with the file's texts."""
    texts = ["  leading and trailing  ", "\n\nblank lines\n\n\ninside\n\n", "", "braces {question} {}", "tab\t\n"]
    instructions = write_jsonl(
        tmp_path / "bench.jsonl", [{"id": i, "instruction": f" question {i}\n"} for i in range(5)]
    )
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": i, "output": t} for i, t in enumerate(texts)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": i, "output": texts[(i + 2) % 5]} for i in range(5)])
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)
    with FakeEngine(lambda body, n: "[[C]]") as server:
        result = plug_in_process(
            "judge",
            "--instructions",
            str(instructions),
            "--a",
            str(a),
            "--b",
            str(b),
            "--judge-model",
            "gpt-4-0613",
            "--base-url",
            server.url,
            "--protocol",
            "paper",
            "--prompt-file",
            str(prompts),
            "--prompt-name",
            "pair-test",
            "--output",
            str(tmp_path / "out"),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    template = FASTCHAT_PROMPTS[1]["prompt_template"]
    expected = []
    for i in range(5):
        for first, second in ((texts[i], texts[(i + 2) % 5]), (texts[(i + 2) % 5], texts[i])):
            expected.append(
                {
                    "model": "gpt-4-0613",
                    "n": 1,
                    "temperature": 0,
                    "top_p": 0,
                    "max_tokens": 1024,
                    "messages": [
                        {"role": "system", "content": FASTCHAT_PROMPTS[1]["system_prompt"]},
                        {
                            "role": "user",
                            "content": template.format(question=f" question {i}\n", answer_a=first, answer_b=second),
                        },
                    ],
                }
            )
    key = lambda body: json.dumps(body, sort_keys=True)  # noqa: E731
    assert sorted(map(key, (r["body"] for r in server.requests))) == sorted(map(key, expected))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (
        summary["a"]["empty"] == 1 and summary["ties"] == 5
    )  # '' is empty; whitespace-only texts are not sent stripped


@pytest.mark.parametrize(
    "reply, paper, ours",
    [
        ("Rating: [[7]]", 7.0, 7.0),
        ("[7]", 7.0, None),  # FastChat's backup pattern; ours wants double brackets
        ("[[7.5]]", 7.5, 7.5),
        ("[[8]] and then [[3]]", 8.0, None),  # FastChat takes the first; ours wants one rating
        ("[9] but [[4]]", 4.0, 4.0),  # [[N]] is looked for before [N]
        ("[[11]]", 11.0, None),
        ("no rating at all", None, None),
    ],
)
def test_single_grading_reads_ratings(reply, paper, ours):
    from axolotl_plug.eval.judge.prompt import reference_rating, single_rating

    assert reference_rating(reply) == paper and single_rating(reply) == ours


SINGLE_REPLIES = {
    "win_a": "[[7]]",
    "slight_a": "[7]",
    "contradiction": "[[7.5]]",
    "both_tie": "no rating",
    "win_b": "[[8]] then [[3]]",
    "slight_b": "[9] but [[4]]",
    "no_verdict": "[[10]]",
    "empty_in_b": "[[1]]",
    "only_in_a": "[[5]]",
}


def single_reply(body, number):
    return SINGLE_REPLIES[re.search(r"instruction (\w+)", body["messages"][1]["content"]).group(1)]


def test_single_grading_with_the_paper_protocol(files, tmp_path):
    instructions, a, b = files
    prompts = write_jsonl(tmp_path / "judge_prompts.jsonl", FASTCHAT_PROMPTS)
    out = tmp_path / "single"
    args = [
        "judge",
        "--mode",
        "single",
        "--instructions",
        str(instructions),
        "--a",
        str(a),
        "--b",
        str(b),
        "--judge-model",
        "gpt-4-0613",
        "--protocol",
        "paper",
        "--prompt-file",
        str(prompts),
        "--prompt-name",
        "single-test",
        "--output",
        str(out),
    ]
    with FakeEngine(single_reply) as server:
        result = plug_in_process(*args, "--base-url", server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(server.requests) == 9 + 8  # every answer of a (9) and of b (8), once: no re-asks
    body = next(
        r["body"]
        for r in server.requests
        if "for win_a" in r["body"]["messages"][1]["content"] and "of a" in r["body"]["messages"][1]["content"]
    )
    assert body == {
        "model": "gpt-4-0613",
        "n": 1,
        "temperature": 0,
        "top_p": 0,
        "max_tokens": 1024,
        "messages": [
            {"role": "system", "content": "Rate it."},
            {"role": "user", "content": "instruction win_a answer of a for win_a"},
        ],
    }
    summary = json.loads((out / "summary.json").read_text())
    side_a = summary["systems"]["a"]
    ratings = [7.0, 7.0, 7.5, None, 8.0, 4.0, 10.0, 5.0, 1.0]  # a's nine answers, as the replies above read
    assert side_a["name"] == "plug" and side_a["n"] == 9 and side_a["errors"] == 1 and side_a["graded"] == 8
    assert side_a["mean"] == pytest.approx((49.5 - 1) / 9)  # an error counts as -1, as the reference averages
    assert side_a["mean_graded"] == pytest.approx(49.5 / 8) and sum(r for r in ratings if r) == 49.5
    assert side_a["by_dataset"]["helpful_base"] == {"n": 2, "graded": 2, "errors": 0, "mean": 7.0, "mean_graded": 7.0}
    assert side_a["by_category"] == {}  # the instructions have no `category` field
    assert summary["systems"]["b"]["n"] == 8 and summary["systems"]["b"]["missing_ids"] == ["only_in_a"]
    assert "| plug | overall | 9 | 5.39 | 6.19 | 1 |" in result.stdout and "| baseline | overall | 8 |" in result.stdout

    with FakeEngine(single_reply) as server:
        assert plug_in_process(*args, "--base-url", server.url).returncode == 0
    assert server.requests == []  # nothing asked again


def test_one_protocol_rule_for_pairwise_single_and_truthfulqa_judging():
    """`ours` and `paper` mean the same for every judge request: the paper's never asks
    again and sends the reference's own settings (FastChat's, or the PLUG repository's
    gpt_utils for X-TruthfulQA); ours may ask again at temperature 0."""
    from axolotl_plug.eval.judge.prompt import Judging, Protocol, gpt_utils_request

    for mode in ("pair", "single"):
        paper, mine = Protocol("paper", mode, "p", "s", "t"), Protocol("ours", mode, "o", "s", "t")
        assert (paper.reasks, mine.reasks) == (False, True)
        assert paper.settings(1024) == {"n": 1, "temperature": 0, "top_p": 0, "max_tokens": 1024}
        assert mine.settings(1024) == {"temperature": 0.0, "max_tokens": 1024}
    truthfulqa = Judging("paper", gpt_utils_request)
    assert not truthfulqa.reasks
    assert truthfulqa.settings(1024) == {
        "max_tokens": 1024,
        "temperature": 0.0,
        "top_p": 0.0,
        "n": 1,
        "extra_body": {"stop": None},
    }
    assert Judging("ours", gpt_utils_request).settings(1024) == mine.settings(1024)
    with pytest.raises(ValueError, match="unknown judge protocol 'fastchat'"):
        Judging("fastchat")
