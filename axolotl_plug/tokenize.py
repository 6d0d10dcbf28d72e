"""Conversation -> input_ids / labels with one render and one tokenizer pass.

We know which characters of the answer are trained when we lay it out, so after one
chat-template render and one tokenizer call with offsets, labels are a bisect away.
The rules for the answer's edges and the end-of-turn token copy axolotl's stock
`chat_template` strategy, whose labels the tests compare against token for token.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Sequence

IGNORE = -100


@dataclass(frozen=True)
class EndOfTurn:
    """Which tokens after the answer are trained, as axolotl's stock strategy decides."""

    eot_ids: frozenset[int]
    eos_id: int | None
    train_eot: bool
    train_eos: bool

    @classmethod
    def from_stock(cls, stock) -> "EndOfTurn":
        """Read the rules off a constructed axolotl ChatTemplateStrategy."""
        return cls(
            eot_ids=frozenset(stock._eot_token_ids),
            eos_id=stock.tokenizer.eos_token_id,
            train_eot=stock.train_on_eot in ("turn", "last"),
            train_eos=stock.train_on_eos in ("turn", "last"),
        )


def render(tokenizer, chat_template: str, messages: list[dict], template_kwargs: dict | None = None) -> str:
    """The conversation as text, exactly as the stock strategy renders it."""
    return tokenizer.apply_chat_template(
        messages,
        chat_template=chat_template,
        tokenize=False,
        add_generation_prompt=False,
        **(template_kwargs or {}),
    )


def answer_offset(text: str, answer: str) -> int:
    """Where the (last) assistant answer starts in the render, or -1 if the template
    did not copy it verbatim."""
    return text.rfind(answer)


def label_tokens(
    input_ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    answer: tuple[int, int],
    trained: Sequence[tuple[int, int]],
    end_of_turn: EndOfTurn,
) -> list[int]:
    """Labels for one rendered conversation.

    `answer` is the assistant content's character span in the render and `trained`
    the spans (inside it) that carry loss. At the answer's own edges a token that
    straddles the edge is trained (as the stock strategy does); at an inner edge
    between trained and masked text it stays masked.
    """
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    labels = [IGNORE] * len(input_ids)
    for lo, hi in trained:
        first = bisect_right(ends, lo) if lo == answer[0] else bisect_left(starts, lo)
        stop = bisect_left(starts, hi) if hi == answer[1] else bisect_right(ends, hi)
        labels[first:stop] = input_ids[first:stop]

    turn_end = bisect_left(starts, answer[1])
    for wanted, ids in ((end_of_turn.train_eot, end_of_turn.eot_ids), (end_of_turn.train_eos, {end_of_turn.eos_id})):
        if not wanted:
            continue
        # the stock strategy accepts the marker up to 3 tokens after the content
        for i in range(turn_end, min(len(input_ids), turn_end + 4)):
            if input_ids[i] in ids:
                labels[i] = input_ids[i]
                break
    return labels
