"""The PLUG dataset type: `type: plug` (the plugin rewrites it to this module's path).

axolotl imports this module and calls `load(tokenizer, cfg, ds_cfg)`. The strategy only
wires the steps of the data path together, one batch of rows at a time:

    row --layout--> Conversation --render--> text --offsets--> ids --labels--> labels

It tokenizes the whole dataset itself, so bad rows are reported with their row index
from the main process instead of crashing a map worker.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from datasets import Dataset
from pydantic import BaseModel

from axolotl_plug.args import PlugConfig
from axolotl_plug.config import plug_config
from axolotl_plug.dataset.host import DatasetWrappingStrategy, StockStrategy, get_logger
from axolotl_plug.dataset.labels import answer_offset, content_parts, fast_path_refusal, first_trained, label_tokens
from axolotl_plug.dataset.layout import Conversation, RowError, build_conversations, check_layout, layout_source
from axolotl_plug.dataset.offsets import RowEncoder
from axolotl_plug.dataset.render import ChatRenderer
from axolotl_plug.dataset.thinking import THINKING_KEYS, ThinkingTemplateError, probe, renamed

LOG = get_logger(__name__)

PLUGIN_NAME = "axolotl_plug.PlugPlugin"
_ERROR, _REASON, _ROW, _TURN, _LANG = "plug_error", "plug_reason", "plug_row", "plug_turn", "plug_lang"


class PlugDataError(ValueError):
    """Bad rows under `on_bad_row: error`; the message names dataset, rows and fields."""


@dataclass
class DatasetReport:
    """What happened to one dataset, for `axolotl plug audit`. A conversation row with
    `plug.turns: all` gives a training row per assistant turn: `rows_out` counts those."""

    name: str
    config: PlugConfig
    rows_in: int
    rows_out: int = 0
    dropped: Counter = field(default_factory=Counter)  # bad rows (or turns) by reason
    dataset: Dataset | None = None  # input_ids and labels of the kept rows
    rows: list[int] = field(default_factory=list)  # source row index of each kept row
    turns: list[int] = field(default_factory=list)  # its trained assistant turn (0: a single-turn row)
    langs: list[str] = field(default_factory=list)  # target language of each kept row


# Set only while the audit runs (`recording_reports`): training keeps nothing.
_recorded: list[DatasetReport] | None = None


@contextmanager
def recording_reports() -> Iterator[list[DatasetReport]]:
    """Collect a report of every PLUG dataset tokenized inside the block."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous


class PlugStrategy(DatasetWrappingStrategy):
    """Tokenizes PLUG rows: layout, one render, one tokenizer pass, labels."""

    def __init__(self, tokenizer, cfg, ds_cfg: dict[str, Any]):
        self.tokenizer = tokenizer
        self.config = plug_config(cfg)
        self.name = dataset_name(ds_cfg)
        self.sequence_len = cfg.sequence_len
        self.layout = layout_source(self.config)
        check_layout(self.config, self.layout)
        # axolotl's own strategy gives the chat template, the exact end-of-turn rules
        # and the labels of rows the fast path cannot label
        self.stock = StockStrategy(tokenizer, cfg, ds_cfg)
        self.render = ChatRenderer(tokenizer, self.stock.chat_template, cfg.get("chat_template_kwargs"))
        self.encode = RowEncoder(tokenizer)
        self.end_of_turn = self.stock.end_of_turn()
        self.fallback_reason = fast_path_refusal(tokenizer, self.stock.rules())
        self._fallbacks_logged: set[str] = set()
        if self.fallback_reason:
            LOG.info(f"PLUG {self.name}: using axolotl's stock chat_template path ({self.fallback_reason})")
        self.thinking = None
        if self.config.pivot_channel == "reasoning":
            self.thinking = thinking_channel(self.render, template_name(cfg, ds_cfg), tokenizer)
            # every reader of this dataset's answers (the audit) reads them at the template's own markers
            self.config = self.config.model_copy(update={"thinking_markers": list(self.thinking.markers)})
            if self.fallback_reason and self.thinking.key != THINKING_KEYS[0]:
                raise ThinkingTemplateError(
                    f"PLUG dataset {self.name}: the chat template reads the thinking from {self.thinking.key!r}, which "
                    f"axolotl's stock path does not pass on, and this config needs that path ({self.fallback_reason})"
                )

    # -- one batch of rows -------------------------------------------------------------
    def tokenize_batch(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        # A batch makes many short-lived lists and no reference cycles; the cyclic
        # collector's full passes over the whole process (torch, transformers) cost a
        # fifth of the time here, so it waits until the batch is done.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._tokenize_batch(batch, indices)
        finally:
            if enabled:
                gc.enable()

    def _tokenize_batch(self, batch: dict[str, list], indices: list[int]) -> dict[str, list]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        keys = ("input_ids", "attention_mask", "labels", _ERROR, _REASON, _ROW, _TURN, _LANG)
        out: dict[str, list] = {k: [] for k in keys}
        # one item per training row: a conversation row with `turns: all` gives one per assistant turn
        items: list[tuple[int, Conversation | RowError]] = []
        for index, row in zip(indices, rows):
            try:
                items += [(index, conversation) for conversation in build_conversations(row, self.config, self.layout)]
            except RowError as exc:
                items.append((index, exc))
        texts: list[str | None] = []
        for _, conversation in items:
            if isinstance(conversation, RowError):
                texts.append(None)
                continue
            if self.thinking is not None and conversation.reasoning is not None:
                conversation.messages[-1] = renamed(conversation.messages[-1], self.thinking.key)
            texts.append(None if self.fallback_reason else self.render(conversation.messages))
        fast = [i for i, t in enumerate(texts) if t is not None]
        encoded = dict(zip(fast, self.encode([texts[i] for i in fast])))

        for i, (index, conversation) in enumerate(items):
            ids: list[int] = []
            labels: list[int] = []
            error = conversation if isinstance(conversation, RowError) else None
            if error is None:
                ids, labels, first = self._labels(conversation, texts[i], encoded.get(i))
                if first is None or first >= self.sequence_len:
                    error = self._too_long(conversation, first if first is not None else len(ids))
            out["input_ids"].append([] if error else ids)
            out["labels"].append([] if error else labels)
            out["attention_mask"].append([] if error else [1] * len(ids))
            out[_ERROR].append(str(error) if error else "")
            out[_REASON].append(error.reason if error else "")
            out[_ROW].append(index)
            out[_TURN].append(0 if isinstance(conversation, RowError) else conversation.turn)
            out[_LANG].append("" if isinstance(conversation, RowError) else conversation.lang)
        return out

    def _too_long(self, conversation: Conversation, prompt_tokens: int) -> RowError:
        problem = f"no trainable token within sequence_len={self.sequence_len}"
        if not conversation.turn:
            return RowError(self.config.fields.instruction, f"{problem} (the prompt alone is {prompt_tokens} tokens)")
        return RowError(
            self.config.fields.messages,
            f"{problem} (the conversation up to this turn is {prompt_tokens} tokens)",
            f"assistant turn {conversation.turn}",
        )

    def _labels(self, conversation: Conversation, text, encoding) -> tuple[list[int], list[int], int | None]:
        """(input_ids, labels, index of the first trained token): from the offsets of
        the one render when the answer sits in it verbatim, else by the stock strategy."""
        if self.thinking is not None and self.thinking.key in conversation.messages[-1]:
            return self._reasoning_labels(conversation, text, encoding)
        if encoding is not None:
            start = answer_offset(text, conversation.answer)
            if start >= 0:
                ids, offsets = encoding
                spans = [(start + lo, start + hi) for lo, hi in conversation.trained]
                answer = (start, start + len(conversation.answer))
                return (ids, *label_tokens(ids, offsets, answer, spans, self.end_of_turn))
            self._log_fallback_once("the chat template does not copy the answer verbatim")
        content = content_parts(conversation.answer, conversation.trained)
        ids, labels = self.stock.tokenize(self._history(conversation) + [{"role": "assistant", "content": content}])
        return ids, labels, first_trained(labels)

    def _history(self, conversation: Conversation) -> list[dict]:
        """The messages before the trained turn, for axolotl's stock strategy: earlier
        assistant turns are history, not trained (unless train_on_inputs trains all input)."""
        if self.stock.train_on_inputs:
            return conversation.messages[:-1]
        return [{**m, "training": False} if m["role"] == "assistant" else m for m in conversation.messages[:-1]]

    def _reasoning_labels(self, conversation: Conversation, text, encoding) -> tuple[list[int], list[int], int | None]:
        """Labels of a reasoning-channel conversation: everything the model writes after
        the generation prompt (thinking markers, pivot sections, answer) and the end of
        turn, or from the end of the thinking on when the pivot is not trained."""
        messages = conversation.messages
        thinking, answer = messages[-1][self.thinking.key], conversation.answer
        if encoding is not None:
            # the probe checked that the template's generation prompt ends where its opening marker
            # (if any) starts, so the model's output starts there: no second render for the prompt
            answer_at = text.rfind(answer)
            thinking_at = text.rfind(thinking, 0, max(answer_at, 0))
            start = thinking_at - len(self.thinking.opening)
            if thinking_at >= 0 and start >= 0 and text[start:thinking_at] == self.thinking.opening:
                ids, offsets = encoding
                span = (start, answer_at + len(answer))
                trained = span if conversation.train_reasoning else (thinking_at + len(thinking), span[1])
                return (ids, *label_tokens(ids, offsets, span, [trained], self.end_of_turn))
            self._log_fallback_once("the chat template does not copy the thinking and the answer verbatim")
        message = {"role": "assistant", "content": answer, THINKING_KEYS[0]: thinking}
        if not conversation.train_reasoning:
            message["content"] = [{"text": answer, "train": True}]
            message[THINKING_KEYS[0]] = [{"text": thinking, "train": False}]
        ids, labels = self.stock.tokenize(self._history(conversation) + [message])
        return ids, labels, first_trained(labels)

    def _log_fallback_once(self, reason: str) -> None:
        if reason not in self._fallbacks_logged:
            self._fallbacks_logged.add(reason)
            LOG.info(f"PLUG {self.name}: some rows use axolotl's stock chat_template path ({reason})")

    # -- the whole dataset ---------------------------------------------------------------
    def wrap_dataset(self, dataset, process_count: int | None = None, keep_in_memory: bool | None = False, **kwargs):
        if not isinstance(dataset, Dataset):
            raise ValueError(
                f"PLUG dataset {self.name}: streaming datasets are not supported; load it as a regular dataset"
            )
        num_proc = process_count if process_count and process_count > 1 and len(dataset) >= 2 * process_count else None
        tokenized = dataset.map(
            self.tokenize_batch,
            batched=True,
            with_indices=True,
            remove_columns=dataset.column_names,
            num_proc=num_proc,
            keep_in_memory=bool(keep_in_memory),
            # datasets' own cache keys on the pickled strategy, not on this package's
            # code: after an upgrade it would serve stale labels. axolotl's prepared
            # dataset (fingerprinted by the plugin) is the cache that counts.
            load_from_cache_file=False,
            # given, so datasets does not fingerprint this method by pickling the
            # strategy: with a 150k-token tokenizer that took 10 s per dataset
            new_fingerprint=self.fingerprint(),
            desc=f"PLUG: tokenizing {self.name}",
        )
        return self._settle_bad_rows(tokenized, len(dataset))

    def fingerprint(self) -> str:
        """What the tokenized dataset depends on besides its rows, hashed: the name of
        the cache file datasets writes next to the source rows (never read back)."""
        import hashlib
        import json

        from axolotl_plug import __version__

        parts = [__version__, self.config.model_dump(mode="json"), self.name, self.sequence_len]
        parts += [self.tokenizer.name_or_path, len(self.tokenizer), self.render.chat_template]
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]

    def _settle_bad_rows(self, tokenized: Dataset, rows_in: int) -> Dataset:
        report = DatasetReport(self.name, self.config, rows_in)
        errors = tokenized[_ERROR]
        bad = [i for i, error in enumerate(errors) if error]
        if bad and self.config.on_bad_row == "error":
            rows = tokenized.select(bad[:10])
            listed = "\n".join(f"  row {row}: {error}" for row, error in zip(rows[_ROW], rows[_ERROR]))
            more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
            raise PlugDataError(
                f"PLUG dataset {self.name}: {len(bad)} of {len(tokenized)} {self._unit()} cannot be used "
                f"(rows are 0-based):\n{listed}{more}\n"
                "Fix the data, or set `plug.on_bad_row: skip` to drop such rows and count them."
            )
        if bad:
            report.dropped = Counter(tokenized.select(bad)[_REASON])
            keep = sorted(set(range(len(tokenized))) - set(bad))
            LOG.warning(
                f"PLUG dataset {self.name}: skipped {len(bad)} of {len(tokenized)} {self._unit()}: "
                + ", ".join(f"{n} {reason}" for reason, n in report.dropped.most_common())
            )
            tokenized = tokenized.select(keep)
        report.rows_out = len(tokenized)
        if len(tokenized) + len(bad) != rows_in:
            LOG.info(
                f"PLUG dataset {self.name}: {rows_in} rows gave {len(tokenized) + len(bad)} training rows, "
                f"one per trained assistant turn (plug.turns: {self.config.turns}); {len(tokenized)} kept"
            )
        if _recorded is not None:
            report.rows, report.turns, report.langs = tokenized[_ROW], tokenized[_TURN], tokenized[_LANG]
        tokenized = tokenized.remove_columns([_ERROR, _REASON, _ROW, _TURN, _LANG])
        if _recorded is not None:
            report.dataset = tokenized
            _recorded.append(report)
        return tokenized

    def _unit(self) -> str:
        """What the counts count: rows, or training rows when conversations were expanded."""
        return "rows" if self.config.turns == "last" else "training rows (conversation turns)"


def template_name(cfg, ds_cfg: dict[str, Any]) -> str:
    """The chat template a dataset trains with, as its config names it."""
    name = ds_cfg.get("chat_template") or cfg.get("chat_template")
    ours = plug_config(cfg).chat_template
    if ours:
        return repr(ours) + " (plug.chat_template)"
    if name == "jinja":
        return "chat_template_jinja"
    return f"{name!r} (chat_template)" if name and name != "tokenizer_default" else "the tokenizer's own"


def thinking_channel(render: ChatRenderer, name: str, tokenizer):
    """The template's thinking channel (refused with the reason when it has none), with a
    warning when its markers are not single tokens of the tokenizer."""
    channel = probe(render.render, name)
    problems = channel.single_token_problems(tokenizer)
    if problems:
        markers = [m for m in dict.fromkeys(channel.markers) if m]
        LOG.warning(
            f"PLUG: the thinking markers of chat template {name} are not single tokens of this tokenizer "
            f"({', '.join(problems)}); vLLM's qwen3 and deepseek_r1 reasoning parsers refuse such a tokenizer. "
            f"Add them with axolotl's `tokens: {markers}` (new embeddings: train them, e.g. with LoRA's "
            "`lora_modules_to_save: [embed_tokens, lm_head]`), or serve with `--reasoning-parser hf` and the "
            "model folder's response_template."
        )
    return channel


def dataset_name(ds_cfg: dict[str, Any]) -> str:
    name = str(ds_cfg.get("path") or "<dataset>")
    if ds_cfg.get("data_files"):
        name += f" ({ds_cfg['data_files']})"
    if ds_cfg.get("split") and ds_cfg.get("split") != "train":
        name += f" [{ds_cfg['split']}]"
    return name


def load(tokenizer, cfg, ds_cfg=None, processor=None):
    """Entry point axolotl calls for `type: plug` (rewritten to this module's path)."""
    if not any(str(p).endswith("PlugPlugin") for p in cfg.get("plugins") or []):
        raise ValueError(
            "the PLUG dataset type needs its plugin: add\n"
            f"  plugins:\n    - {PLUGIN_NAME}\n"
            "to your config (without it axolotl drops the `plug:` block)"
        )
    if processor is not None:
        raise ValueError("the PLUG dataset type supports text models only (a processor was given)")
    if isinstance(ds_cfg, BaseModel):
        ds_cfg = ds_cfg.model_dump()
    return PlugStrategy(tokenizer, cfg, dict(ds_cfg or {}))
