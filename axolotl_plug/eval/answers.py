"""Answer files, as `axolotl plug generate` writes them and `judge`, `score` and
`report` read them: one JSON line per instruction with `id`, `output` (the answer
that is judged and scored), and, from generate, `raw_output`, `status`, `truncated`,
`lang`, `instruction` and `generator`. The reference's own answer files (a JSON list
with `output`, or `response`) read the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..records import read_records


@dataclass
class Answers:
    """One system's answers by id, exactly as the file holds them, and what the file
    says about them."""

    name: str
    path: Path
    texts: dict[str, str]
    rows: dict[str, dict] = field(repr=False)

    @property
    def truncated(self) -> set[str]:
        return {rid for rid, row in self.rows.items() if row.get("truncated")}

    @property
    def langs(self) -> dict[str, str]:
        return {rid: row["lang"] for rid, row in self.rows.items() if row.get("lang")}


def read_answers(path: Path, name: str | None = None) -> Answers:
    """An answer file; a row without `id` or without a text answer, or an id twice, is an
    error naming the file and row. The name is `name`, else the rows' `generator`,
    else the file's stem."""
    texts, rows, generator = {}, {}, None
    for index, row in enumerate(read_records(path)):
        if not isinstance(row, dict) or "id" not in row:
            raise ValueError(f"{path}: row {index}: no field 'id' (an answer file has id and output)")
        field_name = "output" if "output" in row else "response"
        text = row.get(field_name)
        if not isinstance(text, str):
            raise ValueError(f"{path}: row {index}: field 'output' is {'missing' if text is None else 'not text'}")
        rid = str(row["id"])
        if rid in texts:
            raise ValueError(f"{path}: row {index}: id {row['id']!r} appears twice (one language per file, or unique ids)")
        texts[rid], rows[rid] = text, row
        generator = generator or row.get("generator")
    if not texts:
        raise ValueError(f"{path}: no answers")
    return Answers(name or generator or path.stem, path, texts, rows)
