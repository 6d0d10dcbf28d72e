"""Offsets: rendered text -> token ids and each token's (start, end) character offsets.

Labels need to know which tokens cover which characters. Rust's tokenizer can track
offsets, but for a byte-level BPE (Llama 3, Qwen, SmolLM) it is faster to encode
without them and work them out from the ids, since each token stands for a fixed run
of UTF-8 bytes (`byte_table`). Either way, offsets are read lazily: a label search
looks at a handful of tokens, never all of them.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

START, END = 0, 1  # fields of a (start, end) character offset


class _Offsets(Sequence):
    """A row's (start, end) character offsets, worked out only where a label search
    looks: `insertion_point` answers a bisect directly, or None to ask for a full one."""

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> tuple[int, int]:
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        return self._offset(index)

    def _offset(self, index: int) -> tuple[int, int]:
        raise NotImplementedError

    def insertion_point(self, x: int, field: int, right: bool) -> int | None:
        raise NotImplementedError


class _LazyOffsets(_Offsets):
    """The character offsets of an encoding, read from Rust one token at a time.

    Labels need a few binary searches over the offsets; converting all of them into
    Python tuples (hundreds per row) cost as much as tokenizing, mostly in garbage
    collection of those tuples."""

    def __init__(self, encoding):
        self._encoding = encoding
        self._length = len(encoding)

    def _offset(self, index: int) -> tuple[int, int]:
        return self._encoding.token_to_chars(index)

    def insertion_point(self, x: int, field: int, right: bool) -> int | None:
        """bisect_right (right) or bisect_left of x over the tokens' start or end
        offsets, walked from the token that holds character x: one or two lookups where
        a bisect over Rust offsets makes a dozen. None when no token holds x."""
        token = self._encoding.char_to_token(x)
        if token is None:
            return None
        chars = self._encoding.token_to_chars

        def before(i: int) -> bool:  # does token i sort before the insertion point?
            value = chars(i)[field]
            return value <= x if right else value < x

        if before(token):
            token += 1
            while token < self._length and before(token):
                token += 1
        else:
            while token > 0 and not before(token - 1):
                token -= 1
        return token


class _ByteOffsets(_Offsets):
    """The character offsets of a byte-level BPE encoding, worked out from its ids.

    Token i covers the UTF-8 bytes from where token i-1 ends to its own end, the sum of
    the byte lengths of tokens 0..i. A search sums only as far as it needs, from the
    nearer end of the row. A token that covers part of a character spans that whole
    character, as in the Rust offsets: a boundary at a character edge is found at the
    same token."""

    def __init__(self, text: str, ids: list[int], token_bytes, total: int, ascii_only: bool):
        self._text, self._ids, self._bytes = text, ids, token_bytes
        self._total, self._ascii, self._length = total, ascii_only, len(ids)

    def _byte(self, char: int) -> int:
        return char if self._ascii else len(self._text[:char].encode("utf-8"))

    def _offset(self, index: int) -> tuple[int, int]:
        start = sum(map(self._bytes, self._ids[:index]))
        end = start + self._bytes(self._ids[index])
        if self._ascii:
            return start, end
        data = self._text.encode("utf-8")
        # a partial character counts as the whole: floor for the start, ceiling for the end
        return len(data[:start].decode("utf-8", "ignore")), len(data[:end].decode("utf-8", "replace"))

    def _first_end_after(self, byte: int) -> int:
        """Index of the first token that ends after `byte`: bisect_right over the ends."""
        ids, length = self._ids, self._bytes
        if 2 * byte < self._total:  # walk forward from the row's start
            end = 0
            for i, token in enumerate(ids):
                end += length(token)
                if end > byte:
                    return i
            return len(ids)
        end = self._total  # walk back from the row's end; `end` is token i's end
        for i in range(len(ids) - 1, -1, -1):
            if end <= byte:
                return i + 1
            end -= length(ids[i])
        return 0

    def insertion_point(self, x: int, field: int, right: bool) -> int:
        """bisect_right (right) or bisect_left of character x over the tokens' start or
        end offsets.

        A start offset is the character holding the token's first byte, an end offset
        the character after its last byte; so `start > x` means the token starts at or
        after the byte of character x + 1, `end >= x` that it ends after the byte of
        character x - 1. Token i starts where token i-1 ends."""
        if field == END:
            if not right and x <= 0:
                return 0
            return self._first_end_after(self._byte(x if right else x - 1))
        byte = self._byte(x + 1 if right else x)
        if byte <= 0:  # token 0 starts at byte 0
            return 0
        return min(self._length, self._first_end_after(byte - 1) + 1)


def search(offsets: Sequence[tuple[int, int]], x: int, field: int, right: bool) -> int:
    """bisect_right/bisect_left(offsets, x, key=itemgetter(field))."""
    if isinstance(offsets, _Offsets):
        found = offsets.insertion_point(x, field, right)
        if found is not None:
            return found
    bisect = bisect_right if right else bisect_left
    return bisect(offsets, x, key=itemgetter(field))


@dataclass(frozen=True)
class ByteTable:
    """Bytes of text each token id stands for, and the Unicode normal form (or None)
    a text must already be in for the tokenizer's normalizer to leave it alone."""

    lengths: list[int]
    normal_form: str | None


def byte_table(tokenizer) -> ByteTable | None:
    """The byte table of a byte-level BPE whose tokens cover a text's UTF-8 bytes
    exactly and in order: no normalizer but NFC (which changes no NFC text), no added
    prefix space, no pre-tokenizer step that drops text, no added token that strips
    whitespace, and offsets not trimmed of spaces. None for any other tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    normalizer = spec.get("normalizer") or {}
    forms = {step.get("type") for step in normalizer.get("normalizers", [normalizer] if normalizer else [])}
    if (spec.get("model") or {}).get("type") != "BPE" or not forms <= {"NFC"}:
        return None
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [step.get("type") for step in steps]
    if "ByteLevel" not in kinds or not set(kinds) <= {"ByteLevel", "Split", "Digits"}:
        return None
    if any(step.get("add_prefix_space") or step.get("behavior") == "Removed" for step in steps):
        return None
    added = {token["id"]: token for token in spec.get("added_tokens", [])}
    if any(token["lstrip"] or token["rstrip"] for token in added.values()):
        return None
    # offsets trimmed of spaces (GPT-2's post-processor) are not the tokens' own spans
    post = spec.get("post_processor") or {}
    if any(step.get("trim_offsets") for step in post.get("processors", [post])):
        return None
    vocab = backend.get_vocab(with_added_tokens=True)
    lengths = [0] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        # a byte-level token writes each byte as one character
        lengths[index] = len(added[index]["content"].encode("utf-8")) if index in added else len(token)
    return ByteTable(lengths, "NFC" if forms else None)


class RowEncoder:
    """Rendered texts -> (ids, character offsets) for each, in one tokenizer call.

    A byte-level BPE tokenizer (Llama 3, Qwen, SmolLM) encodes without tracking
    offsets, a quarter faster, and the offsets follow from the ids (`byte_table`); a
    row its normalizer would change, or whose token bytes do not add up to its text's,
    is encoded again with offsets. Other fast tokenizers give Rust's offsets, read
    lazily. With truncation or padding set, the transformers wrapper is used as it is.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._table: ByteTable | None = None
        self._ready = False

    def __getstate__(self):  # workers rebuild the table rather than unpickle it
        return {**self.__dict__, "_table": None, "_ready": False}

    def __call__(self, texts: list[str]) -> list[tuple[list[int], Sequence[tuple[int, int]]]]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None or backend.truncation is not None or backend.padding is not None:
            encoded = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            return list(zip(encoded["input_ids"], encoded["offset_mapping"]))
        if not self._ready:
            self._table, self._ready = byte_table(self.tokenizer), True
        if self._table is None:
            return [(e.ids, _LazyOffsets(e)) for e in backend.encode_batch(texts, add_special_tokens=False)]
        out = []
        lengths, form = self._table.lengths.__getitem__, self._table.normal_form
        encode_batch = getattr(backend, "encode_batch_fast", backend.encode_batch)  # tokenizers < 0.20
        for text, encoding in zip(texts, encode_batch(texts, add_special_tokens=False)):
            ids = encoding.ids
            total = sum(map(lengths, ids))
            ascii_only = text.isascii()
            size = len(text) if ascii_only else len(text.encode("utf-8"))
            unchanged = ascii_only or form is None or unicodedata.is_normalized(form, text)
            if unchanged and total == size:
                out.append((ids, _ByteOffsets(text, ids, lengths, total, ascii_only)))
            else:
                encoding = backend.encode(text, add_special_tokens=False)
                out.append((encoding.ids, _LazyOffsets(encoding)))
        return out
