"""The preference dataset type (`type: plug` under `rl: dpo`, `ipo` or `simpo`): a row's
prompt and its two answers, rendered exactly as PLUG SFT renders the same row: `prompt`
is the text SFT keeps untrained before the answer, `chosen` and `rejected` the SFT
rendering from there on. axolotl's DPO loader resolves only `module.function` of a
top-level module, hence `axolotl_plug.preference`, which is `loader` below
([preference.md](../../docs/preference.md#rows)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from axolotl_plug.args import PlugConfig
from axolotl_plug.config import plug_config
from axolotl_plug.dataset.layout import REASONING_KEY, RowError, build_conversation, build_conversations
from axolotl_plug.dataset.render import ChatRenderer
from axolotl_plug.dataset.thinking import probe, renamed
from axolotl_plug.format.answer import AnswerFormat

ANSWERS = ("chosen", "rejected")


def answer_row(row: Mapping[str, Any], answer, which: str, config: PlugConfig) -> tuple[dict, PlugConfig]:
    """The SFT row (and settings) that renders `row` with one of its answers."""
    fields = config.fields
    sft = {name: row.get(name) for name in (fields.instruction, fields.system, fields.lang)}
    if isinstance(answer, str):
        lang = (row.get(fields.lang) or config.target_language or "").strip().lower()
        if config.pivot_channel == "reasoning" and lang:
            # a reasoning model's answer: the thinking, its closing marker, the target answer. Read as a
            # pre-built answer whose target section follows the thinking
            answer_format = AnswerFormat.from_config(config, lang)
            thinking, target = answer_format.split_thinking(answer)
            if not target:
                raise RowError(which, f"no target answer (expected one after {answer_format.thinking[1]!r})")
            answer = f"{thinking}\n\n{answer_format.target.response_header}\n{target}"
        if config.mode == "monolingual":  # the target section only
            if not lang:
                raise RowError(
                    fields.lang, "no target language: set plug.target_language or give rows a language column"
                )
            # the target section of the PLUG answer (the monolingual format would take all of it)
            answer_format = replace(AnswerFormat.from_config(config, lang), mode="plug")
            got = answer_format.extract(answer)
            if not got.has_target:
                raise RowError(which, f"no target answer (expected {answer_format.target.response_header!r})")
            target = got.target
            return {**sft, fields.response: target}, config
        # a whole PLUG answer, read as pre-built rows are (model_copy: `prebuilt` goes with plug mode)
        return {**sft, fields.response: answer}, config.model_copy(update={"prebuilt": True})
    if isinstance(answer, Mapping):
        parts = {
            fields.response: answer.get("response"),
            fields.pivot_response: answer.get("pivot_response"),
            fields.pivot_instruction: answer.get("pivot_instruction"),
        }
        return {**sft, **parts}, config
    kind = "missing" if answer is None else f"expected a PLUG answer or an object, got {type(answer).__name__}"
    raise RowError(which, kind)


def conversation_answer_row(row: Mapping[str, Any], sft: dict, which: str, config: PlugConfig) -> dict:
    """The conversation row that renders a preference row's conversation (`messages`,
    ending with the user's message) with one of its answers as the last assistant turn:
    a whole PLUG answer as the turn's content (pre-built), or an object's response with
    its `pivot_response` as the turn's pivot (its `pivot_instruction`, if any, the user
    message's)."""
    fields = config.fields
    messages = row[fields.messages]
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        raise RowError(fields.messages, f"expected a list of messages, got {type(messages).__name__} {messages!r:.60}")
    if messages[-1].get("role") != "user":
        raise RowError(
            fields.messages, "the conversation must end with the user's message: its answers are chosen and rejected"
        )
    history, last = list(messages[:-1]), dict(messages[-1])
    if config.prebuilt or config.mode == "monolingual":
        answer = {"role": "assistant", "content": sft[fields.response]}
    else:
        answer = {"role": "assistant", "content": sft[fields.response], fields.pivot: sft[fields.pivot_response]}
        if sft.get(fields.pivot_instruction) is not None:
            last[fields.pivot] = sft[fields.pivot_instruction]
    return {**{k: v for k, v in sft.items() if k != fields.instruction}, fields.messages: [*history, last, answer]}


def preference_texts(
    row: Mapping[str, Any],
    config: PlugConfig,
    renderer: ChatRenderer,
    names: tuple[str, str] = ANSWERS,
    thinking_key: str = REASONING_KEY,
) -> dict[str, str]:
    """{prompt, chosen, rejected} of one row. Raises RowError naming the bad field.
    `thinking_key`: the message key the chat template reads the thinking from, in the
    reasoning channel."""
    out: dict[str, str] = {}
    fields = config.fields
    for which, name in zip(ANSWERS, names):
        sft, settings = answer_row(row, row.get(name), name, config)
        try:
            if row.get(fields.messages) is None:
                conversation = build_conversation(sft, settings)
            else:  # a conversation: the answer is its last turn, after the history
                sft = conversation_answer_row(row, sft, name, settings)
                conversation = build_conversations(sft, settings.model_copy(update={"turns": "last"}))[-1]
        except RowError as exc:
            kept = (fields.instruction, fields.system, fields.lang)
            answer_at = f"message {len(row[fields.messages])}" if row.get(fields.messages) is not None else None
            if exc.field in kept or (exc.field == fields.messages and not (answer_at and answer_at in exc.where)):
                raise
            raise RowError(name, exc.problem) from None
        conversation.messages[-1] = renamed(conversation.messages[-1], thinking_key)
        full = renderer(conversation.messages)
        prompt = renderer.render(conversation.messages[:-1], add_generation_prompt=True)
        if not full.startswith(prompt):
            raise RowError(
                name,
                "the chat template renders the conversation differently from its prompt; "
                "use a template whose prompt is the conversation's beginning",
            )
        if out.setdefault("prompt", prompt) != prompt:
            raise RowError(name, "the two answers give different prompts")
        out[which] = full[len(prompt) :].rstrip()
    return out


def last_user_message(row: Mapping[str, Any], config: PlugConfig) -> str | None:
    """The text of a conversation row's last user message, to name the row by."""
    messages = row.get(config.fields.messages)
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return message.get("content")
    return None


def loader(cfg, dataset_idx: int = 0, **kwargs):
    """What axolotl's DPO loader calls for `type: plug`: the batched transform (a batch
    may come out shorter: skipped bad rows), and the map arguments (drop the row's own
    columns; axolotl 0.21 hands the transform the batch alone, without row indices)."""
    from axolotl_plug.dataset.host import chat_template_of
    from axolotl_plug.dataset.strategy import dataset_name, template_name

    config = plug_config(cfg)
    ds_cfg = dict((cfg.get("datasets") or [])[dataset_idx] or {})
    names = (ds_cfg.get("field_chosen") or "chosen", ds_cfg.get("field_rejected") or "rejected")
    name = dataset_name(ds_cfg)
    renderers: dict[int, ChatRenderer] = {}

    def transform(batch: dict[str, list], tokenizer=None) -> dict[str, list]:
        renderer = renderers.get(id(tokenizer))
        if renderer is None:
            renderer = renderers[id(tokenizer)] = ChatRenderer(tokenizer, chat_template_of(cfg, ds_cfg, tokenizer))
            # the same probe as SFT: a template without a thinking channel is refused before any row
            renderer.thinking_key = (
                probe(renderer.render, template_name(cfg, ds_cfg)).key
                if config.pivot_channel == "reasoning"
                else REASONING_KEY
            )
        build = lambda row: preference_texts(row, config, renderer, names, renderer.thinking_key)  # noqa: E731
        return map_rows(batch, ("prompt", "chosen", "rejected"), build, config, name)

    return transform, {"batched": True, "remove_columns": "__all__"}


def map_rows(batch: dict[str, list], keys: tuple[str, ...], build, config: PlugConfig, name: str) -> dict[str, list]:
    """The columns `keys` of `build(row)` for each row of a batch that axolotl's RL loader
    maps (DPO and GRPO types). A bad row (RowError) stops the run naming it, or is dropped
    and counted in a warning, as `plug.on_bad_row` says; the batch may come out shorter."""
    from axolotl_plug.dataset.host import get_logger
    from axolotl_plug.dataset.strategy import PlugDataError

    out: dict[str, list] = {key: [] for key in keys}
    skipped: Counter = Counter()
    for position in range(len(next(iter(batch.values()), []))):
        row = {key: values[position] for key, values in batch.items()}
        try:
            values = build(row)
        except RowError as exc:
            if config.on_bad_row == "error":
                # axolotl maps these rows without their index: a row is named by its instruction
                which = str(row.get(config.fields.instruction) or last_user_message(row, config))[:60]
                raise PlugDataError(
                    f"PLUG dataset {name}: the row with instruction {which!r}: {exc} "
                    "(`plug.on_bad_row: skip` drops such rows and counts them)"
                ) from None
            skipped[exc.reason] += 1
            continue
        for key in keys:
            out[key].append(values[key])
    if skipped:
        kept = len(out[keys[0]])
        get_logger(__name__).warning(
            f"PLUG dataset {name}: skipped {sum(skipped.values())} of {kept + sum(skipped.values())} "
            "rows in a batch: " + ", ".join(f"{n} {reason}" for reason, n in skipped.most_common())
        )
    return out
