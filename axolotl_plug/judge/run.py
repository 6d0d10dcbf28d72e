"""`axolotl plug judge`: pair two answer files, ask the judge twice per item, resume,
aggregate and report."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..llm_client import ChatClient, ChatError, append_concurrently
from ..records import finished, load_instructions, read_records
from .aggregate import item_outcome, tally
from .prompt import Protocol, ours
from .report import plot_winrate, summary_markdown

ORDERS = ("ab", "ba")  # ab: A's answer in slot A; ba: swapped
CATEGORY_FIELDS = ("dataset", "category")


@dataclass(frozen=True)
class Job:
    id: str
    order: str
    messages: tuple

    @property
    def key(self) -> str:
        """What was asked, hashed: a judgment is reused only for the very same messages,
        so answers that changed since are judged again."""
        text = "\x00".join(f"{m['role']}\x01{m['content']}" for m in self.messages)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class System:
    """One side of the comparison: its answers by id, and how they ended."""

    name: str
    answers: dict[str, str]
    truncated: set[str]


def read_system(path: Path, name: str | None = None) -> System:
    """An answer file (generate's output): `output` by id, and the ids marked truncated."""
    rows = [r for r in read_records(path) if "id" in r]
    answers = {str(r["id"]): (r.get("output") or "").strip() for r in rows}
    truncated = {str(r["id"]) for r in rows if r.get("truncated")}
    name = name or next((r["generator"] for r in rows if r.get("generator")), path.stem)
    return System(name, answers, truncated)


def pair_items(records: list[dict], a: System, b: System) -> tuple[list[dict], list[str]]:
    """The items both files answer (empty answers included: they are judged as they are)
    and the ids only one file has."""
    compared, missing = [], []
    for record in records:
        rid = str(record["id"])
        if rid in a.answers and rid in b.answers:
            compared.append(record)
        elif rid in a.answers or rid in b.answers:
            missing.append(record["id"])
    return compared, missing


def side_counts(system: System, ids: list[str]) -> dict[str, int]:
    return {"empty": sum(not system.answers[i] for i in ids), "truncated": sum(i in system.truncated for i in ids)}


def run_judge(
    instructions: str,
    a_path: Path,
    b_path: Path,
    output: Path,
    client: ChatClient,
    *,
    protocol: Protocol | None = None,
    split: str | None = None,
    concurrency: int = 8,
    reasks: int = 1,
    max_tokens: int = 1024,
    b_name: str | None = None,
    progress: bool = True,
) -> dict:
    """Judge every item both files answer, in both orders, and write the summary files.
    Returns the summary. Under a protocol that allows it, a reply without a verdict is
    asked again up to `reasks` times (the client retries transport failures on its own).
    Raises ChatError (after writing what finished) when calls kept failing."""
    from tqdm.auto import tqdm

    protocol = protocol or ours()
    reasks = reasks if protocol.reasks else 0
    records = load_instructions(instructions, split, require_lang=False)
    a, b = read_system(a_path), read_system(b_path, b_name)
    compared, missing = pair_items(records, a, b)

    jobs = []
    for record in compared:
        rid = str(record["id"])
        answers = {"ab": (a.answers[rid], b.answers[rid]), "ba": (b.answers[rid], a.answers[rid])}
        for order in ORDERS:
            jobs.append(Job(rid, order, tuple(protocol.messages(record["instruction"], *answers[order]))))

    output.mkdir(parents=True, exist_ok=True)
    judgments_path = output / "judgments.jsonl"
    done = finished(judgments_path, key=lambda row: (row["id"], row["order"], row["model"], row["prompt_hash"]))
    key = lambda job: (job.id, job.order, client.model, job.key)  # noqa: E731
    todo = [job for job in jobs if key(job) not in done]

    def ask(job: Job) -> tuple[str, str]:
        reply = ""
        for _ in range(reasks + 1):
            reply = client.complete(list(job.messages), temperature=0.0, top_p=protocol.top_p, max_tokens=max_tokens).text
            verdict = protocol.verdict(reply)
            if verdict:
                return reply, verdict
        return reply, "error"  # no verdict, after the re-asks the protocol allows

    def line(job: Job, result: tuple[str, str]) -> dict:
        row = {"id": job.id, "order": job.order, "model": client.model, "prompt_hash": job.key,
               "raw_reply": result[0], "verdict": result[1]}
        done[key(job)] = row
        return row

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="judging", unit="call", disable=not progress)
    failures = append_concurrently(ask, todo, judgments_path, line, concurrency=concurrency, bar=bar)
    if failures:
        job, error = failures[0]
        raise ChatError(
            f"{len(failures)} judge calls failed and were not recorded (first: {job.id}/{job.order}: {error}); "
            "run the same command again to retry only those"
        )

    verdicts = {(job.id, job.order): done[key(job)]["verdict"] for job in jobs}
    ids = [str(r["id"]) for r in compared]
    outcomes = {rid: item_outcome(verdicts[(rid, "ab")], verdicts[(rid, "ba")]) for rid in ids}
    summary = tally([outcomes[rid] for rid in ids], a.name, b.name)
    summary["a"].update(side_counts(a, ids))
    summary["b"].update(side_counts(b, ids))
    summary["missing"] = len(missing)
    summary["missing_ids"] = missing
    groups: dict[str, list[str]] = defaultdict(list)
    for record in compared:
        category = next((record[f] for f in CATEGORY_FIELDS if record.get(f)), None)
        if category is not None:
            groups[str(category)].append(outcomes[str(record["id"])])
    summary["by_category"] = {name: tally(group, a.name, b.name) for name, group in sorted(groups.items())}
    summary["judge_model"] = client.model
    summary["protocol"] = protocol.name
    summary["prompt_name"] = protocol.prompt_name
    summary["prompt_hash"] = protocol.prompt_hash
    summary["judge_max_tokens"] = max_tokens

    (output / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (output / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    plot_winrate(summary, output / "winrate.png")
    return summary
