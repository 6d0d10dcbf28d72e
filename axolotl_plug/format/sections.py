"""Where a PLUG answer's sections are: header matching (tolerant of spaces and of ASCII or
full-width colons) and the statuses a reader reports. Pure; `answer.AnswerFormat` is the
value every reader goes through ([training.md](../../docs/evaluation.md#generate-answers-for-a-benchmark))."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# statuses, in the order a reader would check them
OK = "ok"  # the sections in the configured order
MISSING_TARGET = "missing_target"  # no target header: the answer shown to users is empty
MISSING_PIVOT = "missing_pivot"  # a target section, but no pivot response anywhere
TARGET_FIRST = "target_first"  # order pivot_first, but the target answer comes first
PIVOT_FIRST = "pivot_first"  # order target_first, but the pivot answer comes first

SECTION_ORDERS = ("pivot_first", "target_first")  # which answer comes first (plug.order)
EXTRACTIONS = ("ours", "paper")  # extract, or reference_target: the rules `generate --extraction` picks

# a header's kind: the target answer's, the pivot answer's, the restated instruction's
KINDS = ("target", "pivot", "pivot_instruction")


@dataclass(frozen=True)
class Extraction:
    target: str
    pivot: str
    pivot_instruction: str
    status: str

    @property
    def has_target(self) -> bool:
        """Is there a target answer to show? (every reader's one test of it)"""
        return has_target(self.status, self.target)


def has_target(status: str | None, target: str | None) -> bool:
    """An answer shows its user something: a target section was found and it holds text.
    Answer files (`status`, `output`) and extractions are read by this one rule."""
    return status != MISSING_TARGET and bool(target and target.strip())


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
    colon. `header_pattern` and the streaming splitter both read headers this way."""
    stem = header.strip().rstrip(":：").rstrip()
    return stem.split(), header.strip()[-1:] in (":", "：")


def header_pattern(header: str) -> str:
    """A header as a regex tolerant of ASCII/full-width colons and spaces before them."""
    words, colon = header_parts(header)
    pattern = r"\s+".join(re.escape(word) for word in words)
    return pattern + r"\s*[:：]" if colon else pattern


@lru_cache(maxsize=256)
def _splitter(headers: tuple[tuple[str, str], ...]) -> re.Pattern:
    # longest header first, so one header that prefixes another cannot shadow it
    ordered = sorted(headers, key=lambda kv: -len(kv[1]))
    return re.compile("|".join(f"(?P<{kind}>{header_pattern(text)})" for kind, text in ordered))


def header_marks(text: str, headers: tuple[tuple[str, str], ...], start: int = 0) -> list[tuple[str, int, int]]:
    """Every header of `headers` ((kind, header) pairs) in `text` from `start` on, in
    order: (kind, where it starts, where its body starts)."""
    return [(m.lastgroup, m.start(), m.end()) for m in _splitter(headers).finditer(text, start)]


def locate_sections(text: str, headers: tuple[tuple[str, str], ...], order: str = "pivot_first") -> Sections:
    """Find an answer's sections by their headers.

    Of each kind, the first section with a non-empty body counts (else the first one);
    a section ends where the next header of any kind starts. The status says whether
    the target and pivot answers are there and in the configured `order`.
    """
    if order not in SECTION_ORDERS:
        raise ValueError(f"order must be one of {SECTION_ORDERS}, not {order!r}")
    marks = header_marks(text, headers)
    found: dict[str, list[Section]] = {kind: [] for kind in KINDS}
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
