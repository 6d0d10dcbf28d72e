"""`axolotl plug judge`: pair two answer files and ask the judge twice per item (both
answer orders), or grade each answer on its own; resume, aggregate and report."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from axolotl_plug.eval.answers import Answers, answer_key, language_of, read_answers
from axolotl_plug.eval.judge.aggregate import item_outcome, rating_stats, tally
from axolotl_plug.eval.judge.prompt import Protocol, dialogue_protocol, ours
from axolotl_plug.eval.judge.report import plot_winrate, single_markdown, summary_markdown
from axolotl_plug.io.client import ChatClient
from axolotl_plug.io.records import RunFolder, load_instructions
from axolotl_plug.io.runner import Ask, ask_all

ANSWER_ORDERS = ("ab", "ba")  # ab: A's answer in slot A; ba: swapped
CATEGORY_FIELDS = ("dataset", "category")


def pair_items(records: list[dict], a: Answers, b: Answers) -> tuple[list[dict], list[str]]:
    """The items both files answer (empty answers included: they are judged as they are)
    and the ids only one file has."""
    compared, missing = [], []
    for record in records:
        rid = str(record["id"])
        if rid in a.texts and rid in b.texts:
            compared.append(record)
        elif rid in a.texts or rid in b.texts:
            missing.append(record["id"])
    return compared, missing


def pair_turns(
    records: list[dict], a: Answers, b: Answers, turn: int, exactly: int | None = None
) -> tuple[list[dict], list[str]]:
    """The multi-turn items with a turn `turn` (and `exactly` turns, when given) that both
    files answer up to it, and the ids that only one file answers that far."""
    compared, missing = [], []
    for record in records:
        count = len(record.get("turns") or [])
        if count < turn or (exactly is not None and count != exactly):
            continue
        rid = str(record["id"])
        answered = [system.dialogue(rid, turn) is not None for system in (a, b)]
        if all(answered):
            compared.append(record)
        elif any(answered):
            missing.append(record["id"])
    if not compared and not missing:
        raise ValueError(f"no item of the benchmark has a turn {turn} (multi-turn rows give `turns`)")
    return compared, missing


def pair_messages(protocol: Protocol, record: dict, a: Answers, b: Answers, order: str, turn: int | None):
    """The judge's messages for one item in one answer order (`ab`: A's answer in slot A),
    on the item's answer, or with `turn` on the two conversations up to that turn."""
    rid = str(record["id"])
    first, second = (a, b) if order == "ab" else (b, a)
    if turn is None:
        return protocol.messages(record["instruction"], first.texts[rid], second.texts[rid])
    if protocol.name == "paper" and turn == 1:  # FastChat's first turn: the single-turn prompt on it
        key = answer_key({"id": rid, "turn": 1})
        return protocol.messages(record["turns"][0], first.texts[key], second.texts[key])
    return protocol.dialogue_messages(record["turns"][:turn], first.dialogue(rid, turn), second.dialogue(rid, turn))


def side_counts(system: Answers, ids: list[str]) -> dict[str, int]:
    return {
        "empty": sum(not system.texts[i].strip() for i in ids),
        "truncated": sum(i in system.truncated for i in ids),
    }


def group_ids(records: list[dict], group_of) -> dict[str, list[str]]:
    """Item ids by `group_of(record)` (None: in no group), groups sorted by name."""
    groups: dict[str, list[str]] = defaultdict(list)
    for record in records:
        name = group_of(record)
        if name not in (None, ""):
            groups[str(name)].append(str(record["id"]))
    return dict(sorted(groups.items()))


def category_of(record: dict):
    """The pairwise summary's category: the instructions' `dataset`, else `category`."""
    return next((record[f] for f in CATEGORY_FIELDS if record.get(f)), None)


def judge_run(output: Path) -> RunFolder:
    """A judge run's folder: its summaries name the judge model."""
    return RunFolder(
        output,
        {
            "summary.json": lambda text: '"judge_model"' in text,
            "summary.md": lambda text: text.startswith("# Single-answer grading") or "\nJudged by " in text,
        },
    )


def _protocol_fields(protocol: Protocol, client: ChatClient, max_tokens: int) -> dict:
    return {
        "mode": protocol.mode,
        "judge_model": client.model,
        "protocol": protocol.name,
        "prompt_name": protocol.prompt_name,
        "prompt_hash": protocol.template_hash,
        "judge_max_tokens": max_tokens,
    }


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
    turn: int | None = None,
    progress: bool = True,
) -> dict:
    """Judge every item both files answer, in both orders, and write the summary files.
    Returns the summary. Under a protocol that allows it, a reply without a verdict is
    asked again up to `reasks` times (the client retries transport failures on its own).
    With `turn`, multi-turn items (`turns`) are compared on that turn: the judge sees
    each system's whole conversation up to it (dialogue_protocol). Raises ChatError
    (after writing what finished) when calls kept failing."""
    records = load_instructions(instructions, split, require_lang=False)
    a, b = read_answers(a_path), read_answers(b_path, b_name)
    if turn is None:
        protocol = protocol or ours()
        compared, missing = pair_items(records, a, b)
    else:
        protocol = protocol or dialogue_protocol()
        # FastChat judges a second turn only of two-turn questions (its make_match skips the others)
        exactly = 2 if protocol.name == "paper" and turn == 2 else None
        compared, missing = pair_turns(records, a, b, turn, exactly)
    run = judge_run(output)
    run.claim()

    asks = [
        Ask((("id", str(record["id"])), ("order", order)), tuple(pair_messages(protocol, record, a, b, order, turn)))
        for record in compared
        for order in ANSWER_ORDERS
    ]
    rows = ask_all(
        client,
        asks,
        output / "judgments.jsonl",
        read=protocol.read,
        value_field="verdict",
        fallback="error",
        settings=protocol.settings(max_tokens),
        written_by="judge",
        reasks=reasks if protocol.reasks else 0,
        concurrency=concurrency,
        desc="judging",
        progress=progress,
    )

    verdicts = {(row["id"], row["order"]): row["verdict"] for row in rows}
    ids = [str(r["id"]) for r in compared]
    outcomes = {rid: item_outcome(verdicts[(rid, "ab")], verdicts[(rid, "ba")]) for rid in ids}
    summary = tally([outcomes[rid] for rid in ids], a.name, b.name)
    judged = ids if turn is None else [answer_key({"id": rid, "turn": turn}) for rid in ids]  # the answers judged
    summary["a"].update(side_counts(a, judged), answers=str(a.path))
    summary["b"].update(side_counts(b, judged), answers=str(b.path))
    summary["missing"] = len(missing)
    summary["missing_ids"] = missing
    if turn is not None:
        summary["turn"] = turn
    for group, group_of in (("by_category", category_of), ("by_language", language_of([a, b]))):
        summary[group] = {
            name: tally([outcomes[i] for i in members], a.name, b.name)
            for name, members in group_ids(compared, group_of).items()
        }
    summary.update(_protocol_fields(protocol, client, max_tokens))

    run.write_summary(summary, summary_markdown(summary))
    plot_winrate(summary, output / "winrate.png")
    return summary


def run_single(
    instructions: str,
    answer_paths: list[Path],
    output: Path,
    client: ChatClient,
    *,
    protocol: Protocol,
    split: str | None = None,
    concurrency: int = 8,
    reasks: int = 1,
    max_tokens: int = 1024,
    progress: bool = True,
) -> dict:
    """Grade every answer of each file on its own (FastChat's single-answer grading) and
    write the summary files. Returns the summary: per system the mean over all
    judgments with an error counted as -1 (the reference's figure), the mean over the
    graded ones, and the error count, overall, by dataset, category and language."""
    records = load_instructions(instructions, split, require_lang=False)
    sides = [("a", read_answers(path)) for path in answer_paths[:1]] + [
        ("b", read_answers(p)) for p in answer_paths[1:2]
    ]
    run = judge_run(output)
    run.claim()
    asks, present = [], {}
    for side, system in sides:
        present[side] = [r for r in records if str(r["id"]) in system.texts]
        for record in present[side]:
            rid = str(record["id"])
            asks.append(
                Ask((("id", rid), ("system", side)), tuple(protocol.messages(record["instruction"], system.texts[rid])))
            )
    rows = ask_all(
        client,
        asks,
        output / "judgments.jsonl",
        read=protocol.read,
        value_field="rating",
        fallback=None,
        settings=protocol.settings(max_tokens),
        written_by="judge --mode single",
        reasks=reasks if protocol.reasks else 0,
        concurrency=concurrency,
        desc="grading",
        progress=progress,
    )
    ratings = {(row["id"], row["system"]): row["rating"] for row in rows}

    summary = {"systems": {}}
    for side, system in sides:
        ids = [str(r["id"]) for r in present[side]]
        graded = {rid: ratings[(rid, side)] for rid in ids}
        entry = {"name": system.name, "answers": str(system.path), **rating_stats(list(graded.values()))}
        groupings = (
            ("by_dataset", lambda r: r.get("dataset")),
            ("by_category", lambda r: r.get("category")),
            ("by_language", language_of([system])),
        )
        for group, group_of in groupings:
            entry[group] = {
                name: rating_stats([graded[i] for i in members])
                for name, members in group_ids(present[side], group_of).items()
            }
        answered = set(system.texts)
        entry["missing_ids"] = [r["id"] for r in records if str(r["id"]) not in answered]
        entry["missing"] = len(entry["missing_ids"])
        summary["systems"][side] = entry
    summary.update(_protocol_fields(protocol, client, max_tokens))

    run.write_summary(summary, single_markdown(summary))
    return summary
