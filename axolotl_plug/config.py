"""Reading configs: an axolotl YAML file with the plugin's rewrites
(`apply_plug_config`, which the plugin's register hook runs too), and its `plug:` block.

The block is validated once per distinct content in a process (`plug_config`): the
plugin's hooks, the dataset type and the commands all ask for it. Nothing here imports
axolotl: the commands read configs without starting the host.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from axolotl_plug import __version__
from axolotl_plug.args import PlugConfig
from axolotl_plug.format.templates import read_template, resolve_template

# axolotl's default `dataset_prepared_path` (axolotl.common.const; a test pins it)
DEFAULT_DATASET_PREPARED_PATH = "last_run_prepared"

DATASET_TYPE = "axolotl_plug.dataset.strategy"
# under `rl:`, axolotl's DPO loader resolves only `module.function` of a top-level module
PREFERENCE_TYPE = "axolotl_plug.preference"
PREFERENCE_RL = ("dpo", "ipo", "simpo")  # the methods whose datasets go through that loader
GRPO_TYPE = "axolotl_plug.grpo"  # prompts (and answer, lang) for rl: grpo / gdpo (dataset/grpo.py)
GRPO_RL = ("grpo", "gdpo")
# what a PLUG dataset's `type:` may say: the short name, or either path it is rewritten to
PLUG_TYPES = {"plug", DATASET_TYPE, PREFERENCE_TYPE, GRPO_TYPE}
_FINGERPRINT_PREFIX = "plug-"


def _plug_datasets(cfg: dict) -> list[dict]:
    return [
        ds
        for key in ("datasets", "test_datasets")
        for ds in (cfg.get(key) or [])
        if isinstance(ds, dict) and ds.get("type") in PLUG_TYPES
    ]


def fingerprint(config: PlugConfig, template_texts: list[str]) -> str:
    """Short hash of everything in `plug:` that changes tokenized data (templates' text too)."""
    payload = json.dumps(
        {
            # what only inference reads leaves the tokenized data as it is
            "plug": config.model_dump(mode="json", exclude={"eval", "write_response_template"}),
            "templates": template_texts,
            "version": __version__,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def apply_plug_config(cfg: dict) -> None:
    """Rewrite a raw config dict for PLUG. Idempotent: axolotl may call it twice.

    - `type: plug` becomes the importable module path: the SFT dataset type, under
      `rl: dpo` (`ipo`, `simpo`) the preference type, under `rl: grpo` (`gdpo`) the prompt type;
    - template references become absolute paths (relative ones are read against the
      working directory, then the config's folder);
    - `plug.chat_template` becomes axolotl's top-level `chat_template: jinja`, so the
      tokenizer saved with the model and `axolotl inference` use it too;
    - the prepared-dataset path gets a fingerprint of the `plug:` settings, because
      axolotl does not hash plugin keys into its cache key.
    """
    datasets = _plug_datasets(cfg)
    rl = str(cfg.get("rl") or "").lower() or None
    if datasets and rl and rl not in PREFERENCE_RL + GRPO_RL:
        raise ValueError(
            f"type: plug under rl: {rl}: PLUG preference rows work with rl: {', '.join(PREFERENCE_RL)} "
            f"(the methods that load datasets as DPO does), PLUG prompts with rl: {', '.join(GRPO_RL)}"
        )
    for ds in datasets:
        ds["type"] = GRPO_TYPE if rl in GRPO_RL else PREFERENCE_TYPE if rl else DATASET_TYPE
    if not datasets and cfg.get("plug") is None:
        return

    raw = dict(cfg.get("plug") or {})
    config_path = cfg.get("axolotl_config_path")
    config_dir = Path(config_path).parent if config_path else None
    texts = []
    for key in ("answer_template", "chat_template"):
        if raw.get(key):
            path = resolve_template(raw[key], config_dir)
            raw[key] = str(path)
            texts.append(read_template(str(path)))
    cfg["plug"] = raw
    config = PlugConfig.model_validate(raw)
    if rl in PREFERENCE_RL and datasets and not config.train_on_pivot:
        raise ValueError(
            f"plug.train_on_pivot: false under rl: {rl}: the preference trainer scores whole "
            "answers, so the pivot sections cannot be left out of the loss; train with "
            "train_on_pivot: true, or compare target answers only with mode: monolingual"
        )

    if config.chat_template:
        template = read_template(config.chat_template)
        if cfg.get("chat_template") not in (None, "jinja") or (cfg.get("chat_template_jinja") not in (None, template)):
            raise ValueError(
                "plug.chat_template and the top-level chat_template / chat_template_jinja "
                "are both set: keep one of them"
            )
        cfg["chat_template"] = "jinja"
        cfg["chat_template_jinja"] = template

    base = Path(cfg.get("dataset_prepared_path") or DEFAULT_DATASET_PREPARED_PATH)
    if base.name.startswith(_FINGERPRINT_PREFIX):
        base = base.parent
    cfg["dataset_prepared_path"] = str(base / f"{_FINGERPRINT_PREFIX}{fingerprint(config, texts)}")


@lru_cache(maxsize=16)
def _validated(block: str) -> PlugConfig:
    return PlugConfig.model_validate(json.loads(block))


def plug_config(cfg) -> PlugConfig:
    """The `plug:` block of a config (a dict or axolotl's DictDefault), validated.
    The same object is returned for the same block: treat it as read-only."""
    return _validated(json.dumps(dict(cfg.get("plug") or {}), sort_keys=True, ensure_ascii=False, default=str))


def describe_invalid(error) -> str:
    """A pydantic ValidationError in one line: where and what, for at most three fields
    (`plug.` before the fields of the `plug:` block)."""
    prefix = "plug." if error.title == "PlugConfig" else ""
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"])
        where = prefix + where if where else ""  # a rule on the whole block says its own keys
        what = "unknown key" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {what}" if where else what)
    more = len(error.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def read_config(path: str | Path) -> tuple[dict, PlugConfig]:
    """The raw YAML with the plugin's rewrites applied, and its `plug:` block. Raises
    ValueError naming the file and the key for a config that cannot be read."""
    import yaml
    from pydantic import ValidationError

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: not an axolotl config (a YAML mapping of keys)")
    raw["axolotl_config_path"] = str(path)
    try:
        apply_plug_config(raw)
        return raw, plug_config(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {describe_invalid(exc)} (every plug: key is in docs/config.md)") from None
