"""The thinking channel of a chat template (`plug.pivot_channel: reasoning`): which message
key it renders the final answer's thinking from, and the markers it writes around it.

Found by rendering one probe conversation, so a template that cannot carry the pivot
sections is refused before any row is tokenized, with the reason, and the markers that
training writes are the ones extraction and serving look for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# the message keys chat templates read an assistant's thinking from: most templates (and
# axolotl's `field_thinking` default), then gpt-oss's
THINKING_KEYS = ("reasoning_content", "thinking")
WORKING_TEMPLATES = "Qwen3's, Qwen3.5's, gpt-oss's or GLM-4.6's own"
_THINKING, _ANSWER = "\u2063PLUG-THINKING\u2063", "\u2063PLUG-ANSWER\u2063"  # text no template writes itself
_ONE_TAG = re.compile(r"<[^<>\s]+>")


class ThinkingTemplateError(ValueError):
    """A chat template that cannot carry the pivot sections in its thinking channel."""


@dataclass(frozen=True)
class ThinkingChannel:
    """How a chat template renders a final assistant message's thinking.

    `key` is the message key it reads; `opening` is what it writes between the
    generation prompt and the thinking (empty when the generation prompt itself opens
    the thinking, as Qwen3.5's does), `closing` what it writes between the thinking and
    the answer, both as rendered."""

    key: str
    opening: str
    closing: str
    prompt_opening: str = ""  # the part of the generation prompt that opens the thinking, if any

    @property
    def markers(self) -> tuple[str, str]:
        """(opening, closing) as a model writes them, stripped: what extraction looks for."""
        return (self.opening.strip() or self.prompt_opening.strip(), self.closing.strip())

    def single_token_problems(self, tokenizer) -> list[str]:
        """The markers that are one tag (`<think>`) but not one token of `tokenizer`, each
        with its token count: vLLM's `qwen3` and `deepseek_r1` reasoning parsers refuse such
        a tokenizer. Markers made of several tags (gpt-oss's) are read by other parsers."""
        problems = []
        for marker in dict.fromkeys(self.markers):
            if _ONE_TAG.fullmatch(marker):
                count = len(tokenizer.encode(marker, add_special_tokens=False))
                if count != 1:
                    problems.append(f"{marker!r} is {count} tokens")
        return problems


def probe(render, template_name: str) -> ThinkingChannel:
    """The thinking channel of the template `render` renders with (`render(messages,
    add_generation_prompt=...)` -> text). Raises ThinkingTemplateError naming the template
    when no thinking key is rendered for a final assistant message, or when the render of
    a conversation does not start with its generation prompt."""
    user = [{"role": "user", "content": "Hello."}]
    prompt = render(user, add_generation_prompt=True)
    for key in THINKING_KEYS:
        full = render([*user, {"role": "assistant", key: _THINKING, "content": _ANSWER}], add_generation_prompt=False)
        if _THINKING not in full:
            continue
        if not full.startswith(prompt):
            common = len(os.path.commonprefix([prompt, full]))
            raise ThinkingTemplateError(
                f"chat template {template_name}: its generation prompt ends {prompt[common:]!r} where a conversation "
                f"with its final answer goes on {full[common : common + 12]!r}, so the model "
                "would be trained to write what it is not prompted with when served. plug.pivot_channel: reasoning "
                f"works with {WORKING_TEMPLATES}."
            )
        thinking_at, answer_at = full.index(_THINKING), full.find(_ANSWER)
        if answer_at < 0:
            raise ThinkingTemplateError(
                f"chat template {template_name} drops the answer of a final assistant message that has a thinking "
                f"({key!r}). plug.pivot_channel: reasoning works with {WORKING_TEMPLATES}."
            )
        if answer_at < thinking_at:
            raise ThinkingTemplateError(
                f"chat template {template_name} writes the answer before the thinking ({key!r}); the pivot sections "
                f"must come first. plug.pivot_channel: reasoning works with {WORKING_TEMPLATES}."
            )
        opening = full[len(prompt) : thinking_at]
        closing = full[thinking_at + len(_THINKING) : answer_at]
        if not closing.strip():
            raise ThinkingTemplateError(
                f"chat template {template_name} writes no marker between the thinking and the answer, so "
                f"nothing tells them apart. plug.pivot_channel: reasoning works with {WORKING_TEMPLATES}."
            )
        prompt_opening = "" if opening.strip() else _prompt_opening(prompt)
        return ThinkingChannel(key, opening, closing, prompt_opening)
    raise ThinkingTemplateError(
        f"chat template {template_name} does not render the thinking of a final assistant message (as "
        f"{' or '.join(THINKING_KEYS)}): it drops it, or reads it from the content. plug.pivot_channel: "
        f"reasoning needs a template that renders it: {WORKING_TEMPLATES}. With this template, use "
        "pivot_channel: content."
    )


def _prompt_opening(prompt: str) -> str:
    """The thinking opener a generation prompt ends with (Qwen3.5's `<think>\\n`), or ''."""
    match = re.search(r"<[^<>\s/]+>\s*$", prompt)
    return match.group(0) if match and "think" in match.group(0).lower() else ""


def renamed(message: dict, key: str) -> dict:
    """An assistant message with its thinking under `key` (layout writes `reasoning_content`)."""
    if key == THINKING_KEYS[0] or THINKING_KEYS[0] not in message:
        return message
    message = dict(message)
    message[key] = message.pop(THINKING_KEYS[0])
    return message
