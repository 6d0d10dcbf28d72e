"""The tokenizer's `response_template` for a PLUG model: the metadata that transformers
(5.13+), vLLM (`--reasoning-parser hf`, 0.32+) and SGLang (`--reasoning-parser
response_template`, 0.5.23+) parse a model's output with. With it, an engine returns the
target answer as `content` and the pivot sections as reasoning, with no code of ours in
its environment ([serving.md](../../docs/serving.md#the-model-folder-carries-its-own-split)).
Pure: the chat template's markers come in as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.format.sections import header_pattern

VERSION = 1


def any_header(headers: Sequence[str]) -> str:
    """One regex for several headers, each as tolerant as `extract` reads it (spaces,
    ASCII or full-width colon); the longest first, so a header that prefixes another
    cannot shadow it."""
    unique = sorted({h for h in headers if h.strip()}, key=lambda h: (-len(h), h))
    return "|".join(f"(?:{header_pattern(h)})" for h in unique)


def response_template(formats: Sequence[AnswerFormat], generation_prompt: str, end_of_turn: Sequence[str] = ()) -> dict:
    """The `response_template` of a model that answers in `formats` (one per target
    language it may answer in; they share the pivot and the order).

    - `start_anchor` is the chat template's generation prompt: the parser reads the
      output from after its last occurrence in the prompt.
    - pivot first: `thinking` opens at the start of the answer and closes at the first
      target header (or the end of turn); `content`, the field the parser returns to, is the rest, up to the
      end-of-turn text.
    - target first: `content` opens at the target header and closes at the pivot
      response header (or the end of turn); `thinking` is the rest.
    - reasoning channel (`plug.pivot_channel: reasoning`): `thinking` is what the chat
      template's thinking markers enclose (the opening one may end the generation
      prompt), `content` the rest, up to the end-of-turn text.
    """
    if not formats:
        raise ValueError("no answer format: give at least one target language")
    first = formats[0]
    if any(f.mode == "monolingual" for f in formats):
        raise ValueError("a monolingual model answers in one language only: there is no pivot to split off")
    if any((f.pivot, f.order) != (first.pivot, first.order) for f in formats):
        raise ValueError("the formats of one model share their pivot language and order")
    if not generation_prompt:
        raise ValueError(
            "the chat template adds nothing for add_generation_prompt: the start of the answer cannot be found"
        )
    targets = any_header([f.target.response_header for f in formats])
    ends = "|".join(re.escape(text) for text in dict.fromkeys(end_of_turn) if text)
    # the whitespace around a header belongs to neither field, as `extract` strips it
    at_end = {"close_pattern": rf"\s*(?:{ends})"} if ends else {}
    if any(f.channel != first.channel or f.thinking != first.thinking for f in formats):
        raise ValueError("the formats of one model share their channel")
    if first.reasoning:
        opening, closing = first.thinking
        # the model writes the opening marker unless the generation prompt ends with it (Qwen3.5's); a
        # streaming parser must see all of it before it opens, so it is not optional
        written = opening and not generation_prompt.rstrip().endswith(opening)
        fields = {
            "thinking": {
                "open_pattern": rf"^\s*{re.escape(opening)}\s*" if written else r"^\s*",
                "close_pattern": rf"\s*{re.escape(closing)}\s*",
                "content": "text",
            },
            "content": {"content": "text", **at_end},
        }
    elif first.order == "pivot_first":
        # no target header at all: the whole answer is reasoning, up to the end of turn
        closer = rf"\s*(?:{targets}{'|' + ends if ends else ''})\s*"
        fields = {
            "thinking": {"open_pattern": "^", "close_pattern": closer, "content": "text"},
            "content": {"content": "text", **at_end},
        }
    else:
        pivot = header_pattern(first.pivot.response_header)
        fields = {
            "content": {
                "open_pattern": rf"(?:{targets})\s*",
                "close_pattern": rf"\s*(?:{pivot}{'|' + ends if ends else ''})\s*",
                "content": "text",
            },
            "thinking": {"content": "text", **at_end},
        }
    return {"version": VERSION, "defaults": {"role": "assistant"}, "start_anchor": generation_prompt, "fields": fields}
