"""The `plug:` config block: the only place its keys are declared and documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    # a misspelt key must fail loudly, not be dropped
    model_config = ConfigDict(extra="forbid")


class PlugFields(_Strict):
    """Column names of a PLUG row."""

    instruction: str = Field(default="instruction", description="Instruction in the target language.")
    response: str = Field(
        default="response",
        description="Response in the target language; with plug.prebuilt, the whole PLUG answer.",
    )
    pivot_instruction: str = Field(
        default="pivot_instruction", description="The same instruction in the pivot language."
    )
    pivot_response: str = Field(default="pivot_response", description="The same response in the pivot language.")
    system: str = Field(
        default="system",
        description="Optional per-row system prompt; when present and non-empty it replaces "
        "plug.system_prompt for that row.",
    )
    lang: str = Field(
        default="lang",
        description="Optional per-row target language code; overrides plug.target_language, "
        "so one dataset can mix languages.",
    )
    messages: str = Field(
        default="messages",
        description="A conversation row: a list of {role, content} messages (an optional system message, then "
        "user and assistant messages in turn, ending with an assistant message). A row with this column set "
        "is read as a conversation; one dataset may mix conversation and single-turn rows.",
    )
    pivot: str = Field(
        default="pivot",
        description="In a conversation row, the key of a message's pivot-language version. The trained "
        "assistant turn needs one, and so does the user message before it when include_pivot_instruction is on.",
    )


class LanguageHeaders(_Strict):
    """Header overrides for one language (any field left out keeps the table's value)."""

    instruction: str | None = Field(
        default=None, description="Header before the instruction restated in this language."
    )
    response: str | None = Field(default=None, description="Header before the answer in this language.")
    name: str | None = Field(
        default=None, description="English name used in system prompts (needed for codes outside the table)."
    )


class PlugEvalConfig(_Strict):
    """The evaluation callback: generate at each evaluation and score the PLUG format."""

    instructions: str | None = Field(
        default=None,
        description="Prompts: a local JSON/JSONL file or a hub dataset id (fields id, "
        "instruction, optional reference and lang). Unset: the first num_samples rows of "
        "the eval split, prompt rebuilt up to the assistant turn.",
    )
    split: str | None = Field(
        default=None, description="Split (or file stem, e.g. `chinese` of X-AlpacaEval) of a hub dataset."
    )
    num_samples: int = Field(default=8, ge=1, description="Prompts generated at each evaluation.")
    max_new_tokens: int = Field(
        default=80,
        ge=1,
        description="Greedy generation length limit. The default suits quick checks of short "
        "answers; on real runs set it just above a full answer in both languages.",
    )
    batch_size: int = Field(default=8, ge=1, description="Prompts per generate call (left-padded).")


class PlugConfig(_Strict):
    """PLUG training settings (the `plug:` block of an axolotl config)."""

    target_language: str | None = Field(
        default=None,
        description="ISO 639-1 code of the language the model must answer in. Rows may "
        "override it with their `lang` column; one of the two is required.",
    )
    pivot_language: str = Field(
        default="en", description="ISO 639-1 code of the pivot language (any language of the table)."
    )
    mode: Literal["plug", "monolingual"] = Field(
        default="plug",
        description="`plug`: restate, answer in the pivot, then in the target language. "
        "`monolingual`: the paper's baseline, target response only with the monolingual "
        "system prompt, from the same rows.",
    )
    include_pivot_instruction: bool = Field(
        default=True, description="Start the answer with the instruction restated in the pivot language."
    )
    train_on_pivot: bool = Field(
        default=True,
        description="Train on the pivot instruction and pivot response. false masks them "
        "(the ablation): only the target section and end of turn are trained.",
    )
    order: Literal["pivot_first", "target_first"] = Field(
        default="pivot_first",
        description="`pivot_first` (the method) or `target_first` (the paper's ablation).",
    )
    pivot_channel: Literal["content", "reasoning"] = Field(
        default="content",
        description="Where the pivot sections go. `content`: in the answer, before the target section, each "
        "behind its text header (the paper). `reasoning`: in the assistant message's thinking channel "
        "(`reasoning_content`, or gpt-oss's `thinking`), rendered by the chat template between its own thinking "
        "markers; the answer is the target response alone, with no header. Needs a chat template that renders "
        "the thinking of the final assistant message as its generation prompt leads into it (Qwen3's, Qwen3.5's, "
        "gpt-oss's, GLM-4.6's own); "
        "`order: pivot_first` only.",
    )
    thinking_markers: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="With pivot_channel: reasoning, the [opening, closing] markers the chat template writes "
        "around the thinking, as the model writes them (e.g. ['<think>', '</think>']): the answer is what "
        "follows the closing one. Training finds them by rendering the template and records them in plug.json; "
        "set them only to read answers of a model trained before, or with another template. Unset: "
        "['<think>', '</think>'].",
    )
    system_prompt: str = Field(
        default="default",
        description="`default`: the language-aware PLUG (or monolingual) prompt; `none`: no "
        "system turn; any other string is used as is after filling {pivot} and {target} "
        "with the languages' English names.",
    )
    headers: dict[str, LanguageHeaders] = Field(
        default_factory=dict,
        description="Per-language header overrides, e.g. {zh: {response: '答：'}}.",
    )
    answer_template: str | None = Field(
        default=None,
        description="Jinja file laying out the assistant answer (a path, or the name of a "
        "file in prompt_templates/). Default: the shipped plug_response.jinja. (Formerly "
        "`response_template`, a name that now means the tokenizer's parsing metadata.)",
    )
    chat_template: str | None = Field(
        default=None,
        description="Conversation template to train and save with the model: a shipped name "
        "(`plug_tulu`, the paper's format) or a path to a .jinja file. Leave unset to use "
        "the config's own chat_template / the tokenizer's.",
    )
    turns: Literal["last", "all"] = Field(
        default="last",
        description="Which assistant turns of a conversation row are trained. `last`: the final one. `all`: each "
        "of them, in a row of its own that ends at that turn (a conversation of k assistant turns gives k rows). "
        "Earlier turns are history: their target-language content only, untrained, as a client sends them back.",
    )
    prebuilt: bool = Field(
        default=False,
        description="Rows are pre-built, as in the paper's released data: `response` already "
        "holds the whole PLUG answer (pivot sections, then the target section, with their "
        "headers), so only `instruction`, `response` and optionally `system` and `lang` are "
        "read. Sections are found with extract's header rules; a response without a target "
        "header or with sections out of `order` is a bad row. Not with `mode: monolingual`.",
    )
    strip_fields: bool = Field(
        default=True,
        description="Strip leading and trailing whitespace from every text field (system, "
        "instruction, responses), as the paper's encoder strips system, instruction and "
        "response: `chat_template: plug_tulu` then gives its tokens exactly.",
    )
    on_bad_row: Literal["error", "skip"] = Field(
        default="error",
        description="`error`: stop with a message naming dataset, row and field. `skip`: "
        "drop such rows, count them and log the counts.",
    )
    fields: PlugFields = Field(default_factory=PlugFields, description="Column names of the rows.")
    eval: PlugEvalConfig | None = Field(
        default=None, description="Attach the PLUG evaluation callback (see PlugEvalConfig)."
    )
    write_response_template: bool = Field(
        default=True,
        description="At the end of training, write the tokenizer's `response_template` into the saved "
        "tokenizer_config.json, so that vLLM, SGLang and `transformers serve` return the target answer as "
        "content and the pivot sections as reasoning. It replaces a base model's own.",
    )

    def header_overrides(self) -> dict[str, dict[str, str | None]]:
        """`headers` as plain dicts, the form languages.get_language and extract take."""
        return {code: h.model_dump() for code, h in self.headers.items()} if self.headers else {}

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data):
        if isinstance(data, dict) and "response_template" in data:
            raise ValueError(
                "plug.response_template is now plug.answer_template (the Jinja layout of the answer); "
                "rename the key. `response_template` is the name transformers and the serving engines "
                "give the tokenizer's parsing metadata."
            )
        return data

    @model_validator(mode="after")
    def _prebuilt_needs_plug_mode(self):
        if self.prebuilt and self.mode == "monolingual":
            raise ValueError(
                "plug.prebuilt with mode: monolingual: a pre-built response holds the whole PLUG "
                "answer, and its target section alone cannot be cut out reliably enough to train "
                "a baseline on. Train the baseline from separate columns (instruction, response "
                "in the target language) instead."
            )
        return self

    @model_validator(mode="after")
    def _reasoning_channel_needs_pivot_first(self):
        if self.pivot_channel == "reasoning" and self.order == "target_first":
            raise ValueError(
                "plug.pivot_channel: reasoning with order: target_first: a model thinks before it answers, so the "
                "pivot sections in the thinking channel always come before the target answer. Use order: "
                "pivot_first, or pivot_channel: content for the target-first ablation."
            )
        if self.pivot_channel == "reasoning" and self.mode == "monolingual":
            raise ValueError(
                "plug.pivot_channel: reasoning with mode: monolingual: a monolingual answer has no pivot sections "
                "to put in the thinking channel; leave pivot_channel unset for the baseline."
            )
        return self

    @field_validator("target_language", "pivot_language")
    @classmethod
    def _lowercase_code(cls, code: str | None) -> str | None:
        return code.strip().lower() if code else code


class PlugArgs(BaseModel):
    """Mixed into axolotl's config class by PlugPlugin.get_input_args."""

    plug: PlugConfig | None = Field(default=None, description="PLUG settings; see PlugConfig.")


def _type_name(annotation) -> str:
    """A field's type as a reader of the docs writes it."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        named = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(named) + (" \\| null" if type(None) in args else "")
    if origin is dict:
        return f"mapping of language code to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field) -> str:
    from pydantic_core import PydanticUndefined

    if field.default_factory is not None:
        value = field.default_factory()
        return "{}" if value == {} else "(below)"
    if field.default is PydanticUndefined:
        return "(required)"
    return (
        "unset"
        if field.default is None
        else f"`{str(field.default).lower() if isinstance(field.default, bool) else field.default}`"
    )


def reference_markdown() -> str:
    """docs/config.md: every key of the `plug:` block, from the fields above (`make docs`)."""
    sections = [
        (PlugConfig, "plug"),
        (PlugFields, "plug.fields"),
        (LanguageHeaders, "plug.headers.<code>"),
        (PlugEvalConfig, "plug.eval"),
    ]
    lines = [
        "# The `plug:` keys",
        "",
        "Generated from `axolotl_plug/args.py` by `make docs`; a test fails when this file is stale.",
        "A misspelt key is an error, not ignored.",
    ]
    for model, prefix in sections:
        lines += [
            "",
            f"## {model.__name__}",
            "",
            f"`{prefix}`: {model.__doc__.strip()}",
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            description = " ".join((field.description or "").split()).replace("|", "\\|")
            lines.append(f"| `{prefix}.{name}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
    return "\n".join(lines) + "\n"
