"""Pure extraction: a generated PLUG answer -> target answer, pivot answer, status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from .languages import get_language

# statuses, in the order a reader would check them
OK = "ok"  # pivot section(s), then the target section
MISSING_TARGET = "missing_target"  # no target header: the answer shown to users is empty
MISSING_PIVOT = "missing_pivot"  # a target section, but no pivot response anywhere
TARGET_FIRST = "target_first"  # the pivot response comes after the target answer


@dataclass(frozen=True)
class Extraction:
    target: str
    pivot: str
    pivot_instruction: str
    status: str


def _header_pattern(header: str) -> str:
    """A header as a regex tolerant of ASCII/full-width colons and spaces before them."""
    stem = header.strip().rstrip(":：").rstrip()
    pattern = r"\s+".join(re.escape(word) for word in stem.split())
    if header.strip()[-1:] in (":", "："):
        pattern += r"\s*[:：]"
    return pattern


@lru_cache(maxsize=256)
def _splitter(headers: tuple[tuple[str, str], ...]) -> re.Pattern:
    # longest header first, so one header that prefixes another cannot shadow it
    ordered = sorted(headers, key=lambda kv: -len(kv[1]))
    return re.compile("|".join(f"(?P<{kind}>{_header_pattern(text)})" for kind, text in ordered))


def extract(
    text: str,
    target_language: str,
    pivot_language: str = "en",
    headers: Mapping[str, Mapping[str, str | None]] | None = None,
) -> Extraction:
    """Split a generated answer into its sections.

    `headers` takes the same per-language overrides as `plug.headers`. The target answer
    is the first non-empty target section, cut at the next header; the pivot answer and
    pivot instruction are found the same way. Never raises on odd text.
    """
    target = get_language(target_language, headers)
    pivot = get_language(pivot_language, headers)
    kinds = (
        ("target", target.response_header),
        ("pivot", pivot.response_header),
        ("pivot_instruction", pivot.instruction_header),
    )
    splitter = _splitter(tuple((kind, header) for kind, header in kinds if header.strip()))
    marks = [(m.lastgroup, m.start(), m.end()) for m in splitter.finditer(text)]
    sections: dict[str, list[tuple[int, str]]] = {"target": [], "pivot": [], "pivot_instruction": []}
    for i, (kind, start, end) in enumerate(marks):
        stop = marks[i + 1][1] if i + 1 < len(marks) else len(text)
        sections[kind].append((start, text[end:stop].strip()))

    def first(kind: str) -> tuple[int, str]:
        found = sections[kind]
        return next(((pos, body) for pos, body in found if body), found[0] if found else (-1, ""))

    target_pos, target_text = first("target")
    pivot_pos, pivot_text = first("pivot")
    _, instruction_text = first("pivot_instruction")
    if target_pos < 0:
        status = MISSING_TARGET
    elif pivot_pos < 0:
        status = MISSING_PIVOT
    elif pivot_pos > target_pos:
        status = TARGET_FIRST
    else:
        status = OK
    return Extraction(target_text, pivot_text, instruction_text, status)
