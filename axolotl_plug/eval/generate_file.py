"""`axolotl plug generate`: answers for a benchmark, one JSON line per instruction.

The file follows alpaca_eval's outputs convention (`instruction`, `output`,
`generator`) and is what `axolotl plug judge` reads. Lines are appended as batches
finish, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..args import PlugConfig
from ..generate import batches, generate_answers
from ..layout import prompt_messages
from .metrics import extract_answer, judge, languages_in_play, metrics_by_language
from .sources import read_records


def finished_ids(output: Path) -> set[str]:
    """Ids already answered in `output` (a torn last line from a crash is dropped)."""
    if not output.is_file():
        return set()
    lines = output.read_text(encoding="utf-8").splitlines()
    done, keep = set(), []
    for line in lines:
        try:
            done.add(str(json.loads(line)["id"]))
            keep.append(line)
        except (json.JSONDecodeError, KeyError):
            continue
    if len(keep) != len([line for line in lines if line.strip()]):
        output.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
    return done


def generate_file(
    model,
    tokenizer,
    records: list[dict],
    config: PlugConfig,
    output: Path,
    generator: str,
    *,
    max_new_tokens: int = 512,
    batch_size: int = 8,
    chat_template: str | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Answer every record not yet in `output`, append lines, return the metrics of the
    whole file."""
    from tqdm.auto import tqdm

    output.parent.mkdir(parents=True, exist_ok=True)
    done = finished_ids(output)
    todo = [r for r in records if r["id"] not in done]
    bar = tqdm(total=len(records), initial=len(records) - len(todo), desc="generating", unit="answer", disable=not progress)
    with open(output, "a", encoding="utf-8") as handle:
        for batch in batches(todo, batch_size):
            prompts = [prompt_messages(r["instruction"], r["lang"], config) for r in batch]
            answers = generate_answers(
                model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, chat_template=chat_template
            )
            for record, answer in zip(batch, answers):
                judged = extract_answer(answer, record["lang"], config)  # languages are judged once, below
                line = {
                    "id": record["id"],
                    "lang": record["lang"],
                    "instruction": record["instruction"],
                    "output": judged.target,
                    "raw_output": answer,
                    "status": judged.status,
                    "generator": generator,
                    **{k: record[k] for k in ("dataset", "reference") if record.get(k) is not None},
                }
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            bar.update(len(batch))
    bar.close()
    return file_metrics(output, config)


def file_metrics(output: Path, config: PlugConfig) -> dict[str, float]:
    """Recompute the `plug/` metrics from a generate file alone."""
    rows = read_records(output)
    languages = languages_in_play(rows, config)
    judgements = [judge(r, r["raw_output"], config, languages) for r in rows]
    return metrics_by_language(judgements, config.pivot_language, config.mode)
