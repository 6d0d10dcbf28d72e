"""The streaming splitter (pure): text deltas in, pivot deltas and target deltas out.

At every delta it releases only what no continuation can change: the text up to where
the tail could still grow into a header is stable, its sections are found as `extract`
finds them, and the target answer so far is released; everything else is the pivot
stream. When the stream ends, the target deltas add up to `extract(full_text).target`
however the text was cut ([serving.md](../../docs/serving.md#the-splitter-in-python)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from axolotl_plug.format.sections import MISSING_TARGET, OK, header_parts

if TYPE_CHECKING:
    from axolotl_plug.format.answer import AnswerFormat


@dataclass(frozen=True)
class Split:
    """What one delta (or the end of the stream) releases."""

    pivot: str = ""
    target: str = ""


@dataclass
class Splitter:
    """The splitter of one answer in a PLUG format (`AnswerFormat.splitter()` makes one)."""

    format: AnswerFormat
    text: str = field(default="", init=False)
    status: str | None = field(default=None, init=False)  # extract's status, once the stream ended
    pivot: str = field(default="", init=False)  # the pivot stream released so far
    target: str = field(default="", init=False)  # the target answer released so far
    _stable: int = field(default=0, init=False)  # no header can start before this in any continuation
    _marks: list = field(default_factory=list, init=False)  # the headers of the stable text: final
    _searched: int = field(default=0, init=False)  # where the search for more headers goes on

    def __post_init__(self):
        self._parts = [header_parts(text) for _, text in self.format.headers]
        self._firsts = {words[0][0] for words, _ in self._parts}

    def feed(self, delta: str) -> Split:
        """Take the next piece of generated text; return what may be shown now."""
        self.text += delta
        self._stable = self._stable_end()
        return self._release(self.text[: self._stable], final=False)

    def close(self) -> Split:
        """The stream ended: release the rest and set `status` (as `extract` reports it)."""
        self.status = self.format.locate(self.text).status
        return self._release(self.text, final=True)

    # -- internals -----------------------------------------------------------------------
    def _stable_end(self) -> int:
        """The earliest position whose tail could still grow into a header match. A tail
        that cannot grow into one now never can, so the search starts where it last ended."""
        text = self.text
        for start in range(self._stable, len(text)):
            if text[start] in self._firsts and any(_viable(text, start, words, colon) for words, colon in self._parts):
                return start
        return len(text)

    def _release(self, stable: str, final: bool) -> Split:
        marks = self._marks_in(stable, final)
        pivot, target = self._streams(stable, marks, final)
        out = Split(pivot[len(self.pivot) :], target[len(self.target) :])
        self.pivot, self.target = pivot, target
        return out

    def _marks_in(self, stable: str, final: bool) -> list[tuple[str, int, int]]:
        """The headers in `stable`. No header can start before the last stable point
        other than those already found (a tail there could not grow into one), so the
        search goes on from there: each character is searched about once, and a long
        answer costs the same per delta at its end as at its start."""
        found = self._marks + self.format.marks(stable, self._searched)
        if not final:
            self._marks, self._searched = found, len(stable)
        return found

    def _streams(self, stable: str, marks: list, final: bool) -> tuple[str, str]:
        """(pivot stream, target stream) as far as `stable` and its headers settle them."""
        sections = []  # (header start, body start, end or None while open) of each target section
        for i, (kind, start, body) in enumerate(marks):
            end = marks[i + 1][1] if i + 1 < len(marks) else None
            if kind == "target":
                sections.append((start, body, end))
        for start, body, end in sections:
            text = stable[body:end] if end is not None else stable[body:]
            if text.strip():
                return stable[:start] + (stable[end:] if end is not None else ""), text.strip()
            if end is None and not final:  # empty so far: it may still become the answer
                return stable[:start], ""
        if final and sections:  # every target section is empty: extract takes the first
            start, _, end = sections[0]
            return stable[:start] + (stable[end:] if end is not None else ""), ""
        return stable, ""


def _viable(text: str, start: int, words: list[str], colon: bool) -> bool:
    """Could text[start:] still grow into a match of a header (its words joined by
    whitespace runs, then optional whitespace and a colon)? A complete match counts:
    more text may extend it into a longer header."""
    i, n = start, len(text)
    for j, word in enumerate(words):
        if j:
            if i == n:
                return True
            if not text[i].isspace():
                return False
            while i < n and text[i].isspace():
                i += 1
        for char in word:
            if i == n:
                return True
            if text[i] != char:
                return False
            i += 1
    if colon:
        while i < n and text[i].isspace():
            i += 1
        if i == n:
            return True
        if text[i] not in ":：":
            return False
        i += 1
    return i == n


@dataclass
class Passthrough:
    """The splitter of a `mode: monolingual` model, whose whole output is its answer
    (`extract_answer` strips it): everything is target, nothing is pivot."""

    text: str = field(default="", init=False)
    status: str | None = field(default=None, init=False)
    pivot: str = field(default="", init=False)  # always empty
    target: str = field(default="", init=False)  # the answer released so far

    def feed(self, delta: str) -> Split:
        self.text += delta
        return self._release(self.text.strip())  # trailing whitespace waits for more text

    def close(self) -> Split:
        self.status = OK if self.text.strip() else MISSING_TARGET
        return self._release(self.text.strip())

    def _release(self, answer: str) -> Split:
        out = Split("", answer[len(self.target) :])
        self.target = answer
        return out


@dataclass
class ThinkingSplitter:
    """The splitter of an answer in the reasoning channel (`plug.pivot_channel:
    reasoning`): the thinking between the markers is the pivot stream (as engines give
    `reasoning_content`), what follows the closing marker the target. A tail that could
    still grow into a marker waits, and so does trailing whitespace. When the stream
    ends, the pivot deltas add up to the thinking and the target deltas to the target
    that `extract(full_text)` finds."""

    format: AnswerFormat
    text: str = field(default="", init=False)
    status: str | None = field(default=None, init=False)
    pivot: str = field(default="", init=False)  # the thinking released so far, without its markers
    target: str = field(default="", init=False)  # the target answer released so far

    def feed(self, delta: str) -> Split:
        self.text += delta
        return self._release(final=False)

    def close(self) -> Split:
        self.status = self.format.extract(self.text).status
        return self._release(final=True)

    def _release(self, final: bool) -> Split:
        opening, closing = self.format.thinking
        text = self.text.lstrip()
        if not final and opening.startswith(text):
            return Split("", "")  # the opening marker, or the start of it: nothing to show yet
        if opening and text.startswith(opening):
            text = text[len(opening) :]
        at = text.find(closing)
        if at < 0:
            pivot, target = (text if final else text[: len(text) - _partial(text, closing)]).strip(), ""
        else:
            answer = text[at + len(closing) :].lstrip()
            pivot, target = text[:at].strip(), answer.strip() if final else answer.rstrip()
        out = Split(pivot[len(self.pivot) :], target[len(self.target) :])
        self.pivot, self.target = pivot, target
        return out


def _partial(text: str, marker: str) -> int:
    """How many of `text`'s last characters could be the start of `marker`."""
    for k in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:k]):
            return k
    return 0
