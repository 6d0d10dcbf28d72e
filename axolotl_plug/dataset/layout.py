"""Layout (pure): a PLUG row and the settings -> a conversation and its trained spans.

Training and evaluation both build prompts here (`build_conversation`,
`prompt_messages`), so the system prompt and user turn can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..args import PlugConfig
from ..sections import MISSING_PIVOT, MISSING_TARGET, OK, locate_sections
from ..languages import Language, UnknownLanguageError, get_language
from ..templates import DEFAULT_RESPONSE_TEMPLATE, read_template, resolve_template
from .render import has_marker, render_answer


class RowError(ValueError):
    """A row that cannot become a PLUG conversation; `field` names the culprit column."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"field {field!r}: {problem}")
        self.field = field
        self.problem = problem


@dataclass
class Conversation:
    """One training conversation: chat messages plus what to train in the answer."""

    messages: list[dict[str, str]]
    lang: str
    # character spans inside the assistant content that carry loss
    trained: list[tuple[int, int]]

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]


def languages_for(lang: str, config: PlugConfig) -> tuple[Language, Language]:
    """The (target, pivot) table entries for a row in `lang`, header overrides applied."""
    overrides = config.header_overrides()
    return get_language(lang, overrides), get_language(config.pivot_language, overrides)


def system_prompt(config: PlugConfig, target: Language, pivot: Language) -> str | None:
    """The system turn for a row, or None when `plug.system_prompt` is `none`."""
    if config.system_prompt == "none":
        return None
    if config.system_prompt != "default":
        return config.system_prompt.replace("{pivot}", pivot.name).replace("{target}", target.name)
    if config.mode == "monolingual":
        return f"Please respond to the following user message in {target.name}."
    first, second = (pivot, target) if config.order == "pivot_first" else (target, pivot)
    if config.include_pivot_instruction:
        return (
            f"Please interpret the instruction in {pivot.name}, and then respond both "
            f"in {first.name} and in {second.name}."
        )
    return f"Please respond to the following user message both in {first.name} and in {second.name}."


def prompt_messages(
    instruction: str, lang: str, config: PlugConfig, system: str | None = None
) -> list[dict[str, str]]:
    """Messages up to and including the user turn: the prompt a model answers at test time."""
    target, pivot = languages_for(lang, config)
    if config.strip_fields:
        instruction, system = instruction.strip(), system.strip() if system else system
    return _opening(instruction, system or system_prompt(config, target, pivot))


def _opening(instruction: str, system: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": instruction})
    return messages


def _required_variables(config: PlugConfig) -> list[str]:
    names = ["target_response_header", "target_response"]
    if config.mode == "plug":
        names += ["pivot_response_header", "pivot_response"]
        if config.include_pivot_instruction:
            names += ["pivot_instruction_header", "pivot_instruction"]
    return names


def layout_source(config: PlugConfig, config_dir: str | Path | None = None) -> tuple[str, str]:
    """(name, jinja source) of the answer layout the config asks for."""
    path = resolve_template(config.response_template or DEFAULT_RESPONSE_TEMPLATE, config_dir)
    return str(path), read_template(str(path))


def lay_out_answer(
    target_response: str,
    pivot_instruction: str | None,
    pivot_response: str | None,
    target: Language,
    pivot: Language,
    config: PlugConfig,
    layout: tuple[str, str],
) -> tuple[str, dict[str, tuple[int, int]]]:
    """The assistant content and the span of each variable in it."""
    if config.mode == "monolingual":
        return target_response, {"target_response": (0, len(target_response))}
    values = {
        "pivot_response_header": pivot.response_header,
        "pivot_response": pivot_response or "",
        "target_response_header": target.response_header,
        "target_response": target_response,
    }
    if config.include_pivot_instruction:
        values["pivot_instruction_header"] = pivot.instruction_header
        values["pivot_instruction"] = pivot_instruction or ""
    extra = {
        "include_pivot_instruction": config.include_pivot_instruction,
        "order": config.order,
        "pivot": pivot,
        "target": target,
    }
    content, spans = render_answer(layout[1], values, extra)
    missing = [name for name in _required_variables(config) if name not in spans]
    if missing:
        raise ValueError(
            f"response template {layout[0]} does not insert "
            + ", ".join("{{ " + name + " }}" for name in missing)
        )
    return content, spans


def check_layout(config: PlugConfig, layout: tuple[str, str]) -> None:
    """Render the layout once with placeholder text, so a template that forgets a
    variable fails at start-up with its name, not inside a tokenization worker."""
    probe = config.target_language or ("zh" if config.pivot_language != "zh" else "en")
    target, pivot = languages_for(probe, config)
    lay_out_answer("target response", "pivot instruction", "pivot response", target, pivot, config, layout)


def pivot_is_trained(config: PlugConfig) -> bool:
    """Do the pivot sections carry loss? Yes, unless `train_on_pivot` is off (the
    ablation); a monolingual answer has none, and all of it is trained."""
    return config.train_on_pivot or config.mode == "monolingual"


def trained_spans(answer_length: int, target_section: tuple[int, int], config: PlugConfig) -> list[tuple[int, int]]:
    """Character spans of an answer that carry loss: all of it, or, when the pivot is
    not trained, only the target section (`target_section`: from the start of its header
    to the end of its text). Laid-out and pre-built answers both come here."""
    return [(0, answer_length)] if pivot_is_trained(config) else [target_section]


def _text(row: Mapping[str, Any], name: str, required: bool = True, strip: bool = False) -> str | None:
    value = row.get(name)
    if value is None:
        if required:
            raise RowError(name, "missing")
        return None
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {type(value).__name__} {value!r:.60}")
    if not value or value.isspace():
        if required:
            raise RowError(name, "empty")
        return None
    if has_marker(value):
        raise RowError(name, "contains private-use characters U+E000..U+E002, reserved by axolotl-plug")
    return value.strip() if strip else value


def prebuilt_trained_spans(answer: str, lang: str, config: PlugConfig, field: str) -> list[tuple[int, int]]:
    """The trained spans of a pre-built PLUG answer, its sections found by extract's
    header rules. Raises RowError when the answer has no target section, no pivot
    response, or its sections are not in the configured order."""
    found = locate_sections(answer, lang, config.pivot_language, config.header_overrides(), config.order)
    if found.status != OK:
        target, pivot = languages_for(lang, config)
        problem = {
            MISSING_TARGET: f"no target header (expected {target.response_header!r} in a pre-built response)",
            MISSING_PIVOT: f"no pivot response header (expected {pivot.response_header!r} in a pre-built response)",
        }.get(found.status, f"sections out of order (plug.order is {config.order}, the response has {found.status})")
        raise RowError(field, problem)
    section = found.target
    end = section.body_start + len(answer[section.body_start : section.end].rstrip())
    return trained_spans(len(answer), (section.header_start, end), config)


def build_conversation(
    row: Mapping[str, Any], config: PlugConfig, layout: tuple[str, str] | None = None
) -> Conversation:
    """Turn one PLUG row into a conversation. Raises RowError naming the bad field.

    A pre-built row (`plug.prebuilt`) brings its whole answer in `response`; otherwise
    the answer is laid out from the pivot and target columns."""
    fields = config.fields
    strip = config.strip_fields
    lang = _text(row, fields.lang, required=False) or config.target_language
    if not lang:
        raise RowError(fields.lang, "no target language: set plug.target_language or give rows a language column")
    lang = lang.strip().lower()
    try:
        target, pivot = languages_for(lang, config)
    except UnknownLanguageError as exc:
        raise RowError(fields.lang, str(exc)) from None
    if target.code == pivot.code:
        raise RowError(fields.lang, f"target language {lang!r} is the pivot language")

    instruction = _text(row, fields.instruction, strip=strip)
    response = _text(row, fields.response, strip=strip)
    if config.prebuilt:
        content, trained = response, prebuilt_trained_spans(response, lang, config, fields.response)
    else:
        pivot_instruction = pivot_response = None
        if config.mode == "plug":
            pivot_response = _text(row, fields.pivot_response, strip=strip)
            if config.include_pivot_instruction:
                pivot_instruction = _text(row, fields.pivot_instruction, strip=strip)
        content, spans = lay_out_answer(
            response, pivot_instruction, pivot_response, target, pivot, config,
            layout or layout_source(config),
        )
        target_start = spans.get("target_response_header", spans["target_response"])[0]
        trained = trained_spans(len(content), (target_start, spans["target_response"][1]), config)
    # the same opening as prompt_messages, with the languages this row already resolved
    system = _text(row, fields.system, required=False, strip=strip) or system_prompt(config, target, pivot)
    messages = _opening(instruction, system)
    messages.append({"role": "assistant", "content": content})
    return Conversation(messages, lang, trained)
