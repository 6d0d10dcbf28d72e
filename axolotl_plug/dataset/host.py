"""host: the one module that touches axolotl's dataset machinery, through public names.

axolotl ships monthly; everything the data path needs from it passes through here, so
a change in the host is mended in one place. What we rely on, each pinned by a test in
tests/test_dataset_host.py on every supported stack (axolotl 0.19, 0.20 and 0.21):

- `axolotl.prompt_tokenizers.DatasetWrappingStrategy`: a dataset type whose strategy
  subclasses it is handed the whole dataset (`wrap_dataset(dataset, process_count=...,
  keep_in_memory=...)`) instead of being mapped row by row; we map it ourselves, so a
  bad row is reported with its index from the main process.
- `axolotl.prompt_strategies.chat_template.StrategyLoader`: builds the stock
  `chat_template` strategy from the same config. We read its public attributes
  (`prompter.chat_template`, `eot_tokens`, `train_on_eos`, `train_on_eot`,
  `roles_to_train`) and call its public `tokenize_prompt` on one conversation whose
  assistant content may be a list of `{"text", "train"}` parts, and whose earlier
  assistant messages carry `training: false` (`message_field_training: training`).
- The end-of-turn ids: axolotl counts an `eot_tokens` entry only when it encodes to
  exactly one token; `end_of_turn` derives the same set from `eot_tokens`.
- `axolotl.utils.chat_templates.get_chat_template_from_config`: the template a config
  trains with (the evaluation callback prompts with it).
- `load_cfg`, `load_datasets`, `load_preference_datasets`, `load_tokenizer`: the audit
  loads data as training does.
- Under `rl: dpo` (`ipo`, `simpo`), axolotl's DPO loader (`prompt_strategies/base.py:load`)
  imports a dataset type `module.function` of a top-level module, calls it with
  `(cfg, dataset_idx=i)`, and maps the dataset with the transform it returns, passing
  the tokenizer and the map arguments it returns (`remove_columns: "__all__"` removes
  the row's columns). dataset/preference.py relies on exactly that.
"""

from __future__ import annotations

from typing import Any

from axolotl.prompt_tokenizers import DatasetWrappingStrategy
from axolotl.utils.logging import get_logger  # logs like the rest of axolotl (main process only)

from axolotl_plug.dataset.labels import EndOfTurn, StockRules

__all__ = [
    "DatasetWrappingStrategy",
    "StockStrategy",
    "chat_template_of",
    "get_logger",
    "load_config",
    "preference_rows",
    "tokenize_datasets",
]


class StockStrategy:
    """axolotl's own `chat_template` strategy for a PLUG dataset's config: the chat
    template, the end-of-turn rules, and labels for the rows the fast path leaves."""

    def __init__(self, tokenizer, cfg, ds_cfg: dict[str, Any]):
        from axolotl.prompt_strategies.chat_template import StrategyLoader

        self.tokenizer = tokenizer
        # a message's own `training` flag (axolotl's message_field_training) keeps a conversation's
        # earlier assistant turns out of the loss
        ds_cfg = {**ds_cfg, "field_messages": "messages", "message_field_training": "training"}
        self.strategy = StrategyLoader()(tokenizer, cfg, ds_cfg)
        self.train_on_inputs = bool(cfg.get("train_on_inputs"))

    @property
    def chat_template(self) -> str:
        return self.strategy.prompter.chat_template

    def end_of_turn(self) -> EndOfTurn:
        ids = set()
        for token in self.strategy.eot_tokens:
            encoded = self.tokenizer.encode(token, add_special_tokens=False)
            if len(encoded) == 1:
                ids.add(encoded[0])
        return EndOfTurn(
            eot_ids=frozenset(ids),
            eos_id=self.tokenizer.eos_token_id,
            train_eot=self.strategy.train_on_eot in ("turn", "last"),
            train_eos=self.strategy.train_on_eos in ("turn", "last"),
        )

    def rules(self) -> StockRules:
        return StockRules(
            train_on_inputs=self.train_on_inputs,
            train_on_eos=self.strategy.train_on_eos,
            train_on_eot=self.strategy.train_on_eot,
            roles_to_train=tuple(self.strategy.roles_to_train),
        )

    def tokenize(self, messages: list[dict]) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of one conversation, by axolotl's own strategy."""
        result = self.strategy.tokenize_prompt({"messages": messages})
        return list(result["input_ids"]), list(result["labels"])


def chat_template_of(cfg, ds_cfg: dict | None, tokenizer) -> str:
    """The chat template a config trains with (dataset-level settings first)."""
    from axolotl.utils.chat_templates import get_chat_template_from_config

    return get_chat_template_from_config(cfg, dict(ds_cfg or {}), tokenizer)


def load_config(config_path: str):
    """A config file loaded, validated and normalised as `axolotl train` loads it."""
    from axolotl.cli.config import load_cfg

    return load_cfg(config_path)


def tokenize_datasets(cfg):
    """Tokenize a loaded config's datasets as training does, into a scratch folder
    (never reusing or filling the real prepared-dataset cache); return the tokenizer."""
    import tempfile

    from axolotl.common.datasets import load_datasets
    from axolotl.loaders import load_tokenizer

    with tempfile.TemporaryDirectory() as scratch:
        cfg.dataset_prepared_path = scratch
        load_datasets(cfg=cfg)
    return load_tokenizer(cfg)


def preference_rows(cfg):
    """A `rl:` config's training rows (prompt, chosen, rejected) as training prepares
    them, into a scratch folder."""
    import tempfile

    from axolotl.common.datasets import load_preference_datasets

    with tempfile.TemporaryDirectory() as scratch:
        cfg.dataset_prepared_path = scratch
        return load_preference_datasets(cfg=cfg).train_dataset
