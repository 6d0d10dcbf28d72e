"""`AnswerFormat`: what a PLUG answer looks like for one target language, as one value.

It is built once from the `plug:` settings and a language (`from_config`) and is what
every reader and writer of answers takes: locating sections, extraction (ours and the
reference's rule), the streaming splitter, metrics, preference rows and the evaluation
sources. Pure: no torch, no axolotl ([training.md](../../docs/evaluation.md#generate-answers-for-a-benchmark)).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from axolotl_plug.format.languages import Language, get_language
from axolotl_plug.format.sections import (
    MISSING_PIVOT,
    MISSING_TARGET,
    OK,
    SECTION_ORDERS,
    Extraction,
    Section,
    Sections,
    header_marks,
    locate_sections,
)

if TYPE_CHECKING:
    from axolotl_plug.args import PlugConfig
    from axolotl_plug.serving.split import Passthrough, Splitter, ThinkingSplitter

MODES = ("plug", "monolingual")
CHANNELS = ("content", "reasoning")  # where the pivot sections go (plug.pivot_channel)
THINKING = ("<think>", "</think>")  # the thinking markers most templates write, as the model writes them


@dataclass(frozen=True)
class AnswerFormat:
    """The languages (header overrides applied), the order of the answers, the mode, the
    answer layout (`plug.answer_template`: a shipped name or a path; None is the shipped
    default), and the channel the pivot sections go in (`plug.pivot_channel`) with, for
    the reasoning channel, the thinking markers (opening, closing) the chat template
    writes, stripped."""

    target: Language
    pivot: Language
    order: str = "pivot_first"
    mode: str = "plug"
    include_pivot_instruction: bool = True
    layout: str | None = None
    channel: str = "content"
    thinking: tuple[str, str] = THINKING

    def __post_init__(self):
        if self.order not in SECTION_ORDERS:
            raise ValueError(f"order must be one of {SECTION_ORDERS}, not {self.order!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, not {self.channel!r}")
        if self.channel == "reasoning" and (self.order != "pivot_first" or self.mode != "plug"):
            raise ValueError("the reasoning channel holds the pivot sections of a pivot-first PLUG answer")
        if not self.thinking[1].strip():
            raise ValueError("the thinking channel needs a closing marker")

    @classmethod
    def of(
        cls,
        target_language: str,
        pivot_language: str = "en",
        headers: Mapping[str, Mapping[str, str | None]] | None = None,
        order: str = "pivot_first",
        **settings,
    ) -> AnswerFormat:
        """From language codes and `plug.headers`-style overrides (UnknownLanguageError
        for a code neither the table nor the overrides know)."""
        return cls(get_language(target_language, headers), get_language(pivot_language, headers), order, **settings)

    @classmethod
    def from_config(
        cls, config: PlugConfig, target_language: str, thinking: tuple[str, str] | None = None
    ) -> AnswerFormat:
        """The format a model trained with `config` answers `target_language` in;
        `thinking`: the chat template's markers (dataset/thinking.py), for the reasoning
        channel."""
        return cls.of(
            target_language,
            config.pivot_language,
            config.header_overrides(),
            config.order,
            mode=config.mode,
            include_pivot_instruction=config.include_pivot_instruction,
            layout=config.answer_template,
            channel=config.pivot_channel,
            thinking=tuple(thinking or config.thinking_markers or THINKING),
        )

    @property
    def reasoning(self) -> bool:
        """Do the pivot sections go in the thinking channel?"""
        return self.channel == "reasoning"

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers an answer's sections start with, by kind (`target`, `pivot`,
        `pivot_instruction`), those that are set."""
        kinds = (
            ("target", self.target.response_header),
            ("pivot", self.pivot.response_header),
            ("pivot_instruction", self.pivot.instruction_header),
        )
        return tuple((kind, header) for kind, header in kinds if header.strip())

    def marks(self, text: str, start: int = 0) -> list[tuple[str, int, int]]:
        """Every header in `text` (from `start` on): (kind, start, where its body starts)."""
        return header_marks(text, self.headers, start)

    def locate(self, text: str) -> Sections:
        """The sections of a PLUG answer and their status (see `sections.locate_sections`)."""
        return locate_sections(text, self.headers, self.order)

    def extract(self, text: str) -> Extraction:
        """Split a generated answer into target answer, pivot answer, restated instruction
        and status. The target answer is the first non-empty target section, cut at the
        next header, stripped; a monolingual answer is the whole output, stripped. Never
        raises on odd text."""
        if self.mode == "monolingual":
            answer = text.strip()
            return Extraction(answer, "", "", OK if answer else MISSING_TARGET)
        if self.reasoning:
            return self._extract_reasoning(text)
        sections = self.locate(text)

        def body(section: Section | None) -> str:
            return text[section.body_start : section.end].strip() if section else ""

        return Extraction(
            body(sections.target), body(sections.pivot), body(sections.pivot_instruction), sections.status
        )

    def split_thinking(self, text: str) -> tuple[str, str | None]:
        """(thinking, answer) of an output in the reasoning channel: the text before the
        first closing marker, its opening marker removed, and the text after it, both
        stripped; the answer is None when the thinking is never closed."""
        opening, closing = self.thinking
        at = text.find(closing)
        thinking, answer = (text, None) if at < 0 else (text[:at], text[at + len(closing) :].strip())
        thinking = thinking.strip()
        if opening and thinking.startswith(opening):
            thinking = thinking[len(opening) :].strip()
        return thinking, answer

    def _extract_reasoning(self, text: str) -> Extraction:
        # the target is what follows the thinking; the pivot sections sit in the thinking, behind their headers
        thinking, answer = self.split_thinking(text)
        headers = tuple((kind, header) for kind, header in self.headers if kind != "target")
        marks = header_marks(thinking, headers)
        bodies: dict[str, str] = {}
        for i, (kind, _, body_start) in enumerate(marks):
            end = marks[i + 1][1] if i + 1 < len(marks) else len(thinking)
            body = thinking[body_start:end].strip()
            if body and not bodies.get(kind):
                bodies[kind] = body
        if not answer:
            status = MISSING_TARGET
        elif "pivot" not in bodies:
            status = MISSING_PIVOT
        else:
            status = OK
        return Extraction(answer or "", bodies.get("pivot", ""), bodies.get("pivot_instruction", ""), status)

    def reference_target(self, text: str) -> str:
        """The reference's rule (its extract_response_from_bilingual_output.py): everything
        after the first exact occurrence of the target response header, stripped; the
        empty string when the header is absent. With `order="target_first"` (its
        extract_first_response) that text is cut at the first exact pivot response header
        and stripped again. No tolerance for another colon or spacing (compare `extract`).
        A monolingual answer is the whole output, stripped."""
        if self.mode == "monolingual":
            return text.strip()
        if self.reasoning:  # the reference has no such channel: the answer is what follows the thinking
            return self.split_thinking(text)[1] or ""
        header = self.target.response_header
        position = text.find(header) if header else -1
        if position < 0:
            return ""
        answer = text[position + len(header) :].strip()
        if self.order == "target_first":
            other = self.pivot.response_header
            cut = answer.find(other) if other else -1
            if cut >= 0:
                answer = answer[:cut].strip()
        return answer

    def rejoin(self, reasoning: str, content: str) -> str:
        """The answer as the model wrote it, from an engine that split it itself (with the
        model folder's `response_template`: `reasoning_content` and `content`). The
        headers the engine consumed come back in their canonical form, so `extract` and
        the splitter read the answer as they read an unsplit one. In the reasoning channel
        the thinking comes back between the thinking markers; a reply with no reasoning
        (an engine started without a reasoning parser) is the text as it came."""
        joiner = Rejoiner(self)
        if self.order == "target_first":  # the reasoning is what followed the answer
            return joiner.feed("", content) + joiner.feed(reasoning, "") + joiner.close()
        return joiner.feed(reasoning, content) + joiner.close()

    def splitter(self) -> Splitter | Passthrough | ThinkingSplitter:
        """A fresh streaming splitter for answers in this format (serving/split.py)."""
        from axolotl_plug.serving.split import Passthrough, Splitter, ThinkingSplitter

        if self.reasoning:
            return ThinkingSplitter(self)
        return Passthrough() if self.mode == "monolingual" else Splitter(self)


class Rejoiner:
    """`AnswerFormat.rejoin` for a stream: each delta's reasoning and content in, the text
    the model wrote out.

    An engine that applies the model folder's `response_template` sends the pivot
    sections as reasoning and the target answer, its header consumed, as content. Once
    reasoning is seen, the consumed headers come back where the field changes: the
    target header before the content and, with `order: target_first`, the pivot response
    header before the reasoning that follows it. Content that comes before any reasoning
    is held until it shows a header (an engine that does not split: it passes on as it
    is) or reasoning comes; at the end (`close`) it passes on as it is. Blank lines are
    added only where the text around them has none."""

    def __init__(self, answer_format: AnswerFormat):
        self.format = answer_format
        # None until the stream shows which kind of engine sent it; a monolingual answer has nothing to split
        self.split: bool | None = None if answer_format.mode == "plug" else False
        self.held = ""
        self.tail = ""  # the last two characters written
        self.in_content = self.after_content = False

    def feed(self, reasoning: str, content: str) -> str:
        if self.format.reasoning:
            return self._feed_thinking(reasoning, content)
        out = ""
        if reasoning and self.split is None:
            self.split = True
            if self.held:
                out += self._content(self.held)
                self.held = ""
        if reasoning:
            if self.in_content and not self.after_content:
                self.after_content = True
                if self.format.order == "target_first":
                    out += self._header(self.format.pivot.response_header, reasoning)
            out += self._write(reasoning)
        if content:
            if self.split:
                out += self._content(content)
            elif self.split is False:
                out += self._write(content)
            else:
                self.held += content
                if self.format.marks(self.held):
                    self.split, out, self.held = False, out + self._write(self.held), ""
        return out

    def _feed_thinking(self, reasoning: str, content: str) -> str:
        # the reasoning channel: the thinking between the template's markers, then the answer;
        # content before any reasoning comes from an engine that did not split: it passes as it is
        opening, closing = self.format.thinking
        out = ""
        if reasoning and not self.in_content:
            if self.split is None:
                self.split = True
                out += opening + "\n"
            out += reasoning
        if content:
            if self.split and not self.in_content:
                out += "\n" + closing + "\n\n"
                content = content.lstrip()
            self.in_content = True
            out += content
        return self._write(out)

    def close(self) -> str:
        """The rest, at the end of the stream."""
        held, self.held = self.held, ""
        self.split = bool(self.split)
        return self._write(held)

    def _content(self, text: str) -> str:
        if self.in_content:
            return self._write(text)
        self.in_content = True
        return self._header(self.format.target.response_header, text) + self._write(text)

    def _header(self, header: str, following: str) -> str:
        before = "" if not self.tail or self.tail.endswith("\n\n") else ("\n" if self.tail.endswith("\n") else "\n\n")
        return self._write(before + header + ("" if following[:1].isspace() else "\n"))

    def _write(self, text: str) -> str:
        self.tail = (self.tail + text)[-2:]
        return text


def extract(
    text: str,
    target_language: str,
    pivot_language: str = "en",
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
    order: str = "pivot_first",
) -> Extraction:
    """`axolotl_plug.extract`: the sections of a PLUG answer in `target_language` (see
    `AnswerFormat.extract`). `headers` takes the same per-language overrides as
    `plug.headers`, `order` the configured `plug.order`."""
    return AnswerFormat.of(target_language, pivot_language, headers, order).extract(text)
