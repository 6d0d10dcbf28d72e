"""`axolotl plug judge`: pair two answer files, ask the judge twice per item, resume,
aggregate and report."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..llm_client import ChatClient, ChatError, run_concurrently
from ..records import finished, load_instructions, read_records, to_line
from .aggregate import item_outcome, tally
from .prompt import judge_messages, load_user_template, parse_verdict, prompt_hash
from .report import plot_winrate, summary_markdown

ORDERS = ("ab", "ba")  # ab: A's answer in slot A; ba: swapped
CATEGORY_FIELDS = ("dataset", "category")


@dataclass(frozen=True)
class Job:
    id: str
    order: str
    messages: tuple
    prompt_hash: str


def _answers(path: Path) -> tuple[dict[str, str], str]:
    rows = read_records(path)
    answers = {str(r["id"]): (r.get("output") or "").strip() for r in rows if "id" in r}
    name = next((r["generator"] for r in rows if r.get("generator")), path.stem)
    return answers, name


def pair_items(records: list[dict], a: dict[str, str], b: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Items to judge (both answers present and non-empty) and the missing ids."""
    compared, missing = [], []
    for record in records:
        rid = record["id"]
        if rid not in a and rid not in b:
            continue
        if a.get(rid) and b.get(rid):
            compared.append(record)
        else:
            missing.append(rid)
    return compared, missing


def run_judge(
    instructions: str,
    a_path: Path,
    b_path: Path,
    output: Path,
    client: ChatClient,
    *,
    split: str | None = None,
    concurrency: int = 8,
    reasks: int = 1,
    prompt_file: str | None = None,
    b_name: str | None = None,
    progress: bool = True,
) -> dict:
    """Judge every paired item in both orders and write the summary files. Returns the
    summary. A reply without a single verdict is asked again up to `reasks` times (the
    client retries transport failures on its own). Raises ChatError (after writing what
    finished) when calls kept failing."""
    from tqdm.auto import tqdm

    records = load_instructions(instructions, split, require_lang=False)
    a, name_a = _answers(a_path)
    b, name_b = _answers(b_path)
    name_b = b_name or name_b
    compared, missing = pair_items(records, a, b)
    template = load_user_template(prompt_file)

    jobs = []
    for record in compared:
        answers = {"ab": (a[record["id"]], b[record["id"]]), "ba": (b[record["id"]], a[record["id"]])}
        for order in ORDERS:
            messages = judge_messages(template, record["instruction"], *answers[order])
            jobs.append(Job(record["id"], order, tuple(messages), prompt_hash(messages)))

    output.mkdir(parents=True, exist_ok=True)
    judgments_path = output / "judgments.jsonl"
    done = finished(judgments_path, key=lambda row: (row["id"], row["order"], row["model"], row["prompt_hash"]))
    key = lambda job: (job.id, job.order, client.model, job.prompt_hash)  # noqa: E731
    todo = [job for job in jobs if key(job) not in done]

    def ask(job: Job) -> tuple[str, str]:
        reply = ""
        for _ in range(reasks + 1):
            reply = client.complete(list(job.messages))
            verdict = parse_verdict(reply)
            if verdict:
                return reply, verdict
        return reply, "error"  # no single verdict token after the re-asks

    failures: list[str] = []
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="judging", unit="call", disable=not progress)
    with open(judgments_path, "a", encoding="utf-8") as handle:
        for job, result in run_concurrently(ask, todo, concurrency):
            bar.update(1)
            if isinstance(result, Exception):
                failures.append(f"{job.id}/{job.order}: {result}")
                continue
            reply, verdict = result
            row = {"id": job.id, "order": job.order, "model": client.model, "prompt_hash": job.prompt_hash,
                   "raw_reply": reply, "verdict": verdict}
            done[key(job)] = row
            handle.write(to_line(row))
            handle.flush()
    bar.close()
    if failures:
        raise ChatError(
            f"{len(failures)} judge calls failed and were not recorded (first: {failures[0]}); "
            "run the same command again to retry only those"
        )

    verdicts = {(job.id, job.order): done[key(job)]["verdict"] for job in jobs}
    outcomes = {r["id"]: item_outcome(verdicts[(r["id"], "ab")], verdicts[(r["id"], "ba")]) for r in compared}
    summary = tally([outcomes[r["id"]] for r in compared], name_a, name_b)
    summary["missing"] = len(missing)
    summary["missing_ids"] = missing
    groups: dict[str, list[str]] = defaultdict(list)
    for record in compared:
        category = next((record[f] for f in CATEGORY_FIELDS if record.get(f)), None)
        if category is not None:
            groups[str(category)].append(outcomes[record["id"]])
    summary["by_category"] = {name: tally(group, name_a, name_b) for name, group in sorted(groups.items())}
    summary["judge_model"] = client.model

    (output / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (output / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    plot_winrate(summary, output / "winrate.png")
    return summary
