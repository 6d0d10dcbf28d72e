"""Offline language identification, restricted to the languages in play.

py3langid (BSD-3) ships its model inside the wheel, runs in microseconds per sentence on
CPU with numpy only, and can restrict its decision to a set of languages — which is what
we need: the question is never "which of 140 languages is this?" but "is this Korean or
English?". Its 142 languages cover the whole table in languages.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# sentences and lines: the units whose language we judge inside one answer
_SEGMENTS = re.compile(r"[^\n.!?。！？]+[.!?。！？]*")


@lru_cache(maxsize=32)
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    known = set(identifier.nb_classes)
    identifier.set_languages([code for code in languages if code in known])
    return identifier


def identify(text: str, languages: Iterable[str]) -> str | None:
    """The most likely of `languages` for `text`; None for text with no letters."""
    if not any(ch.isalpha() for ch in text):
        return None
    return _identifier(tuple(sorted(set(languages)))).classify(text)[0]


def identify_target(text: str, config) -> str | None:
    """The language a model trained on rows of several languages (a `PlugConfig` without
    `target_language`) should answer `text` in: the most likely of the languages it has
    headers for (the table's and those `plug.headers` adds), the pivot excluded; None for
    text with no letters. `plug serve` and `plug chat` ask this per request."""
    from axolotl_plug.format.languages import LANGUAGES

    return identify(text, (set(LANGUAGES) | set(config.header_overrides())) - {config.pivot_language})


def share_in_language(text: str, language: str, languages: Iterable[str]) -> float:
    """Share of `text`'s letters in segments (sentences, lines) identified as `language`."""
    languages = tuple(sorted(set(languages)))
    total = hit = 0
    for segment in _SEGMENTS.findall(text):
        letters = sum(ch.isalpha() for ch in segment)
        if not letters:
            continue
        total += letters
        if identify(segment, languages) == language:
            hit += letters
    return hit / total if total else 0.0


# a text is in a language when at least this share of its letters is
LANG_SHARE = 0.5


def wrong_language(text: str, language: str, languages: Iterable[str]) -> str | None:
    """Why `text` is not in `language` (choosing among `languages`), or None when it is:
    at least LANG_SHARE of its letters sit in segments identified as `language`. Text
    without letters (numbers, symbols) says nothing and passes. `data build` and `data
    translate` check fields with this."""
    if not any(ch.isalpha() for ch in text):
        return None
    share = share_in_language(text, language, languages)
    return f"not in {language} ({share:.0%} of its letters are)" if share < LANG_SHARE else None
