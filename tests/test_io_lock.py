"""One run per output: two real processes on one output, started together, make every
request once; the second refuses at once and names the first; a killed run's lock never
blocks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers.commands import plug_in_process
from tests.helpers.engine import FakeEngine
from tests.helpers.rows import EN_ZH, pivot_rows, target_rows, write_jsonl

ANSWER = "English response:\nFine.\n\n中文回复：\n很好。"
ITEMS = 6


def reply(body: dict, number: int) -> str:
    """One scripted endpoint for every command: a translation for `data translate`, a
    PLUG answer (and, to a judge, an unreadable verdict) for the rest."""
    text = body["messages"][-1]["content"]
    found = re.search("<<<INSTRUCTION>>>\n(.*)\n<<<RESPONSE>>>", text, re.S)
    if found:
        zh_i, zh_r = next((zi, zr) for en_i, _, zi, zr in EN_ZH if en_i == found.group(1))
        return f"<<<INSTRUCTION>>>\n{zh_i}\n<<<RESPONSE>>>\n{zh_r}"
    return ANSWER


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "axolotl_plug", *args],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def started_together(args: list[str]) -> tuple[list[tuple[int, str, int]], int]:
    """Start the command twice at once against an endpoint that holds every request
    until one of the two has ended (so the runs overlap whatever the start-up times);
    return (returncode, stderr, pid) of each, the first to end first, and the requests
    the endpoint got."""
    gate = threading.Event()

    def held(body, number):
        gate.wait(120)
        return reply(body, number)

    with FakeEngine(held) as server:
        runs = [start([*args, "--base-url", server.url]) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while all(run.poll() is None for run in runs) and time.monotonic() < deadline:
                time.sleep(0.02)
            first = next((run for run in runs if run.poll() is not None), None)
            assert first is not None, "neither run ended: both are working on one output"
            gate.set()
            ended = [first, next(run for run in runs if run is not first)]
            results = [(run.wait(120), run.communicate()[1], run.pid) for run in ended]
        finally:
            gate.set()
            for run in runs:
                if run.poll() is None:
                    run.kill()
    return results, len(server.requests)


@pytest.fixture()
def inputs(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "plug.json").write_text(json.dumps({"target_language": "zh", "sequence_len": 512}))
    bench = [{"id": i, "instruction": f"问题 {i}", "lang": "zh", "answer": i} for i in range(ITEMS)]
    answers = [{"id": i, "lang": "zh", "output": f"答案是 {i}。", "instruction": f"问题 {i}"} for i in range(ITEMS)]
    return {
        "model": model_dir,
        "bench": write_jsonl(tmp_path / "bench.jsonl", bench),
        "answers": write_jsonl(tmp_path / "answers.jsonl", answers),
        "tqa": write_jsonl(
            tmp_path / "tqa.jsonl",
            [{**row, "correct_answers": ["对"], "incorrect_answers": ["错"]} for row in bench],
        ),
        "en": write_jsonl(tmp_path / "en.jsonl", pivot_rows()[:ITEMS]),
    }


COMMANDS = {
    # name: (arguments before --output, the output is a folder, the file that holds the results)
    "generate": (
        lambda f: [
            "generate",
            "--model-dir",
            str(f["model"]),
            "--instructions",
            str(f["bench"]),
            "--max-new-tokens",
            "16",
        ],
        False,
        None,
    ),
    "judge": (
        lambda f: [
            "judge",
            "--instructions",
            str(f["bench"]),
            "--a",
            str(f["answers"]),
            "--b",
            str(f["answers"]),
            "--judge-model",
            "j",
        ],
        True,
        "judgments.jsonl",
    ),
    "score truthfulqa": (
        lambda f: [
            "score",
            "truthfulqa",
            "--answers",
            str(f["answers"]),
            "--references",
            str(f["tqa"]),
            "--judge-model",
            "j",
        ],
        True,
        "judgments.jsonl",
    ),
    "score svamp": (
        lambda f: [
            "score",
            "svamp",
            "--answers",
            str(f["answers"]),
            "--references",
            str(f["bench"]),
            "--extract-model",
            "x",
        ],
        True,
        "extractions.jsonl",
    ),
    "data translate": (
        lambda f: ["data", "translate", "--input", str(f["en"]), "--lang", "zh", "--model", "m"],
        False,
        None,
    ),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_two_runs_started_together_ask_everything_once(name, inputs, tmp_path):
    make_args, folder, results_file = COMMANDS[name]
    alone = tmp_path / "alone"
    together = tmp_path / "together"
    if not folder:
        alone, together = alone.with_suffix(".jsonl"), together.with_suffix(".jsonl")
    with FakeEngine(reply) as server:
        single = plug_in_process(*make_args(inputs), "--output", str(alone), "--base-url", server.url)
    assert single.returncode == 0, single.stderr[-2000:]
    one_run_requests = len(server.requests)
    assert one_run_requests > 0

    ended, requests = started_together([*make_args(inputs), "--output", str(together)])
    (refused, message, _), (ran, _, holder) = ended
    assert refused == 1 and ran == 0
    assert f"{together} is being written by another run (process {holder})" in message
    assert "Traceback" not in message
    assert requests == one_run_requests  # nothing asked twice
    written = (together / results_file) if folder else together
    expected = (alone / results_file) if folder else alone
    assert len(written.read_text().splitlines()) == len(expected.read_text().splitlines())
    lock = (together / ".plug.lock") if folder else together.with_name(together.name + ".lock")
    assert not lock.exists()  # removed when the run ended


HOLD = (
    "import sys, time; from pathlib import Path; from axolotl_plug.io.lock import one_run\n"
    "with one_run(Path(sys.argv[1]), folder=sys.argv[2] == 'folder'):\n"
    "    print('held', flush=True); time.sleep(600)"
)


def holding(output, folder: bool) -> subprocess.Popen:
    """A real other process that holds `output` as a run of any command would."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(output), "folder" if folder else "file"], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline() == "held\n"
    return process


def test_the_commands_without_requests_refuse_while_another_run_holds_the_output(tmp_path, inputs):
    pivot = write_jsonl(tmp_path / "pivot.jsonl", pivot_rows())
    target = write_jsonl(tmp_path / "target.jsonl", target_rows())
    out = tmp_path / "plug_zh.jsonl"
    build = ["data", "build", "--pivot", str(pivot), "--target", str(target), "--lang", "zh", "--output", str(out)]
    others = {
        "data prefs": (
            ["data", "prefs", "--a", str(inputs["answers"]), "--b", str(inputs["answers"])],
            ["--judgments", str(tmp_path), "--output", str(tmp_path / "prefs.jsonl")],
            False,
        ),
        "report": (["report", str(tmp_path)], ["--output", str(tmp_path / "report")], True),
        "score svamp": (
            ["score", "svamp", "--answers", str(inputs["answers"]), "--references", str(inputs["bench"])],
            ["--output", str(tmp_path / "svamp")],
            True,
        ),
    }
    holder = holding(out, folder=False)
    try:
        result = plug_in_process(*build)
        assert result.returncode == 1
        assert result.stderr.strip().endswith(
            f"{out} is being written by another run (process {holder.pid}); "
            "wait for it to end or stop it, then run the command again: it resumes"
        )
        assert not out.exists()
    finally:
        holder.send_signal(signal.SIGKILL)  # killed: its lock must not block what comes next
        holder.wait()
    assert (tmp_path / "plug_zh.jsonl.lock").exists()  # left by the killed process
    result = plug_in_process(*build)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(out.read_text().splitlines()) == len(pivot_rows())
    assert not (tmp_path / "plug_zh.jsonl.lock").exists()

    for name, (head, tail, folder) in others.items():
        output = tail[tail.index("--output") + 1]
        holder = holding(output, folder)
        try:
            result = plug_in_process(*head, *tail)
        finally:
            holder.kill()
            holder.wait()
        assert result.returncode == 1, name
        assert f"{output} is being written by another run (process {holder.pid})" in result.stderr, name


def test_a_users_file_where_the_lock_goes_is_left_alone(tmp_path):
    """`OUTPUT.lock` that is not a lock (a user's file) is refused, not written into and
    removed; one left by a killed run (a process id) is taken over."""
    out = tmp_path / "plug_zh.jsonl"
    mine = tmp_path / "plug_zh.jsonl.lock"
    mine.write_text("my notes\n")
    pivot = write_jsonl(tmp_path / "pivot.jsonl", pivot_rows())
    target = write_jsonl(tmp_path / "target.jsonl", target_rows())
    build = ["data", "build", "--pivot", str(pivot), "--target", str(target), "--lang", "zh", "--output", str(out)]
    result = plug_in_process(*build)
    assert result.returncode == 1
    assert f"{mine} is in the way: this command keeps its lock there; move that file away" in result.stderr
    assert mine.read_text() == "my notes\n" and not out.exists()
    mine.write_text("4242\n")  # what a SIGKILLed run leaves
    assert plug_in_process(*build).returncode == 0 and not mine.exists()
