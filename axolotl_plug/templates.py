"""Shipped and user jinja templates: finding them and rendering answer layouts safely."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .paste import MARKER_CHARS, fill, prints_bare, slot, split_skeleton

DEFAULT_RESPONSE_TEMPLATE = "plug_response"

# The markers wrap every variable while a layout renders, so the trained character
# spans are known exactly without re-searching.
_OPEN, _SEP, _CLOSE = MARKER_CHARS


def has_marker(text: str) -> bool:
    return not text.isascii() and any(mark in text for mark in MARKER_CHARS)


def template_dir() -> Path:
    """Folder of the shipped templates: inside the wheel, or the repo's top level."""
    packaged = Path(__file__).parent / "prompt_templates"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "prompt_templates"


def shipped_templates() -> list[str]:
    return sorted(p.stem for p in template_dir().glob("*.jinja"))


def resolve_template(ref: str, config_dir: str | Path | None = None) -> Path:
    """Turn a template reference into a file: a shipped name, or a path.

    Relative paths are tried against the working directory, then the config's folder.
    """
    shipped = template_dir() / f"{ref}.jinja"
    if "/" not in ref and shipped.is_file():
        return shipped
    candidates = [Path(ref).expanduser()]
    if config_dir is not None and not Path(ref).is_absolute():
        candidates.append(Path(config_dir) / ref)
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"template {ref!r} not found: give a path to a .jinja file or one of the shipped "
        f"names {', '.join(shipped_templates())}"
    )


@lru_cache(maxsize=32)
def _compile(source: str):
    # keep_trailing_newline: a layout's final newline is part of the answer if written
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


@lru_cache(maxsize=32)
def read_template(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def render_marked(source: str, values: dict[str, str], extra: dict) -> tuple[str, dict[str, tuple[int, int]]]:
    """Render a layout template; return the text and each variable's character span.

    `values` are the text variables whose spans we need (headers, instructions,
    responses); `extra` are plain variables (languages, order, flags). A value used
    twice keeps its first span. Raises ValueError on template errors.

    A layout that only prints its text variables (`{{ name }}`, alone or joined with
    `+`/`~`) is rendered once per `extra` into a skeleton of literal text and slots, and
    each row is pasted into it: the same text as a full render, without running jinja
    for every row.
    """
    skeleton = _skeleton(source, tuple(values), tuple(extra.items()))
    if skeleton is None:
        return _render_marked(source, values, extra)
    return fill(skeleton, values)


@lru_cache(maxsize=256)
def _skeleton(source: str, names: tuple[str, ...], extra: tuple[tuple[str, object], ...]):
    """The layout under `extra` as literals and slots, or None when it is not a paste."""
    template = _compile(source)
    if not prints_bare(template.environment, source, names):
        return None
    try:
        return split_skeleton(template.render(**dict(extra), **{name: slot(name) for name in names}))
    except TemplateError as exc:
        raise ValueError(f"response template failed to render: {exc}") from exc


def _render_marked(source: str, values: dict[str, str], extra: dict) -> tuple[str, dict[str, tuple[int, int]]]:
    """render_marked by a full render with every value wrapped in markers."""
    marked = {name: f"{_OPEN}{name}{_SEP}{text}{_CLOSE}" for name, text in values.items()}
    try:
        raw = _compile(source).render(**extra, **marked)
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
