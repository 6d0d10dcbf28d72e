"""Evaluation prompts from the eval split, exactly as training tokenized them."""

from __future__ import annotations

from typing import Any

from ..dataset.labels import IGNORE, first_trained
from ..languages import LANGUAGES, get_language
from .metrics import extract_answer


def eval_split_records(dataset, tokenizer, config, limit: int) -> list[dict[str, Any]]:
    """Records from a tokenized eval split: the prompt is every token before the first
    trained one (exactly the training prompt), the reference the trained target answer."""
    records = []
    for index in range(min(limit, len(dataset))):
        row = dataset[index]
        ids, labels = row["input_ids"], row["labels"]
        first = first_trained(labels)
        first = len(ids) if first is None else first
        gold = tokenizer.decode([t for t, label in zip(ids, labels) if label != IGNORE], skip_special_tokens=True)
        lang = _answer_language(gold, config)
        reference = extract_answer(gold, lang, config).target
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
