"""Reading configs: an axolotl YAML file with the plugin's rewrites, and its `plug:` block.

The block is validated once per distinct content in a process (`plug_config`): the
plugin's hooks, the dataset type and the commands all ask for it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .args import PlugConfig


@lru_cache(maxsize=16)
def _validated(block: str) -> PlugConfig:
    return PlugConfig.model_validate(json.loads(block))


def plug_config(cfg) -> PlugConfig:
    """The `plug:` block of a config (a dict or axolotl's DictDefault), validated.
    The same object is returned for the same block: treat it as read-only."""
    return _validated(json.dumps(dict(cfg.get("plug") or {}), sort_keys=True, ensure_ascii=False, default=str))


def read_config(path: str | Path) -> tuple[dict, PlugConfig]:
    """The raw YAML with the plugin's rewrites applied, and its `plug:` block."""
    import yaml

    from .plugin import apply_plug_config

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    raw["axolotl_config_path"] = str(path)
    apply_plug_config(raw)
    return raw, plug_config(raw)
