"""Reading instruction data: JSON, JSONL and the Alpaca layout."""

from __future__ import annotations

from pathlib import Path

from axolotl_plug.io.records import read_records


def instruction_text(row: dict) -> str:
    """The instruction of a row; Alpaca's non-empty `input` follows it after a blank
    line, as Alpaca's prompt puts the input after the instruction."""
    instruction = row.get("instruction")
    extra = row.get("input")
    if isinstance(instruction, str) and isinstance(extra, str) and extra.strip():
        return f"{instruction}\n\n{extra}"
    return instruction


def response_text(row: dict):
    """`response`, or Alpaca's `output`."""
    return row["response"] if "response" in row else row.get("output")


def load_pairs(path: str | Path, id_field: str = "id") -> tuple[list[dict], bool]:
    """Rows as {id, instruction, response, row} and whether the file had ids. Rows
    without an id are numbered by position (0-based)."""
    rows = read_records(path)
    if not rows:
        raise ValueError(f"{path}: no rows")
    has_ids = bool(rows) and all(isinstance(r, dict) and r.get(id_field) is not None for r in rows)
    pairs = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: row {index} is not an object")
        rid = row.get(id_field)
        pairs.append(
            {
                "id": str(rid) if rid is not None else str(index),
                "instruction": instruction_text(row),
                "response": response_text(row),
                "row": index,
            }
        )
    return pairs, has_ids
