"""Conversation -> input_ids / labels with one render and one tokenizer pass.

We know which characters of the answer are trained when we lay it out, so after one
chat-template render and one tokenizer call with offsets, labels are a bisect away.
The rules for the answer's edges and the end-of-turn token copy axolotl's stock
`chat_template` strategy, whose labels the tests compare against token for token.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from collections.abc import Sequence

from .paste import Skeleton, fill, pastes_message_contents, slot, split_skeleton

IGNORE = -100


def _start(offset: tuple[int, int]) -> int:
    return offset[0]


def _end(offset: tuple[int, int]) -> int:
    return offset[1]


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


class ChatRenderer:
    """`render` for one tokenizer and template, minus apply_chat_template's per-call
    set-up: the compiled template and the special-token variables are kept.

    It calls the template exactly as transformers' render_jinja_template does (the
    parity tests compare the result with the stock strategy's); if transformers moves
    its compile helper, it falls back to apply_chat_template. A template that only
    pastes message contents in (see `paste`) is rendered once per sequence of roles and
    filled per conversation.
    """

    def __init__(self, tokenizer, chat_template: str, template_kwargs: dict | None = None):
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.template_kwargs = dict(template_kwargs or {})
        self._compiled = None

    def __getstate__(self):  # compiled jinja templates do not pickle; workers recompile
        return {**self.__dict__, "_compiled": None}

    def _compile(self) -> bool:
        try:
            from transformers.utils.chat_template_utils import _compile_jinja_template
        except ImportError:
            return False
        self._compiled = _compile_jinja_template(self.chat_template)
        self._variables = {**self.tokenizer.special_tokens_map, **self.template_kwargs}
        self._pastes = pastes_message_contents(self._compiled.environment, self.chat_template)
        self._skeletons: dict[tuple, Skeleton] = {}
        return True

    def _render(self, messages: list[dict]) -> str:
        return self._compiled.render(
            messages=messages, tools=None, documents=None, add_generation_prompt=False, **self._variables
        )

    def __call__(self, messages: list[dict]) -> str:
        if self._compiled is None and not self._compile():
            return render(self.tokenizer, self.chat_template, messages, self.template_kwargs)
        if not self._pastes or any(len(m) != 2 for m in messages):
            return self._render(messages)
        shape = tuple(m["role"] for m in messages)
        skeleton = self._skeletons.get(shape)
        if skeleton is None:
            placeholders = [{"role": role, "content": slot(i)} for i, role in enumerate(shape)]
            skeleton = self._skeletons[shape] = split_skeleton(self._render(placeholders), int)
        return fill(skeleton, [m["content"] for m in messages])[0]


class _LazyOffsets(Sequence):
    """The character offsets of an encoding, read from Rust one token at a time.

    Labels need a few binary searches over the offsets; converting all of them into
    Python tuples (hundreds per row) cost as much as tokenizing, mostly in garbage
    collection of those tuples."""

    def __init__(self, encoding):
        self._encoding = encoding
        self._length = len(encoding)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> tuple[int, int]:
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._encoding.token_to_chars(index)

    def token_at(self, char: int) -> int | None:
        """Index of the token holding character `char` (None past the end)."""
        return self._encoding.char_to_token(char)


def _search(offsets: Sequence[tuple[int, int]], x: int, key, right: bool) -> int:
    """bisect_right/bisect_left(offsets, x, key=key), started next to the token that
    holds character x and checked against the bisect postcondition."""
    search = bisect_right if right else bisect_left
    n = len(offsets)
    token = offsets.token_at(x) if isinstance(offsets, _LazyOffsets) else None
    if token is not None:
        i = search(offsets, x, max(0, token - 2), min(n, token + 3), key=key)
        before_ok = i == 0 or (key(offsets[i - 1]) <= x if right else key(offsets[i - 1]) < x)
        after_ok = i == n or (key(offsets[i]) > x if right else key(offsets[i]) >= x)
        if before_ok and after_ok:
            return i
    return search(offsets, x, key=key)


def encode_rendered(tokenizer, texts: list[str]) -> list[tuple[list[int], Sequence[tuple[int, int]]]]:
    """(ids, character offsets) of each rendered text, without special tokens added:
    what `tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)` gives.

    The Rust tokenizer is called directly when it has no truncation or padding set
    (the Python wrapper converts every offset of every token, which costs as much as
    encoding itself); otherwise the wrapper is used.
    """
    backend = getattr(tokenizer, "_tokenizer", None)
    if backend is not None and backend.truncation is None and backend.padding is None:
        return [(e.ids, _LazyOffsets(e)) for e in backend.encode_batch(texts, add_special_tokens=False)]
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    return list(zip(encoded["input_ids"], encoded["offset_mapping"]))


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
    for lo, hi in trained:
        first = _search(offsets, lo, _end, right=True) if lo == answer[0] else _search(offsets, lo, _start, right=False)
        stop = _search(offsets, hi, _start, right=False) if hi == answer[1] else _search(offsets, hi, _end, right=True)
        labels[first:stop] = input_ids[first:stop]
        if first < stop and (first_trained is None or first < first_trained):
            first_trained = first

    turn_end = _search(offsets, answer[1], _start, right=False)
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
