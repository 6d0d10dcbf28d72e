"""PLUG rewards for GRPO: reward functions with TRL's signature, `fn(completions, **columns)
-> list[float | None]`, for axolotl's `trl.reward_funcs` (`axolotl_plug.rewards.plug_format`
and so on). Each reads a completion the way every other reader of PLUG answers does
(`AnswerFormat.extract`), in the run's settings: the plugin hands the run's `plug:` block
to `configure` when axolotl loads the config, so the functions need no configuration of
their own (outside axolotl, call `configure` yourself). A completion may be plain text or
TRL's conversational form (a list of messages, the last the assistant's, its thinking in
`thinking` when TRL split it off with the tokenizer's response_template, as it does for a
PLUG-trained model, or in `reasoning_content` / `reasoning` when an engine did). A row's target language
is its `lang` column, else `plug.target_language`.

| reward | value |
|---|---|
| `plug_format` | 1.0: every configured section, in the configured order; 0.5: a target answer, but a pivot section missing or out of order; 0.0: no target answer |
| `target_language` | the share of the target answer's letters identified as the row's target language (the `plug/pivot_leak` rule); 0.0 without a target answer |
| `pivot_language` | the share of the pivot answer's letters identified as the pivot language; 0.0 without a pivot answer |
| `answer_match` | 1.0 when the target answer's last number equals the row's `answer` (the X-SVAMP number rule), else 0.0; None for a row without `answer` |
| `consistency` | 1.0 when the pivot answer's last number equals the target answer's, else 0.0; None for a row without `answer` |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.langid import share_in_language
from axolotl_plug.format.sections import OK, Extraction

PARTIAL_FORMAT = 0.5  # a target answer without every pivot section in order
THINKING_KEYS = ("reasoning_content", "reasoning", "thinking")

_settings: PlugConfig | None = None

__all__ = ["answer_match", "configure", "consistency", "pivot_language", "plug_format", "target_language"]


def configure(config: PlugConfig | None) -> None:
    """Use `config` (a run's `plug:` settings) for every reward; None: the defaults."""
    global _settings
    _settings = config


def settings() -> PlugConfig:
    """The settings the rewards read answers with."""
    return _settings or PlugConfig()


def completion_text(completion: Any, answer_format: AnswerFormat) -> str:
    """A completion as the model wrote it: plain text as is; a conversational completion's
    assistant message, its split-off thinking put back where the model wrote it."""
    if isinstance(completion, str):
        return completion
    message = completion[-1] if isinstance(completion, Sequence) and completion else completion
    if not isinstance(message, dict):
        raise TypeError(f"a completion is text or a list of messages, not {type(completion).__name__}")
    content = message.get("content") or ""
    # where the thinking was split off: by an engine (reasoning_content, reasoning), or by TRL
    # with the tokenizer's response_template (thinking), which PLUG training writes
    reasoning = next((message[key] for key in THINKING_KEYS if message.get(key)), "")
    return answer_format.rejoin(reasoning, content) if reasoning else content


def _read(completions: Sequence, lang: Sequence[str | None] | None) -> list[tuple[AnswerFormat, Extraction]]:
    """(answer format, extraction) per completion, in its row's language."""
    config = settings()
    langs = list(lang) if lang is not None else [None] * len(completions)
    read = []
    for completion, row_lang in zip(completions, langs):
        code = (row_lang or config.target_language or "").strip().lower()
        if not code:
            raise ValueError(
                "no target language for a reward: give the rows a `lang` column or set plug.target_language"
            )
        answer_format = AnswerFormat.from_config(config, code)
        read.append((answer_format, answer_format.extract(completion_text(completion, answer_format))))
    return read


def plug_format(completions: Sequence, lang: Sequence[str | None] | None = None, **_: Any) -> list[float]:
    """1.0 for a whole PLUG answer in the configured order, PARTIAL_FORMAT for a target
    answer whose pivot sections are missing or out of order, 0.0 without a target answer."""
    return [
        (1.0 if _complete(fmt, found) else PARTIAL_FORMAT) if found.has_target else 0.0
        for fmt, found in _read(completions, lang)
    ]


def _complete(answer_format: AnswerFormat, found: Extraction) -> bool:
    """Every configured section is there, in the configured order (the restated
    instruction too, with include_pivot_instruction)."""
    if answer_format.mode == "monolingual":
        return True
    restated = bool(found.pivot_instruction) or not answer_format.include_pivot_instruction
    return found.status == OK and restated


def target_language(completions: Sequence, lang: Sequence[str | None] | None = None, **_: Any) -> list[float]:
    """The share of the target answer's letters in the row's target language."""
    return [
        share_in_language(found.target, fmt.target.code, (fmt.target.code, fmt.pivot.code)) if found.has_target else 0.0
        for fmt, found in _read(completions, lang)
    ]


def pivot_language(completions: Sequence, lang: Sequence[str | None] | None = None, **_: Any) -> list[float]:
    """The share of the pivot answer's letters in the pivot language."""
    return [
        share_in_language(found.pivot, fmt.pivot.code, (fmt.target.code, fmt.pivot.code)) if found.pivot else 0.0
        for fmt, found in _read(completions, lang)
    ]


def answer_match(
    completions: Sequence, answer: Sequence | None = None, lang: Sequence[str | None] | None = None, **_: Any
) -> list[float | None]:
    """1.0 when the target answer's last number is the row's `answer`; None without one."""
    from axolotl_plug.eval.score.svamp import is_correct, read_number

    answers = list(answer) if answer is not None else [None] * len(completions)
    return [
        None if gold is None else float(is_correct(read_number(found.target), gold))
        for (_, found), gold in zip(_read(completions, lang), answers)
    ]


def consistency(
    completions: Sequence, answer: Sequence | None = None, lang: Sequence[str | None] | None = None, **_: Any
) -> list[float | None]:
    """1.0 when the target answer's last number is the pivot answer's (a math row: one
    with `answer`); None for other rows."""
    from axolotl_plug.eval.score.svamp import is_correct, read_number

    answers = list(answer) if answer is not None else [None] * len(completions)
    out: list[float | None] = []
    for (_, found), gold in zip(_read(completions, lang), answers):
        if gold is None:
            out.append(None)
            continue
        pivot = read_number(found.pivot)
        out.append(float(pivot is not None and is_correct(read_number(found.target), pivot)))
    return out
