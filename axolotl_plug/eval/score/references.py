"""A benchmark's reference rows (local file or hub split), checked field by field, and
matched to one system's answers by id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axolotl_plug.eval.answers import Answers
from axolotl_plug.io.records import RunFolder, load_rows, write_jsonl


def is_text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def is_text_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def load_references(
    source: str,
    split: str | None,
    fields: dict[str, tuple[Callable, str]],
    normalize: Callable[[int, dict], dict] | None = None,
) -> list[dict]:
    """Rows with an `id` and every field in `fields` ({name: (check, what it must be)}),
    each first passed through `normalize(index, row)` when given; the first row that
    fails says which and why."""
    rows = load_rows(source, split)
    if normalize is not None:
        rows = [normalize(index, row) for index, row in enumerate(rows)]
    seen = set()
    for index, row in enumerate(rows):
        if "id" not in row:
            raise ValueError(f"{source}: row {index}: field 'id' is missing")
        if str(row["id"]) in seen:
            raise ValueError(f"{source}: row {index}: id {row['id']!r} appears twice")
        seen.add(str(row["id"]))
        for name, (check, what) in fields.items():
            if not check(row.get(name)):
                state = "missing" if name not in row else f"not {what} ({row[name]!r:.60})"
                raise ValueError(f"{source}: row {index}: field {name!r} is {state}")
    return rows


@dataclass
class Matched:
    """References paired with answers: every reference row in order, the answer's id
    where there is one; the ids no answer has; the answers no reference has."""

    references: list[dict]
    missing_ids: list
    unmatched: int


def match(references: list[dict], answers: Answers, source: str) -> Matched:
    ids = {str(r["id"]) for r in references}
    if not ids & set(answers.texts):
        raise ValueError(f"{answers.path}: no answer has an id of {source} (another language's split?)")
    missing = [r["id"] for r in references if str(r["id"]) not in answers.texts]
    return Matched(references, missing, sum(rid not in ids for rid in answers.texts))


def write_scores(
    output: Path, scored: list[dict], stats: Callable[[list[dict]], dict], fields: dict, markdown: Callable[[dict], str]
) -> dict:
    """Write a score run: `scored.jsonl` (one row per reference), `summary.json` (`fields`,
    then `stats` of all rows, then `by_language` when the rows know their language) and
    `summary.md`. Returns the summary."""
    run = RunFolder(
        output,
        {
            name: lambda text, mark=mark: mark in text
            for name, mark in (
                ("summary.json", f'"benchmark": "{fields["benchmark"]}"'),
                ("summary.md", "# X-"),
                ("scored.jsonl", '"lang": '),
            )
        },
    )
    run.claim()
    write_jsonl(output / "scored.jsonl", scored)
    by_language: dict[str, list[dict]] = {}
    for row in scored:
        if row["lang"]:
            by_language.setdefault(row["lang"], []).append(row)
    summary = {
        **fields,
        **stats(scored),
        "by_language": {lang: stats(rows) for lang, rows in sorted(by_language.items())},
    }
    run.write_summary(summary, markdown(summary))
    return summary
