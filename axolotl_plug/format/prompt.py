"""The prompt a PLUG model answers: the system turn and the user turn, built here for
training, evaluation, serving and preference rows alike, so they can never drift apart.
Pure ([training.md](../../docs/training.md#system-prompt-bad-rows-cache))."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from axolotl_plug.format.answer import AnswerFormat

if TYPE_CHECKING:
    from axolotl_plug.args import PlugConfig


def system_prompt(config: PlugConfig, answer: AnswerFormat) -> str | None:
    """The system turn for answers in `answer`'s languages, or None when
    `plug.system_prompt` is `none`."""
    target, pivot = answer.target, answer.pivot
    if config.system_prompt == "none":
        return None
    if config.system_prompt != "default":
        return config.system_prompt.replace("{pivot}", pivot.name).replace("{target}", target.name)
    if config.mode == "monolingual":
        return f"Please respond to the following user message in {target.name}."
    if config.pivot_channel == "reasoning":
        restate = f"interpret the instruction in {pivot.name} and " if config.include_pivot_instruction else ""
        return f"Think in {pivot.name}: {restate}respond in {pivot.name}. Then give your answer in {target.name}."
    first, second = (pivot, target) if config.order == "pivot_first" else (target, pivot)
    if config.include_pivot_instruction:
        return (
            f"Please interpret the instruction in {pivot.name}, and then respond both "
            f"in {first.name} and in {second.name}."
        )
    return f"Please respond to the following user message both in {first.name} and in {second.name}."


def opening(instruction: str, system: str | None) -> list[dict[str, str]]:
    """The system turn (when there is one) and the user turn."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": instruction})
    return messages


def prompt_messages(
    instruction: str,
    lang: str,
    config: PlugConfig,
    system: str | None = None,
    history: Sequence[tuple[str, str]] = (),
) -> list[dict[str, str]]:
    """Messages up to and including the user turn: the prompt a model answers at test time.
    `history`: a conversation's earlier (user, assistant) turns, each answer as its
    target-language text, as training's conversation rows show them."""
    if config.strip_fields:
        instruction, system = instruction.strip(), system.strip() if system else system
        history = [(user.strip(), answer.strip()) for user, answer in history]
    messages = opening(instruction, system or system_prompt(config, AnswerFormat.from_config(config, lang)))
    earlier = [{"role": role, "content": text} for turn in history for role, text in zip(("user", "assistant"), turn)]
    return messages[:-1] + earlier + messages[-1:]
