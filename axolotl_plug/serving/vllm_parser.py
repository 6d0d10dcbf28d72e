"""A vLLM reasoning parser for PLUG models (`--reasoning-parser-plugin`, `--reasoning-parser
plug`), for vLLM versions that cannot read the model folder's response_template.

It is the streaming splitter behind vLLM's reasoning-parser API: one per request and
choice, fed every delta, asked at the end for what it still holds back. The reasoning
phase never ends for vLLM, so guided decoding does not combine with it
([serving.md](../../docs/serving.md#vllms-own-reasoning-parser)).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from vllm.entrypoints.generate.base.protocol import DeltaMessage
from vllm.reasoning import ReasoningParser, ReasoningParserManager

from axolotl_plug.format.answer import AnswerFormat
from axolotl_plug.serving.settings import read_settings

MODEL_DIR_ENV = "AXOLOTL_PLUG_MODEL_DIR"
LANGUAGE_KWARG = "plug_target_language"


@lru_cache(maxsize=8)
def _settings(folder: str):
    return read_settings(folder)[0]


def _model_folder(tokenizer, model_config) -> str:
    if os.environ.get(MODEL_DIR_ENV):
        return os.environ[MODEL_DIR_ENV]
    for candidate in (
        getattr(model_config, "tokenizer", None),
        getattr(model_config, "model", None),
        getattr(tokenizer, "name_or_path", None),
    ):
        if candidate and Path(candidate, "plug.json").is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"no plug.json next to the served model: serve the folder training wrote, or set {MODEL_DIR_ENV} to it"
    )


@ReasoningParserManager.register_module("plug")
class PlugReasoningParser(ReasoningParser):
    """Pivot sections -> reasoning, target answer -> content (see the module docstring)."""

    def __init__(self, tokenizer, *args, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        self.config = _settings(_model_folder(tokenizer, kwargs.get("model_config")))
        requested = (kwargs.get("chat_template_kwargs") or {}).get(LANGUAGE_KWARG)
        self.target_language = requested or self.config.target_language
        if self.target_language is None and "chat_template_kwargs" in kwargs:  # a request, not vLLM's start-up check
            raise ValueError(
                f"this model was trained with per-row languages: send "
                f'"chat_template_kwargs": {{"{LANGUAGE_KWARG}": "<code>"}}'
            )
        self.format = AnswerFormat.from_config(self.config, self.target_language or "en")
        self.splitter = self.format.splitter()

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        return False  # a later section can still be pivot text: the splitter decides to the end

    def is_reasoning_end_streaming(self, input_ids: Sequence[int], delta_ids) -> bool:
        return False

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        return input_ids

    def extract_reasoning(self, model_output: str, request) -> tuple[str | None, str | None]:
        splitter = self.format.splitter()
        splitter.feed(model_output)
        splitter.close()
        return splitter.pivot or None, splitter.target or None

    def extract_reasoning_streaming(
        self, previous_text, current_text, delta_text, previous_token_ids, current_token_ids, delta_token_ids
    ) -> DeltaMessage | None:
        got = self.splitter.feed(delta_text)
        if not got.pivot and not got.target:
            return None
        return DeltaMessage(reasoning=got.pivot or None, content=got.target or None)

    def get_streaming_fallback_content(self, text: str, request) -> str | None:
        """The end of the stream: the target text held back until now (a tail that could
        still have become a header). Pivot text held back then is dropped."""
        return self.splitter.close().target or None
