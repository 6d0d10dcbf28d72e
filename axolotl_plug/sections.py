"""Pure extraction: a generated PLUG answer -> its sections -> target answer, pivot
answer, status (`extract`, our rule), or the reference's rule (`reference_target`).

The package exports `extract`; this module is `axolotl_plug.sections`, so that the name
`axolotl_plug.extract` means the function only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from .languages import get_language

# statuses, in the order a reader would check them
OK = "ok"  # the sections in the configured order
MISSING_TARGET = "missing_target"  # no target header: the answer shown to users is empty
MISSING_PIVOT = "missing_pivot"  # a target section, but no pivot response anywhere
TARGET_FIRST = "target_first"  # order pivot_first, but the target answer comes first
PIVOT_FIRST = "pivot_first"  # order target_first, but the pivot answer comes first

SECTION_ORDERS = ("pivot_first", "target_first")  # which answer comes first (plug.order)
EXTRACTIONS = ("ours", "paper")  # extract, or reference_target: the rules `generate --extraction` picks


@dataclass(frozen=True)
class Extraction:
    target: str
    pivot: str
    pivot_instruction: str
    status: str


@dataclass(frozen=True)
class Section:
    """Where one section sits in the text: its header, and its body up to the next header."""

    header_start: int
    body_start: int
    end: int


@dataclass(frozen=True)
class Sections:
    """The sections an answer's headers mark out (None where a kind is absent)."""

    target: Section | None
    pivot: Section | None
    pivot_instruction: Section | None
    status: str


def header_parts(header: str) -> tuple[list[str], bool]:
    """A header's words and whether it ends in a colon: a match is the words joined by
    any whitespace, then (with a colon) optional whitespace and an ASCII or full-width
    colon. `_header_pattern` and the streaming splitter both read headers this way."""
    stem = header.strip().rstrip(":：").rstrip()
    return stem.split(), header.strip()[-1:] in (":", "：")


def _header_pattern(header: str) -> str:
    """A header as a regex tolerant of ASCII/full-width colons and spaces before them."""
    words, colon = header_parts(header)
    pattern = r"\s+".join(re.escape(word) for word in words)
    return pattern + r"\s*[:：]" if colon else pattern


@lru_cache(maxsize=256)
def _splitter(headers: tuple[tuple[str, str], ...]) -> re.Pattern:
    # longest header first, so one header that prefixes another cannot shadow it
    ordered = sorted(headers, key=lambda kv: -len(kv[1]))
    return re.compile("|".join(f"(?P<{kind}>{_header_pattern(text)})" for kind, text in ordered))


def header_kinds(
    target_language: str, pivot_language: str = "en", headers: Mapping[str, Mapping[str, str | None]] | None = None
) -> tuple[tuple[str, str], ...]:
    """The headers an answer's sections start with, by kind (`target`, `pivot`,
    `pivot_instruction`), those that are set: what `header_marks` and the streaming
    splitter look for."""
    target = get_language(target_language, headers)
    pivot = get_language(pivot_language, headers)
    kinds = (("target", target.response_header), ("pivot", pivot.response_header),
             ("pivot_instruction", pivot.instruction_header))
    return tuple((kind, header) for kind, header in kinds if header.strip())


def header_marks(
    text: str,
    target_language: str,
    pivot_language: str = "en",
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
    start: int = 0,
) -> list[tuple[str, int, int]]:
    """Every header in `text` (from `start` on), in order: (kind, where it starts, where
    its body starts), kind being `target`, `pivot` or `pivot_instruction`."""
    splitter = _splitter(header_kinds(target_language, pivot_language, headers))
    return [(m.lastgroup, m.start(), m.end()) for m in splitter.finditer(text, start)]


def locate_sections(
    text: str,
    target_language: str,
    pivot_language: str = "en",
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
    order: str = "pivot_first",
) -> Sections:
    """Find an answer's sections by their headers.

    Of each kind, the first section with a non-empty body counts (else the first one);
    a section ends where the next header of any kind starts. The status says whether
    the target and pivot answers are there and in the configured `order`. The training
    data path (pre-built rows) and `extract` both read answers through here.
    """
    if order not in SECTION_ORDERS:
        raise ValueError(f"order must be one of {SECTION_ORDERS}, not {order!r}")
    marks = header_marks(text, target_language, pivot_language, headers)
    found: dict[str, list[Section]] = {"target": [], "pivot": [], "pivot_instruction": []}
    for i, (kind, start, end) in enumerate(marks):
        stop = marks[i + 1][1] if i + 1 < len(marks) else len(text)
        found[kind].append(Section(start, end, stop))

    def first(kind: str) -> Section | None:
        sections = found[kind]
        return next((s for s in sections if text[s.body_start : s.end].strip()), sections[0] if sections else None)

    target_section, pivot_section = first("target"), first("pivot")
    if target_section is None:
        status = MISSING_TARGET
    elif pivot_section is None:
        status = MISSING_PIVOT
    elif order == "pivot_first" and pivot_section.header_start > target_section.header_start:
        status = TARGET_FIRST
    elif order == "target_first" and pivot_section.header_start < target_section.header_start:
        status = PIVOT_FIRST
    else:
        status = OK
    return Sections(target_section, pivot_section, first("pivot_instruction"), status)


def extract(
    text: str,
    target_language: str,
    pivot_language: str = "en",
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
    order: str = "pivot_first",
) -> Extraction:
    """Split a generated answer into its sections (see `locate_sections`).

    `headers` takes the same per-language overrides as `plug.headers`, `order` the
    configured `plug.order`. The target answer is the first non-empty target section,
    cut at the next header, stripped. Never raises on odd text.
    """
    sections = locate_sections(text, target_language, pivot_language, headers, order)

    def body(section: Section | None) -> str:
        return text[section.body_start : section.end].strip() if section else ""

    return Extraction(body(sections.target), body(sections.pivot), body(sections.pivot_instruction), sections.status)


def reference_target(
    text: str,
    target_language: str,
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
    order: str = "pivot_first",
    pivot_language: str = "en",
) -> str:
    """The reference's rule (its extract_response_from_bilingual_output.py): everything
    after the first exact occurrence of the target response header, stripped; the empty
    string when the header is absent. With `order="target_first"` (its
    extract_first_response) that text is cut at the first exact pivot response header
    and stripped again. No tolerance for another colon or spacing (compare `extract`)."""
    header = get_language(target_language, headers).response_header
    position = text.find(header) if header else -1
    if position < 0:
        return ""
    answer = text[position + len(header) :].strip()
    if order == "target_first":
        other = get_language(pivot_language, headers).response_header
        cut = answer.find(other) if other else -1
        if cut >= 0:
            answer = answer[:cut].strip()
    return answer
