"""Layout (pure): a PLUG row and the settings -> a conversation and its trained spans.
The prompt comes from format/prompt.py, the answer's shape from its AnswerFormat."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axolotl_plug.args import PlugConfig
from axolotl_plug.dataset.render import has_marker, render_answer
from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.languages import UnknownLanguageError
from axolotl_plug.format.prompt import opening, system_prompt
from axolotl_plug.format.sections import MISSING_PIVOT, MISSING_TARGET, OK
from axolotl_plug.format.templates import DEFAULT_ANSWER_TEMPLATE, read_template, resolve_template

REASONING_KEY = "reasoning_content"  # the final message's thinking (dataset/thinking.py renames it per template)


class RowError(ValueError):
    """A row that cannot become a PLUG conversation; `field` names the culprit column."""

    def __init__(self, field: str, problem: str, where: str = ""):
        # `where`: the place inside the field (`message 3, assistant`), kept out of the counted reason
        super().__init__(f"field {field!r}" + (f" ({where})" if where else "") + f": {problem}")
        self.field = field
        self.problem = problem
        self.where = where

    @property
    def reason(self) -> str:
        """The label a skipped row is counted under, the same for SFT and preference rows:
        the field and the problem without its details (`response: not text`)."""
        problem = self.problem.split(":")[0].split(" (")[0]
        if problem.startswith("expected text"):
            problem = "not text"
        return f"{self.field}: {problem}"


@dataclass
class Conversation:
    """One training conversation: chat messages plus what to train in the answer.

    In the reasoning channel (`plug.pivot_channel: reasoning`) the final message holds
    the pivot sections as `reasoning_content` and the target answer as `content`; all
    of the rendered assistant output is trained, or, with `train_on_pivot: false`, from
    the end of the thinking on (`train_reasoning`)."""

    messages: list[dict[str, str]]
    lang: str
    # character spans inside the assistant content that carry loss
    trained: list[tuple[int, int]]
    train_reasoning: bool = True
    # in a conversation row, which assistant turn is trained (1-based); 0 for a single-turn row
    turn: int = 0

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]

    @property
    def reasoning(self) -> str | None:
        """The pivot sections, when they go in the thinking channel."""
        return self.messages[-1].get(REASONING_KEY)


def _required_variables(answer: AnswerFormat) -> list[str]:
    names = ["target_response_header", "target_response"]
    if answer.mode == "plug":
        names += ["pivot_response_header", "pivot_response"]
        if answer.include_pivot_instruction:
            names += ["pivot_instruction_header", "pivot_instruction"]
    return names


def layout_source(config: PlugConfig, config_dir: str | Path | None = None) -> tuple[str, str]:
    """(name, jinja source) of the answer layout the config asks for."""
    path = resolve_template(config.answer_template or DEFAULT_ANSWER_TEMPLATE, config_dir)
    return str(path), read_template(str(path))


def lay_out_answer(
    target_response: str,
    pivot_instruction: str | None,
    pivot_response: str | None,
    answer: AnswerFormat,
    layout: tuple[str, str],
) -> tuple[str, dict[str, tuple[int, int]]]:
    """The assistant content in `answer`'s format, laid out by `layout` ((name, jinja
    source)), and the span of each variable in it."""
    target, pivot = answer.target, answer.pivot
    if answer.mode == "monolingual":
        return target_response, {"target_response": (0, len(target_response))}
    values = {
        "pivot_response_header": pivot.response_header,
        "pivot_response": pivot_response or "",
        "target_response_header": target.response_header,
        "target_response": target_response,
    }
    if answer.include_pivot_instruction:
        values["pivot_instruction_header"] = pivot.instruction_header
        values["pivot_instruction"] = pivot_instruction or ""
    extra = {
        "include_pivot_instruction": answer.include_pivot_instruction,
        "order": answer.order,
        "pivot": pivot,
        "target": target,
    }
    content, spans = render_answer(layout[1], values, extra)
    missing = [name for name in _required_variables(answer) if name not in spans]
    if missing:
        raise ValueError(
            f"response template {layout[0]} does not insert " + ", ".join("{{ " + name + " }}" for name in missing)
        )
    return content, spans


def check_layout(config: PlugConfig, layout: tuple[str, str]) -> None:
    """Render the layout once with placeholder text, so a template that forgets a
    variable fails at start-up with its name, not inside a tokenization worker."""
    probe = config.target_language or ("zh" if config.pivot_language != "zh" else "en")
    lay_out_answer(
        "target response", "pivot instruction", "pivot response", AnswerFormat.from_config(config, probe), layout
    )


def pivot_is_trained(config: PlugConfig) -> bool:
    """Do the pivot sections carry loss? Yes, unless `train_on_pivot` is off (the
    ablation); a monolingual answer has none, and all of it is trained."""
    return config.train_on_pivot or config.mode == "monolingual"


def trained_spans(answer_length: int, target_section: tuple[int, int], config: PlugConfig) -> list[tuple[int, int]]:
    """Character spans of an answer that carry loss: all of it, or, when the pivot is
    not trained, only the target section (`target_section`: from the start of its header
    to the end of its text). Laid-out and pre-built answers both come here."""
    return [(0, answer_length)] if pivot_is_trained(config) else [target_section]


def field_text(row: Mapping[str, Any], name: str, required: bool = True, strip: bool = False) -> str | None:
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


def prebuilt_trained_spans(
    answer: str, answer_format: AnswerFormat, config: PlugConfig, field: str
) -> list[tuple[int, int]]:
    """The trained spans of a pre-built PLUG answer, its sections found by extract's
    header rules. Raises RowError when the answer has no target section, no pivot
    response, or its sections are not in the configured order."""
    found = answer_format.locate(answer)
    if found.status != OK:
        target, pivot = answer_format.target, answer_format.pivot
        problem = {
            MISSING_TARGET: f"no target header (expected {target.response_header!r} in a pre-built response)",
            MISSING_PIVOT: f"no pivot response header (expected {pivot.response_header!r} in a pre-built response)",
        }.get(found.status, f"sections out of order (plug.order is {config.order}, the response has {found.status})")
        raise RowError(field, problem)
    section = found.target
    end = section.body_start + len(answer[section.body_start : section.end].rstrip())
    return trained_spans(len(answer), (section.header_start, end), config)


def row_format(row: Mapping[str, Any], config: PlugConfig) -> tuple[str, AnswerFormat]:
    """The row's target language and the answer format for it."""
    fields = config.fields
    lang = field_text(row, fields.lang, required=False) or config.target_language
    if not lang:
        raise RowError(fields.lang, "no target language: set plug.target_language or give rows a language column")
    lang = lang.strip().lower()
    try:
        answer_format = AnswerFormat.from_config(config, lang)
    except UnknownLanguageError as exc:
        raise RowError(fields.lang, str(exc)) from None
    if answer_format.target.code == answer_format.pivot.code:
        raise RowError(fields.lang, f"target language {lang!r} is the pivot language")
    return lang, answer_format


def _laid_out(
    response: str,
    pivot_instruction: str | None,
    pivot_response: str | None,
    answer_format: AnswerFormat,
    config: PlugConfig,
    layout: tuple[str, str] | None,
) -> tuple[str, str | None, list[tuple[int, int]]]:
    """(content, reasoning or None, trained spans of the content) of an answer laid out
    from its target and pivot texts."""
    content, spans = lay_out_answer(
        response, pivot_instruction, pivot_response, answer_format, layout or layout_source(config)
    )
    target_start = spans.get("target_response_header", spans["target_response"])[0]
    trained = trained_spans(len(content), (target_start, spans["target_response"][1]), config)
    if answer_format.reasoning:  # the pivot sections as laid out, then the target response without its header
        return response, content[:target_start].strip(), [(0, len(response))]
    return content, None, trained


def _prebuilt(
    answer: str, answer_format: AnswerFormat, config: PlugConfig, field: str, where: str = ""
) -> tuple[str, str | None, list[tuple[int, int]]]:
    """(content, reasoning or None, trained spans of the content) of a pre-built answer."""
    try:
        trained = prebuilt_trained_spans(answer, answer_format, config, field)
    except RowError as exc:
        raise RowError(exc.field, exc.problem, where) from None
    if not answer_format.reasoning:
        return answer, None, trained
    target = answer_format.locate(answer).target
    content = answer[target.body_start :].strip()
    return content, answer[: target.header_start].strip(), [(0, len(content))]


def _conversation(
    history: list[dict[str, str]],
    lang: str,
    content: str,
    reasoning: str | None,
    trained: list[tuple[int, int]],
    config: PlugConfig,
    turn: int = 0,
) -> Conversation:
    if reasoning is None:
        return Conversation([*history, {"role": "assistant", "content": content}], lang, trained, turn=turn)
    message = {"role": "assistant", REASONING_KEY: reasoning, "content": content}
    return Conversation([*history, message], lang, trained, train_reasoning=pivot_is_trained(config), turn=turn)


def build_conversations(
    row: Mapping[str, Any], config: PlugConfig, layout: tuple[str, str] | None = None
) -> list[Conversation]:
    """The conversations one row trains: one for a single-turn row; for a conversation
    row (`plug.fields.messages`), one per trained assistant turn (`plug.turns`). Raises
    RowError naming the bad field."""
    if row.get(config.fields.messages) is None:
        return [build_conversation(row, config, layout)]
    return conversation_turns(row, config, layout)


def build_conversation(
    row: Mapping[str, Any], config: PlugConfig, layout: tuple[str, str] | None = None
) -> Conversation:
    """Turn one single-turn PLUG row into a conversation. Raises RowError naming the bad field.

    A pre-built row (`plug.prebuilt`) brings its whole answer in `response`; otherwise
    the answer is laid out from the pivot and target columns."""
    fields = config.fields
    strip = config.strip_fields
    lang, answer_format = row_format(row, config)
    instruction = field_text(row, fields.instruction, strip=strip)
    response = field_text(row, fields.response, strip=strip)
    if config.prebuilt:
        content, reasoning, trained = _prebuilt(response, answer_format, config, fields.response)
    else:
        pivot_instruction = pivot_response = None
        if config.mode == "plug":
            pivot_response = field_text(row, fields.pivot_response, strip=strip)
            if config.include_pivot_instruction:
                pivot_instruction = field_text(row, fields.pivot_instruction, strip=strip)
        content, reasoning, trained = _laid_out(
            response, pivot_instruction, pivot_response, answer_format, config, layout
        )
    # the same opening as prompt_messages, with the languages this row already resolved
    system = field_text(row, fields.system, required=False, strip=strip) or system_prompt(config, answer_format)
    return _conversation(opening(instruction, system), lang, content, reasoning, trained, config)


def _message_text(message: Mapping[str, Any], key: str, field: str, where: str, strip: bool) -> str:
    """A message's text under `key`; a problem is raised as the messages field's, at `where`."""
    try:
        return field_text(message, key, strip=strip)
    except RowError as exc:
        if exc.problem in ("missing", "empty"):
            problem = f"{exc.problem} {key}"
        elif exc.problem.startswith("expected text"):
            problem = f"{key} not text ({exc.problem})"
        else:
            problem = f"{key} {exc.problem}"
        raise RowError(field, problem, where) from None


def read_messages(row: Mapping[str, Any], config: PlugConfig) -> list[Mapping[str, Any]]:
    """A conversation row's messages, checked: an optional system message, then user and
    assistant messages in turn, ending with an assistant message, each with text."""
    field, strip = config.fields.messages, config.strip_fields
    messages = row[field]
    if not isinstance(messages, list) or not messages:
        raise RowError(field, f"expected a list of messages, got {type(messages).__name__} {messages!r:.60}")
    start = 1 if isinstance(messages[0], Mapping) and messages[0].get("role") == "system" else 0
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise RowError(field, f"expected a message with role and content, got {message!r:.60}", f"message {i}")
        expected = "system" if i < start else ("user", "assistant")[(i - start) % 2]
        if message.get("role") != expected:
            raise RowError(field, f"role {message.get('role')!r} out of order (expected {expected!r})", f"message {i}")
        _message_text(message, "content", field, f"message {i}, {expected}", strip)
    if len(messages) == start:
        raise RowError(field, "no user message")
    if messages[-1].get("role") != "assistant":
        raise RowError(field, "ends with a user message (nothing to train)", f"message {len(messages) - 1}")
    return messages


def conversation_turns(
    row: Mapping[str, Any], config: PlugConfig, layout: tuple[str, str] | None = None
) -> list[Conversation]:
    """The trained turns of a conversation row: the last assistant turn, or each of them
    (`plug.turns: all`), each laid out as a PLUG answer after a history of earlier turns
    in their target-language content only, as a client sends them back."""
    fields, strip = config.fields, config.strip_fields
    lang, answer_format = row_format(row, config)
    messages = read_messages(row, config)
    start = 1 if messages[0]["role"] == "system" else 0
    system = field_text(messages[0], "content", strip=strip) if start else None
    system = (
        system or field_text(row, fields.system, required=False, strip=strip) or system_prompt(config, answer_format)
    )
    history = [{"role": "system", "content": system}] if system else []
    answers = [i for i in range(start, len(messages)) if messages[i]["role"] == "assistant"]
    trained_turns = answers if config.turns == "all" else answers[-1:]
    conversations = []
    for i in range(start, len(messages)):
        role, text = messages[i]["role"], field_text(messages[i], "content", strip=strip)
        if i in trained_turns:
            content, reasoning, trained = _turn_answer(messages, i, text, answer_format, config, layout)
            turn = answers.index(i) + 1
            conversations.append(_conversation(history, lang, content, reasoning, trained, config, turn))
        if config.prebuilt and role == "assistant":  # in the history, a whole answer is its target section
            found = answer_format.extract(text)
            text = found.target if found.has_target else text
        history = [*history, {"role": role, "content": text}]
    return conversations


def _turn_answer(
    messages: list[Mapping[str, Any]],
    i: int,
    text: str,
    answer_format: AnswerFormat,
    config: PlugConfig,
    layout: tuple[str, str] | None,
) -> tuple[str, str | None, list[tuple[int, int]]]:
    """(content, reasoning or None, trained spans) of trained assistant message `i`: a
    pre-built whole answer, or laid out from its text and pivots."""
    fields, strip = config.fields, config.strip_fields
    where = f"message {i}, the trained assistant turn"
    if config.prebuilt:
        return _prebuilt(text, answer_format, config, fields.messages, where)
    pivot_instruction = pivot_response = None
    if config.mode == "plug":
        pivot_response = _pivot_of(messages[i], fields, where, strip)
        if config.include_pivot_instruction:
            pivot_instruction = _pivot_of(messages[i - 1], fields, f"message {i - 1}, its user turn", strip)
    return _laid_out(text, pivot_instruction, pivot_response, answer_format, config, layout)


def _pivot_of(message: Mapping[str, Any], fields, where: str, strip: bool) -> str:
    value = message.get(fields.pivot)
    if value is None or (isinstance(value, str) and (not value or value.isspace())):
        raise RowError(fields.messages, f"no {fields.pivot!r} (the pivot-language version)", where)
    return _message_text(message, fields.pivot, fields.messages, where, strip)
