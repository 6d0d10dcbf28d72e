"""Where evaluation prompts come from: instruction files, hub datasets, the eval split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..extract import extract
from ..languages import LANGUAGES, get_language
from ..tokenize import IGNORE


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
        records.append({**row, "id": str(row.get("id", index)), "lang": lang})
    return records


def eval_split_records(dataset, tokenizer, config, limit: int) -> list[dict[str, Any]]:
    """Records from a tokenized eval split: the prompt is every token before the first
    trained one (exactly the training prompt), the reference the trained target answer."""
    records = []
    for index in range(min(limit, len(dataset))):
        row = dataset[index]
        ids, labels = row["input_ids"], row["labels"]
        first = next((i for i, label in enumerate(labels) if label != IGNORE), len(ids))
        gold = tokenizer.decode([t for t, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
        lang = _answer_language(gold, config)
        reference = gold.strip() if config.mode == "monolingual" else extract(gold, lang, config.pivot_language).target
        records.append(
            {
                "id": f"eval-{index}",
                "lang": lang,
                "instruction": tokenizer.decode(ids[:first], skip_special_tokens=False),
                "reference": reference or None,
                "prompt_ids": list(ids[:first]),
            }
        )
    return records


def _answer_language(gold: str, config) -> str:
    """The target language of a training answer: the table language whose response
    header it contains (the first in the text), else the configured target."""
    overrides = config.header_overrides()
    found = []
    for code in set(LANGUAGES) | set(overrides):
        if code == config.pivot_language:
            continue
        try:
            header = get_language(code, overrides).response_header
        except ValueError:
            continue
        position = gold.find(header) if header else -1
        if position >= 0:
            found.append((position, code))
    if found and config.mode == "plug":
        return min(found)[1]
    if config.target_language:
        return config.target_language
    raise ValueError("cannot tell the eval rows' target language: set plug.target_language")
