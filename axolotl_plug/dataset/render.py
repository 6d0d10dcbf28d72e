"""Rendering: the answer layout (a jinja file) and the chat template -> text.

`render_answer` lays out the assistant content and knows each variable's character
span, so the trained spans need no searching. `ChatRenderer` renders a conversation as
axolotl's stock strategy does, through transformers' public `render_jinja_template`
(the function behind `apply_chat_template`, which the tests compare it with).

Speed lives next door, in `paste`: a template that only pastes its text inputs in is
rendered once per shape and filled per row. Both renderers say yes to it only when
`paste` can show the template is such a paste.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from axolotl_plug.dataset.paste import (
    MARKER_CHARS,
    Skeleton,
    fill,
    pastes_message_contents,
    prints_bare,
    slot,
    split_skeleton,
)

# The markers wrap every variable while a layout renders in full, so the trained
# character spans are known exactly without re-searching.
_OPEN, _SEP, _CLOSE = MARKER_CHARS


def has_marker(text: str) -> bool:
    return not text.isascii() and any(mark in text for mark in MARKER_CHARS)


# -- the answer layout ------------------------------------------------------------------


@lru_cache(maxsize=32)
def _compile_layout(source: str):
    # keep_trailing_newline: a layout's final newline is part of the answer if written
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


def render_answer(source: str, values: dict[str, str], extra: dict) -> tuple[str, dict[str, tuple[int, int]]]:
    """Render a layout template; return the text and each variable's character span.

    `values` are the text variables whose spans we need (headers, instructions,
    responses); `extra` are plain variables (languages, order, flags). A value used
    twice keeps its first span. Raises ValueError on template errors.
    """
    skeleton = _layout_skeleton(source, tuple(values), tuple(extra.items()))
    if skeleton is None:
        return render_answer_in_full(source, values, extra)
    return fill(skeleton, values)


@lru_cache(maxsize=256)
def _layout_skeleton(source: str, names: tuple[str, ...], extra: tuple[tuple[str, object], ...]) -> Skeleton | None:
    """The layout under `extra` as literals and slots, or None when it is not a paste."""
    template = _compile_layout(source)
    if not prints_bare(template.environment, source, names):
        return None
    try:
        return split_skeleton(template.render(**dict(extra), **{name: slot(name) for name in names}))
    except TemplateError as exc:
        raise ValueError(f"response template failed to render: {exc}") from exc


def render_answer_in_full(source: str, values: dict[str, str], extra: dict) -> tuple[str, dict[str, tuple[int, int]]]:
    """render_answer by a full render with every value wrapped in markers."""
    marked = {name: f"{_OPEN}{name}{_SEP}{text}{_CLOSE}" for name, text in values.items()}
    try:
        raw = _compile_layout(source).render(**extra, **marked)
    except TemplateError as exc:
        raise ValueError(f"response template failed to render: {exc}") from exc
    pieces: list[str] = []
    spans: dict[str, tuple[int, int]] = {}
    chunks = raw.split(_OPEN)
    pieces.append(chunks[0])
    length = len(chunks[0])
    for chunk in chunks[1:]:
        name, sep, rest = chunk.partition(_SEP)
        text, close, after = rest.partition(_CLOSE)
        if not (sep and close):
            raise ValueError("response template split a variable's text; insert the variables as they are")
        spans.setdefault(name, (length, length + len(text)))
        pieces.append(text)
        pieces.append(after)
        length += len(text) + len(after)
    text = "".join(pieces)
    if has_marker(text):
        raise ValueError(
            "response template changed a variable's text (a filter such as |trim or |upper "
            "on a header or answer); insert the variables as they are"
        )
    return text, spans


# -- the chat template ------------------------------------------------------------------


# Only parses templates, to read their syntax tree; `loopcontrols` as transformers enables
# it. A template this cannot parse (a custom tag) is simply rendered per row.
_PARSER = Environment(extensions=["jinja2.ext.loopcontrols"])


class ChatRenderer:
    """The conversation as text, as the stock strategy's apply_chat_template renders it
    for one tokenizer and template, minus its per-call set-up: the special-token variables are read once and the template is rendered
    through transformers' `render_jinja_template`, which keeps it compiled.

    A template that only pastes message contents in (see `paste`) is rendered once per
    sequence of roles and filled per conversation.
    """

    def __init__(self, tokenizer, chat_template: str, template_kwargs: dict | None = None):
        self.chat_template = chat_template
        # the variables apply_chat_template passes: special tokens, then the user's kwargs
        self.variables = {**tokenizer.special_tokens_map, **dict(template_kwargs or {})}
        self.pastes = pastes_message_contents(_PARSER, chat_template)
        self._skeletons: dict[tuple, Skeleton] = {}

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(
            [messages], chat_template=self.chat_template, add_generation_prompt=add_generation_prompt, **self.variables
        )
        return rendered[0]

    def __call__(self, messages: list[dict]) -> str:
        if not self.pastes or any(len(m) != 2 for m in messages):
            return self.render(messages)
        shape = tuple(m["role"] for m in messages)
        skeleton = self._skeletons.get(shape)
        if skeleton is None:
            placeholders = [{"role": role, "content": slot(i)} for i, role in enumerate(shape)]
            skeleton = self._skeletons[shape] = split_skeleton(self.render(placeholders), int)
        return fill(skeleton, [m["content"] for m in messages])[0]
