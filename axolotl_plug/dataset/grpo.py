"""The prompt dataset type (`type: plug` under `rl: grpo` or `gdpo`): each row's prompt
exactly as PLUG SFT builds it (the system prompt and the user turn, as chat messages the
trainer renders with the chat template), with the row's `answer` and target language
passed through for the rewards (axolotl_plug/rewards.py). axolotl's GRPO loader resolves
it as it resolves DPO types, hence `axolotl_plug.grpo`, which is `loader` below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from axolotl_plug.args import PlugConfig
from axolotl_plug.config import plug_config
from axolotl_plug.dataset.layout import RowError, field_text, row_format
from axolotl_plug.format.prompt import opening, system_prompt


def prompt_row(row: Mapping[str, Any], config: PlugConfig) -> dict[str, Any]:
    """{prompt, answer, lang} of one row: the messages SFT puts before the answer. Raises
    RowError naming the bad field."""
    fields = config.fields
    if row.get(fields.messages) is not None:
        raise RowError(fields.messages, "conversation rows are not read under rl: grpo (single-turn rows only)")
    lang, answer_format = row_format(row, config)
    strip = config.strip_fields
    instruction = field_text(row, fields.instruction, strip=strip)
    system = field_text(row, fields.system, required=False, strip=strip) or system_prompt(config, answer_format)
    return {"prompt": opening(instruction, system), "answer": row.get("answer"), "lang": lang}


def loader(cfg, dataset_idx: int = 0, **kwargs):
    """What axolotl's GRPO loader calls for `type: plug`: the batched transform (a batch may
    come out shorter: skipped bad rows) and the map arguments (drop the row's own columns)."""
    from axolotl_plug.dataset.preference import map_rows
    from axolotl_plug.dataset.strategy import dataset_name

    config = plug_config(cfg)
    name = dataset_name(dict((cfg.get("datasets") or [])[dataset_idx] or {}))

    def transform(batch: dict[str, list], tokenizer=None) -> dict[str, list]:
        return map_rows(batch, ("prompt", "answer", "lang"), lambda row: prompt_row(row, config), config, name)

    return transform, {"batched": True, "remove_columns": "__all__"}
