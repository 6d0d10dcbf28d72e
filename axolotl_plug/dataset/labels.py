"""Labels: which tokens of a rendered conversation carry loss.

We know which characters of the answer are trained when we lay it out (`layout`), so
after one render and one tokenizer call, labels are a search over the tokens'
character offsets away (`label_tokens`). The rules for the answer's edges and the
end-of-turn token copy axolotl's stock `chat_template` strategy, whose labels the
tests compare against token for token.

When the fast path cannot be used (`fast_path_refusal`), or the chat template does not
copy the answer verbatim, the strategy asks axolotl's own strategy instead, with the
answer split into trained and untrained content parts (`content_parts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from axolotl_plug.dataset.offsets import END, START, search

IGNORE = -100


@dataclass(frozen=True)
class EndOfTurn:
    """Which tokens after the answer are trained, as axolotl's stock strategy decides."""

    eot_ids: frozenset[int]
    eos_id: int | None
    train_eot: bool
    train_eos: bool


@dataclass(frozen=True)
class StockRules:
    """The stock strategy's settings that decide whether our labels can equal its own."""

    train_on_inputs: bool
    train_on_eos: str | None
    train_on_eot: str | None
    roles_to_train: tuple[str, ...]


def fast_path_refusal(tokenizer, rules: StockRules) -> str | None:
    """Why labels cannot come from offsets for this config, or None when they can."""
    if not getattr(tokenizer, "is_fast", False):
        return "the tokenizer is not a fast tokenizer, so it gives no character offsets"
    if rules.train_on_inputs:
        return "train_on_inputs is set"
    if "all" in (rules.train_on_eos, rules.train_on_eot):
        return "train_on_eos/train_on_eot is `all`"
    if list(rules.roles_to_train) != ["assistant"]:
        return "roles_to_train is not [assistant]"
    return None


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
) -> tuple[list[int], int | None]:
    """Labels for one rendered conversation.

    `answer` is the assistant content's character span in the render and `trained`
    the spans (inside it) that carry loss. At the answer's own edges a token that
    straddles the edge is trained (as the stock strategy does); at an inner edge
    between trained and masked text it stays masked. Returns the labels and the index
    of the first trained token (None when nothing is trained).
    """
    labels = [IGNORE] * len(input_ids)
    first_trained = None
    turn_end = None
    for lo, hi in trained:
        first = search(offsets, lo, END, right=True) if lo == answer[0] else search(offsets, lo, START, right=False)
        if hi == answer[1]:
            stop = turn_end = search(offsets, hi, START, right=False)
        else:
            stop = search(offsets, hi, END, right=True)
        labels[first:stop] = input_ids[first:stop]
        if first < stop and (first_trained is None or first < first_trained):
            first_trained = first

    if turn_end is None:
        turn_end = search(offsets, answer[1], START, right=False)
    for wanted, ids in ((end_of_turn.train_eot, end_of_turn.eot_ids), (end_of_turn.train_eos, {end_of_turn.eos_id})):
        if not wanted:
            continue
        # the stock strategy accepts the marker up to 3 tokens after the content
        for i in range(turn_end, min(len(input_ids), turn_end + 4)):
            if input_ids[i] in ids:
                labels[i] = input_ids[i]
                first_trained = i if first_trained is None else first_trained
                break
    return labels, first_trained


def first_trained(labels: Sequence[int]) -> int | None:
    return next((k for k, label in enumerate(labels) if label != IGNORE), None)


def content_parts(answer: str, trained: Sequence[tuple[int, int]]) -> str | list[dict]:
    """The answer as axolotl's content parts, each flagged trained or not; the plain
    string when all of it is trained."""
    parts, pos = [], 0
    for lo, hi in trained:
        if lo > pos:
            parts.append({"text": answer[pos:lo], "train": False})
        parts.append({"text": answer[lo:hi], "train": True})
        pos = hi
    if pos < len(answer):
        parts.append({"text": answer[pos:], "train": False})
    return answer if parts == [{"text": answer, "train": True}] else parts
