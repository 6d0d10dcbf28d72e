"""`axolotl plug data build`: join pivot data and its translation into PLUG rows;
conversations (`messages`) into conversation rows, each message with its `pivot`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import median

from axolotl_plug.datagen.pairs import conversation_turns, load_pairs
from axolotl_plug.format.langid import wrong_language
from axolotl_plug.format.languages import get_language
from axolotl_plug.io.records import sibling, write_jsonl, write_whole

# a row's response-length ratio may differ from the dataset's typical ratio by this factor
LENGTH_FACTOR = 3.0
MIN_ROWS_FOR_LENGTH_CHECK = 5


class BuildError(ValueError):
    pass


def join(pivot: list[dict], target: list[dict], pivot_has_ids: bool, target_has_ids: bool, names: tuple[str, str]):
    """Pairs of (pivot row, target row) and the ids missing on either side."""
    if not pivot_has_ids and not target_has_ids and len(pivot) != len(target):
        raise BuildError(
            f"neither {names[0]} nor {names[1]} has ids, so rows are joined by position, but they "
            f"have {len(pivot)} and {len(target)} rows"
        )
    by_id = {row["id"]: row for row in target}
    pivot_ids = {row["id"] for row in pivot}
    pairs = [(row, by_id[row["id"]]) for row in pivot if row["id"] in by_id]
    missing_in_target = [row["id"] for row in pivot if row["id"] not in by_id]
    missing_in_pivot = [row["id"] for row in target if row["id"] not in pivot_ids]
    return pairs, missing_in_target, missing_in_pivot


def field_problems(plug_row: dict, pivot_lang: str, target_lang: str) -> list[tuple[str, str]]:
    """(field, reason) for each empty field or field in the wrong language."""
    problems = []
    pair = (pivot_lang, target_lang)
    expected = {
        "pivot_instruction": pivot_lang,
        "pivot_response": pivot_lang,
        "instruction": target_lang,
        "response": target_lang,
    }
    for name, lang in expected.items():
        value = plug_row[name]
        if not isinstance(value, str) or not value.strip():
            problems.append((name, "empty"))
            continue
        problem = wrong_language(value, lang, pair)
        if problem:
            problems.append((name, problem))
    return problems


def joined_conversation(pivot: dict, target: dict, lang: str, pivot_lang: str) -> tuple[dict, list[tuple[str, str]]]:
    """A conversation row (conversation_turns' form, each message with its `pivot`) from a
    conversation and its translation, and (field, reason) for each problem: turns that
    do not match, or a message empty or in the wrong language."""
    row: dict = {"id": pivot["id"], "lang": lang, "messages": []}
    turns = {}
    for field, side in (("pivot_messages", pivot), ("messages", target)):
        try:
            turns[field] = conversation_turns(side.get("messages"))
        except ValueError as exc:
            return row, [(field, str(exc).removeprefix("messages: "))]
    (_, pivot_turns), (system, target_turns) = turns["pivot_messages"], turns["messages"]
    if len(pivot_turns) != len(target_turns):
        return row, [("messages", f"{len(pivot_turns)} turns in the pivot file, {len(target_turns)} in the target")]
    messages = [{"role": "system", "content": system}] if system else []
    problems = []
    for (pivot_user, pivot_answer), (user, answer) in zip(pivot_turns, target_turns):
        for role, text, pivot_text in (("user", user, pivot_user), ("assistant", answer, pivot_answer)):
            at = len(messages)
            messages.append({"role": role, "content": text, "pivot": pivot_text})
            for field, value, expected in (
                (f"messages[{at}].content", text, lang),
                (f"messages[{at}].pivot", pivot_text, pivot_lang),
            ):
                problem = wrong_language(value, expected, (pivot_lang, lang))
                if problem:
                    problems.append((field, problem))
    row["messages"] = messages
    return row, problems


def response_lengths(row: dict) -> dict:
    """The texts whose lengths the outlier check compares: a conversation's answers together."""
    if "messages" not in row:
        return row
    answers = [m for m in row["messages"] if m["role"] == "assistant"]
    return {
        "id": row["id"],
        "response": "".join(m["content"] for m in answers),
        "pivot_response": "".join(m["pivot"] for m in answers),
    }


def length_outliers(rows: list[dict]) -> tuple[dict[str, float], float | None]:
    """Rows whose target/pivot response length ratio is more than LENGTH_FACTOR away from
    the dataset's median ratio. The median adapts to the language pair: Chinese answers
    run at about a third of the English characters, Italian at about 1.1 times."""
    ratios = {
        r["id"]: len(r["response"]) / len(r["pivot_response"]) for r in rows if r["response"] and r["pivot_response"]
    }
    if len(ratios) < MIN_ROWS_FOR_LENGTH_CHECK:
        return {}, None
    typical = median(ratios.values())
    limit = math.log(LENGTH_FACTOR)
    return {rid: ratio for rid, ratio in ratios.items() if abs(math.log(ratio / typical)) > limit}, typical


def build(
    pivot_file: Path,
    target_file: Path,
    lang: str,
    output: Path,
    pivot_lang: str = "en",
    id_field: str = "id",
    on_bad_row: str = "skip",
    reject_length_outliers: bool = False,
) -> dict:
    """Write PLUG rows to `output`, rejected rows and a report next to it; return the report."""
    get_language(lang), get_language(pivot_lang)  # an unknown code says so before any file is read
    pivot, pivot_has_ids = load_pairs(pivot_file, id_field)
    target, target_has_ids = load_pairs(target_file, id_field)
    pairs, missing_in_target, missing_in_pivot = join(
        pivot, target, pivot_has_ids, target_has_ids, (str(pivot_file), str(target_file))
    )
    candidates = []
    for p, t in pairs:
        if p.get("messages") is not None or t.get("messages") is not None:
            row, problems = joined_conversation(p, t, lang, pivot_lang)
        else:
            row = {
                "id": p["id"],
                "lang": lang,
                "instruction": t["instruction"],
                "response": t["response"],
                "pivot_instruction": p["instruction"],
                "pivot_response": p["response"],
            }
            problems = field_problems(row, pivot_lang, lang)
        candidates.append({"row": row, "problems": problems, "pivot_row": p["row"], "target_row": t["row"]})

    rejected, kept = [], []
    for candidate in candidates:
        problems = candidate.pop("problems")
        if problems:
            field, reason = problems[0]
            where = (
                f"{pivot_file} row {candidate['pivot_row']}"
                if field.startswith("pivot") or field.endswith(".pivot")
                else f"{target_file} row {candidate['target_row']}"
            )
            if on_bad_row == "error":
                raise BuildError(f"{where} (id {candidate['row']['id']}): field '{field}': {reason}")
            rejected.append({**candidate, "reason": f"{field}: {reason}"})
        else:
            kept.append(candidate)

    outliers, typical = length_outliers([response_lengths(c["row"]) for c in kept])
    if reject_length_outliers and outliers:
        rejected += [
            {**c, "reason": f"length ratio {outliers[c['row']['id']]:.2f} vs typical {typical:.2f}"}
            for c in kept
            if c["row"]["id"] in outliers
        ]
        kept = [c for c in kept if c["row"]["id"] not in outliers]

    write_jsonl(output, [c["row"] for c in kept])
    write_jsonl(
        sibling(output, "rejected.jsonl"),
        [
            {**c["row"], "reason": c["reason"], "pivot_row": c["pivot_row"], "target_row": c["target_row"]}
            for c in rejected
        ],
    )
    report = {
        "pivot_file": str(pivot_file),
        "target_file": str(target_file),
        "lang": lang,
        "pivot_lang": pivot_lang,
        "joined_by": "id" if (pivot_has_ids or target_has_ids) else "position",
        "rows_joined": len(pairs),
        "rows_written": len(kept),
        "missing_in_target": missing_in_target,
        "missing_in_pivot": missing_in_pivot,
        "rejected": [
            {"id": c["row"]["id"], "pivot_row": c["pivot_row"], "target_row": c["target_row"], "reason": c["reason"]}
            for c in rejected
        ],
        "typical_length_ratio": typical,
        "length_outliers": [{"id": rid, "ratio": round(ratio, 3)} for rid, ratio in sorted(outliers.items())],
        "length_outliers_rejected": bool(reject_length_outliers),
    }
    write_whole(sibling(output, "report.json"), json.dumps(report, ensure_ascii=False, indent=2))
    return report


def format_report(report: dict) -> str:
    lines = [
        f"joined {report['rows_joined']} rows by {report['joined_by']}; wrote {report['rows_written']}",
        f"ids missing in the target file: {len(report['missing_in_target'])}; in the pivot file: {len(report['missing_in_pivot'])}",
        f"rejected: {len(report['rejected'])}",
    ]
    lines += [
        f"  id {r['id']} (pivot row {r['pivot_row']}, target row {r['target_row']}): {r['reason']}"
        for r in report["rejected"][:20]
    ]
    verb = "rejected" if report["length_outliers_rejected"] else "flagged (keep them or pass --reject-length-outliers)"
    if report["typical_length_ratio"] is not None:
        lines.append(
            f"typical target/pivot length ratio {report['typical_length_ratio']:.2f}; "
            f"{len(report['length_outliers'])} outliers {verb}"
        )
    return "\n".join(lines)
