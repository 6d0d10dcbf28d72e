"""JSON and JSON-lines records in and out, and resuming by key.

Every long job (generate, judge, translate) appends one line per finished item through
`LineFile`, so a crash loses at most the line being written; `finished` reads back what
is done. Files written whole (summaries, reports) are written beside their place and
renamed, so they are either all there or not changed. When the system refuses a write
(disk full, permission denied, read-only file system) the error is one line naming the
file, and an appended file keeps only whole lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path


def read_records(path: str | Path) -> list[dict]:
    """Rows of a JSON (a list of objects) or JSONL file; errors name file and line, and
    an empty file is one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    if not text.strip():
        raise ValueError(f"{path}: the file is empty")
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


def load_rows(source: str, split: str | None = None) -> list[dict]:
    """Rows of a local JSON/JSONL file, or of a hub dataset (`split` names a split or,
    as X-AlpacaEval's `chinese`, a file stem). A path that does not exist is not tried
    as a hub id when it reads as a file name. Raises ValueError naming the source."""
    path = Path(source)
    if path.is_file():
        rows = read_records(path)
    elif path.suffix in (".json", ".jsonl") or path.is_dir():
        raise ValueError(f"{source}: no such file")
    else:  # a hub dataset: users have the network, tests do not come here
        from datasets import load_dataset

        try:
            try:
                rows = list(load_dataset(source, split=split or "train"))
            except ValueError:
                rows = list(load_dataset(source, data_files=f"{split}.json", split="train"))
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"{source}: neither a file here nor a dataset the hub could load ({reason})") from None
    if not rows:
        raise ValueError(f"{source}: no rows")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{source}: row {index} is not an object")
    return rows


def load_instructions(
    source: str, split: str | None = None, default_lang: str | None = None, require_lang: bool = True
) -> list[dict]:
    """Instruction records `{id, instruction, lang, reference?, ...}` from a local
    JSON/JSONL file or a hub dataset (see `load_rows`). Other fields (e.g. `dataset`,
    X-SVAMP's `answer`) are kept, and `instruction` is kept as it is. A multi-turn row
    (MT-Bench's form) has `turns`, its user turns in order, instead of `instruction`;
    its `instruction` is then the first turn. A row with `question` and no `instruction`
    (MGSM's form) asks its question."""
    records = []
    for index, row in enumerate(load_rows(source, split)):
        if row.get("instruction") is None and isinstance(row.get("question"), str):
            row = {**row, "instruction": row["question"]}  # MGSM's form: `question`, `answer_number`
        turns = row.get("turns")
        if turns is not None:
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
                raise ValueError(f"{source}: row {index}: field 'turns' must be a list of non-empty user turns")
            row = {**row, "instruction": turns[0]}
        instruction = row.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"{source}: row {index}: field 'instruction' is missing or empty")
        lang = row.get("lang") or default_lang
        if not lang and require_lang:
            raise ValueError(f"{source}: row {index}: field 'lang' is missing and plug.target_language is not set")
        # the id stays as the file has it (an integer stays an integer); rows without one get their index
        records.append({**row, "id": row.get("id", index), "lang": lang})
    return records


def to_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def refused(path: Path, exc: OSError, after: str) -> OSError:
    """The system's refusal as one line: the file, what happened, and what is left."""
    return OSError(f"{path}: {exc.strerror or exc}; {after}")


def write_whole(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data`: written beside it and renamed, so that a refused
    write (disk full, ...) leaves the file as it was."""
    scratch = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode("utf-8")
        scratch.write_bytes(data)
        os.replace(scratch, path)
    except OSError as exc:
        scratch.unlink(missing_ok=True)
        raise refused(path, exc, "it was not written") from None


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    write_whole(path, "".join(to_line(row) for row in rows))


class LineFile:
    """A JSONL output opened for appending: `append(row)` writes the row's line in full,
    or, when the system refuses part of it, cuts the file back to its last whole line
    and raises one line naming the file."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise refused(path, exc, "nothing was written") from None

    def append(self, row: dict) -> None:
        data = memoryview(to_line(row).encode("utf-8"))
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            try:
                os.ftruncate(self._fd, end)
            except OSError:
                pass  # the torn line is cut when the run resumes (`finished`)
            raise refused(
                self.path, exc, "the file keeps every whole line before it: run the same command again to resume"
            ) from None

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> LineFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ForeignFileError(ValueError):
    """An output file to resume that this command did not write: it is left as it is."""


# the field in which every line a resumable command appends names the command
WRITTEN_BY = "written_by"


class _WrittenByAnother(KeyError):
    pass


def finished(
    path: Path,
    key: Callable[[dict], Hashable] = lambda row: str(row["id"]),
    required: Iterable[str] = (),
    written_by: str | None = None,
) -> dict[Hashable, dict]:
    """The rows already written to a JSONL file that is being resumed, by `key`.

    Only our own file is resumed: every complete line must be a JSON object that
    `key` can read, that has the `required` fields, and whose `written_by` field, where
    it has one, names this command (`written_by`); else ForeignFileError names the
    first line that is not, and the file is not touched. (Lines from before the field
    existed are told by their fields alone.) A torn last line (a crash in the middle of
    a write: text after the last newline that is no complete row) is the only repair,
    made by truncating the file at its last newline."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    lines = data[:cut].decode("utf-8", errors="replace").split("\n")[:-1]
    tail = data[cut:].decode("utf-8", errors="replace")
    required = tuple(required)

    def row_key(row):
        if not isinstance(row, dict) or any(name not in row for name in required):
            raise KeyError(required)
        if written_by is not None and row.get(WRITTEN_BY, written_by) != written_by:
            raise _WrittenByAnother(row[WRITTEN_BY])
        return key(row)

    def foreign(where: str, text: str, other: object = None) -> ForeignFileError:
        what = (
            f"was written by `axolotl plug {other}`" if other else f"is not a row this command writes ({text[:60]!r})"
        )
        return ForeignFileError(
            f"{path}: {where} {what}; it resumes only its own output and leaves this file as it is: "
            "choose another --output"
        )

    done = {}
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                row = json.loads(line)
                done[row_key(row)] = row
            except _WrittenByAnother as exc:
                raise foreign(f"line {number}", line, exc.args[0]) from None
            except (ValueError, KeyError, TypeError, AttributeError):
                raise foreign(f"line {number}", line) from None
    if tail.strip():
        # our rows are objects written with their newline in one go: text after the last
        # newline is a write cut short, unless it is something else than a row of ours
        try:
            row_key(json.loads(tail))
        except ValueError:
            if not tail.lstrip().startswith("{"):
                raise foreign(f"line {len(lines) + 1}", tail) from None
        except (KeyError, TypeError, AttributeError):
            raise foreign(f"line {len(lines) + 1}", tail) from None
    if cut < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(cut)
    return done


def replaceable(path: Path, ours: Callable[[str], bool]) -> Path:
    """`path`, when it does not exist yet or `ours(its text)` says this command wrote it;
    else ForeignFileError, and the file stays as it is. For the files a run rewrites
    whole (summaries, reports)."""
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            text = ""
        if not ours(text):
            raise ForeignFileError(
                f"{path} is not a file this command writes, and it would be replaced: choose another --output"
            )
    return path


@dataclass(frozen=True)
class RunFolder:
    """The folder of one judge or score run. `ours` names the files the run rewrites
    whole (its `summary.json` and `summary.md` among them) and says, per file, whether
    a text already there is one this kind of run wrote."""

    path: Path
    ours: dict[str, Callable[[str], bool]]

    def claim(self) -> None:
        """Before any work: every file the run will rewrite is its own or not there yet,
        else ForeignFileError, and nothing is touched."""
        for name, check in self.ours.items():
            replaceable(self.path / name, check)

    def write_summary(self, summary: dict, markdown: str) -> None:
        write_whole(self.path / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2))
        write_whole(self.path / "summary.md", markdown)


def sibling(path: Path, kind: str) -> Path:
    """`plug_zh.jsonl` -> `plug_zh.<kind>` next to it."""
    return path.with_name(f"{path.stem}.{kind}")
