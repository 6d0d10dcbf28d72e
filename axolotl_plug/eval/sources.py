"""Evaluation prompts from the eval split, exactly as training tokenized them."""

from __future__ import annotations

from typing import Any

from axolotl_plug.dataset.labels import IGNORE, first_trained
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.languages import LANGUAGES


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
        reference = AnswerFormat.from_config(config, lang).extract(gold).target
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
    """The target language of a training answer: of the table's languages (and those
    `plug.headers` adds), the one whose target section starts first, found by the same
    header rules as every other reader of answers; else the configured target."""
    overrides = config.header_overrides()
    found = []
    if config.mode == "plug":
        for code in sorted(set(LANGUAGES) | set(overrides)):
            if code == config.pivot_language:
                continue
            try:
                section = AnswerFormat.from_config(config, code).locate(gold).target
            except ValueError:  # a language the overrides leave without headers
                continue
            if section is not None:
                found.append((section.header_start, code))
    if found:
        return min(found)[1]
    if config.target_language:
        return config.target_language
    raise ValueError("cannot tell the eval rows' target language: set plug.target_language")
