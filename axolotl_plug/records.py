"""JSON and JSON-lines records in and out, and resuming by key.

Every long job (generate, judge, translate) appends one line per finished item and
flushes, so a crash loses at most the line being written; `finished` reads back what
is done. The evaluation, judging and data commands all read and write through here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Hashable, Iterable


def read_records(path: str | Path) -> list[dict]:
    """Rows of a JSON (a list of objects) or JSONL file; errors name file and line."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a JSON list of objects")
        return rows
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not valid JSON ({exc})") from None
    return rows


def load_instructions(
    source: str, split: str | None = None, default_lang: str | None = None, require_lang: bool = True
) -> list[dict]:
    """Instruction records `{id, instruction, lang, reference?, ...}` from a local
    JSON/JSONL file or a hub dataset (`split` may name a split or a file stem, as
    X-AlpacaEval's `chinese`). Other fields (e.g. `dataset`) are kept."""
    if Path(source).is_file():
        rows = read_records(source)
    else:  # a hub dataset: users have the network, tests do not come here
        from datasets import load_dataset

        try:
            rows = list(load_dataset(source, split=split or "train"))
        except ValueError:
            rows = list(load_dataset(source, data_files=f"{split}.json", split="train"))
    records = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{source}: row {index} is not an object")
        instruction = row.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"{source}: row {index}: field 'instruction' is missing or empty")
        lang = row.get("lang") or default_lang
        if not lang and require_lang:
            raise ValueError(
                f"{source}: row {index}: field 'lang' is missing and plug.target_language is not set"
            )
        # the id stays as the file has it (an integer stays an integer); rows without one get their index
        records.append({**row, "id": row.get("id", index), "lang": lang})
    return records


def to_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(to_line(row) for row in rows)


def finished(path: Path, key: Callable[[dict], Hashable] = lambda row: str(row["id"])) -> dict[Hashable, dict]:
    """The rows already written to a JSONL file that is being resumed, by `key`.

    A torn line (a crash in the middle of a write) is dropped from the file, so that
    the next append starts on a fresh line."""
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    done, keep = {}, []
    for line in lines:
        try:
            row = json.loads(line)
            done[key(row)] = row
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
        keep.append(line)
    if len(keep) != len([line for line in lines if line.strip()]):
        path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
    return done


def sibling(path: Path, kind: str) -> Path:
    """`plug_zh.jsonl` -> `plug_zh.<kind>` next to it."""
    return path.with_name(f"{path.stem}.{kind}")
