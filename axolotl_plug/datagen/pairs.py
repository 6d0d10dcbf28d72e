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
        pair = {"id": str(rid) if rid is not None else str(index), "row": index}
        if row.get("messages") is not None:  # a conversation, in OpenAI's messages form
            pair.update(messages=row["messages"], instruction=None, response=None)
        else:
            pair.update(instruction=instruction_text(row), response=response_text(row))
        pairs.append(pair)
    return pairs, has_ids


def conversation_turns(messages) -> tuple[str | None, list[tuple[str, str]]]:
    """(system message or None, [(user, assistant), ...]) of a conversation, checked by the
    rule conversation rows are trained with (dataset/layout.read_messages): an optional
    system message, then user and assistant messages in turn, ending with an assistant
    message, each with text. Raises ValueError with the reason."""
    from axolotl_plug.args import PlugConfig
    from axolotl_plug.dataset.layout import RowError, read_messages

    try:
        checked = read_messages({"messages": messages}, PlugConfig(strip_fields=False))
    except RowError as exc:
        raise ValueError(f"messages: {exc.where + ': ' if exc.where else ''}{exc.problem}") from None
    start = 1 if checked[0]["role"] == "system" else 0
    texts = [message["content"] for message in checked[start:]]
    return (checked[0]["content"] if start else None), list(zip(texts[::2], texts[1::2]))
