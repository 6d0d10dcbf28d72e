"""Answer files, as `axolotl plug generate` writes them and `judge`, `score` and
`report` read them: one JSON line per instruction with `id`, `output` (the answer
that is judged and scored), `raw_output`, `status`, `truncated`, `extraction`, `lang`,
`instruction` and `generator`, following alpaca_eval's outputs convention. The
reference's own answer files (a JSON list with `output`, or `response`) read the same
way. Lines are appended as answers finish, so an interrupted run resumes where it
stopped (`unanswered`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from axolotl_plug.args import PlugConfig
from axolotl_plug.eval.metrics import languages_in_play, metrics_by_language, score_answer
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.sections import has_target
from axolotl_plug.io.records import WRITTEN_BY, finished, read_records

GENERATE = "generate"  # the command named in each answer line (`written_by`)


@dataclass(frozen=True)
class Generated:
    """One generated answer, before it is written."""

    text: str
    truncated: bool  # stopped by the token limit, not by the model


@dataclass(frozen=True)
class Sampling:
    """How answers are decoded: greedily (temperature 0: the default, and the paper's), or
    sampled with `temperature`, `top_p` and `seed` (two seeds give two candidate answers
    per prompt, for preference data). A sampled answer's line records all three."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def fields(self) -> dict:
        return {} if self.greedy else {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed}


GREEDY = Sampling()


def answer_line(
    record: dict,
    answer: Generated,
    config: PlugConfig,
    generator: str,
    extraction: str = "ours",
    sampling: Sampling = GREEDY,
) -> dict:
    """One line of an answer file. `output` is the extracted target answer: by our rule
    (`extract`) or the reference's (`reference_target`); `status` is always ours."""
    answer_format = AnswerFormat.from_config(config, record["lang"])
    extracted = answer_format.extract(answer.text)  # languages are scored once, from the file
    target = answer_format.reference_target(answer.text) if extraction == "paper" else extracted.target
    return {
        "id": record["id"],
        "lang": record["lang"],
        "instruction": record["instruction"],
        "output": target,
        "raw_output": answer.text,
        "status": extracted.status,
        "truncated": answer.truncated,
        "extraction": extraction,
        "generator": generator,
        **sampling.fields(),
        **{k: record[k] for k in ("turn", "dataset", "reference") if record.get(k) is not None},
        WRITTEN_BY: GENERATE,
    }


def answer_key(row: dict) -> str:
    """What an answer answers: its id, and for a turn of a multi-turn row, the turn too."""
    turn = row.get("turn")
    return str(row["id"]) if turn is None else f"{row['id']}\x00{turn}"


def unanswered(records: list[dict], output: Path) -> list[dict]:
    """The records `output` has no answer for yet (a file that is not an answer file is
    refused, untouched: see io.records.finished)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # an answer line has its raw output: a file without one is not ours to resume
    done = finished(output, key=answer_key, required=("raw_output",), written_by=GENERATE)
    return [r for r in records if answer_key(r) not in done]


def turn_records(records: list[dict], output: Path, turn: int) -> list[dict]:
    """Turn `turn` of the multi-turn rows (`turns`) that have it, as records to answer:
    the turn's user message as `instruction`, and as `history` the earlier user turns with
    the target answers `output` holds for them (what a client shows and sends back). A row
    whose earlier turns are not all answered yet waits for a later run."""
    answered = {answer_key(row): row for row in read_records(output)} if output.is_file() else {}
    out = []
    for record in records:
        turns = record.get("turns") or []
        if len(turns) < turn:
            continue
        earlier = [answered.get(answer_key({"id": record["id"], "turn": k})) for k in range(1, turn)]
        if None in earlier:
            continue
        out.append(turn_record(record, turn, [(turns[k], row["output"]) for k, row in enumerate(earlier)]))
    return out


def turn_record(record: dict, turn: int, history: list[tuple[str, str]]) -> dict:
    """Turn `turn` of a multi-turn benchmark row (`turns`) as a record to answer: the
    turn's user message as `instruction`, `history` the earlier (user message, target
    answer) pairs, and the turn's own reference (MT-Bench gives one per turn)."""
    reference = record.get("reference")
    if isinstance(reference, list):
        reference = reference[turn - 1] if len(reference) >= turn else None
    flat = {key: value for key, value in record.items() if key != "turns"}
    return {**flat, "turn": turn, "instruction": record["turns"][turn - 1], "history": history, "reference": reference}


def answer_levels(records: list[dict], output: Path):
    """The records to answer, in the order answers can be made: the single-turn rows,
    then the multi-turn rows turn by turn (each list built once the file holds the
    answers of the turn before)."""
    single = [r for r in records if not r.get("turns")]
    if single:
        yield single
    multi = [r for r in records if r.get("turns")]
    for turn in range(1, max((len(r["turns"]) for r in multi), default=0) + 1):
        yield turn_records(multi, output, turn)


def file_metrics(output: Path, config: PlugConfig) -> dict[str, float]:
    """Recompute the `plug/` metrics from a generate file alone."""
    rows = read_records(output)
    languages = languages_in_play(rows, config)
    scored = [score_answer(r, r["raw_output"], config, languages) for r in rows]
    return metrics_by_language(scored, config.pivot_language, config.mode)


def file_counts(output: Path) -> dict[str, int]:
    """How many answers a file holds, how many the token limit cut, and how many have
    no target answer (status missing_target, or an empty output)."""
    rows = read_records(output)
    return {
        "answers": len(rows),
        "truncated": sum(bool(r.get("truncated")) for r in rows),
        "no_target_answer": sum(not has_target(r.get("status"), r.get("output")) for r in rows),
    }


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
        """The language of each item id (every turn of a multi-turn item shares one)."""
        return {str(row["id"]): row["lang"] for row in self.rows.values() if row.get("lang")}

    def dialogue(self, rid: str, turns: int) -> list[str] | None:
        """The answers to turns 1..`turns` of multi-turn item `rid`, or None when one is missing."""
        answers = [self.texts.get(answer_key({"id": rid, "turn": k})) for k in range(1, turns + 1)]
        return None if None in answers else answers


def language_of(systems: list[Answers]) -> Callable[[dict], str | None]:
    """An item's language, the one rule judging, scoring and the report group by: the
    first system whose answer to the item's id has a `lang`, else the item's own `lang`,
    else the one language all the systems' answers share (None where they share none)."""
    langs: dict[str, str] = {}
    for system in reversed(systems):  # the first system's language wins
        langs.update(system.langs)
    shared = set(langs.values())
    only = next(iter(shared)) if len(shared) == 1 else None
    return lambda record: langs.get(str(record["id"])) or record.get("lang") or only


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
        rid = answer_key(row)
        if rid in texts:
            twice = f"id {row['id']!r}" + (f" turn {row['turn']}" if row.get("turn") is not None else "")
            raise ValueError(f"{path}: row {index}: {twice} appears twice (one language per file, or unique ids)")
        texts[rid], rows[rid] = text, row
        generator = generator or row.get("generator")
    if not texts:
        raise ValueError(f"{path}: no answers")
    return Answers(name or generator or path.stem, path, texts, rows)
