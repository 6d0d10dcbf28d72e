"""PlugPlugin: wires the PLUG dataset type, templates and cache key into axolotl."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from axolotl.common.const import DEFAULT_DATASET_PREPARED_PATH
from axolotl.integrations.base import BasePlugin

from . import __version__
from .args import PlugConfig
from .config import plug_config
from .templates import read_template, resolve_template

DATASET_TYPE = "axolotl_plug.dataset.strategy"
# `axolotl_plug.plug` is where the dataset type lived in 0.1; configs naming it still work
_SHORT_TYPES = {"plug", "axolotl_plug.plug", DATASET_TYPE}
_FINGERPRINT_PREFIX = "plug-"


def _plug_datasets(cfg: dict) -> list[dict]:
    return [
        ds
        for key in ("datasets", "test_datasets")
        for ds in (cfg.get(key) or [])
        if isinstance(ds, dict) and ds.get("type") in _SHORT_TYPES
    ]


def fingerprint(config: PlugConfig, template_texts: list[str]) -> str:
    """Short hash of everything in `plug:` that changes tokenized data (templates' text too)."""
    payload = json.dumps(
        {"plug": config.model_dump(mode="json", exclude={"eval"}), "templates": template_texts, "version": __version__},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def apply_plug_config(cfg: dict) -> None:
    """Rewrite a raw config dict for PLUG. Idempotent: axolotl may call it twice.

    - `type: plug` becomes the importable module path;
    - template references become absolute paths (relative ones are read against the
      working directory, then the config's folder);
    - `plug.chat_template` becomes axolotl's top-level `chat_template: jinja`, so the
      tokenizer saved with the model and `axolotl inference` use it too;
    - the prepared-dataset path gets a fingerprint of the `plug:` settings, because
      axolotl does not hash plugin keys into its cache key.
    """
    datasets = _plug_datasets(cfg)
    for ds in datasets:
        ds["type"] = DATASET_TYPE
    if not datasets and cfg.get("plug") is None:
        return

    raw = dict(cfg.get("plug") or {})
    config_path = cfg.get("axolotl_config_path")
    config_dir = Path(config_path).parent if config_path else None
    texts = []
    for key in ("response_template", "chat_template"):
        if raw.get(key):
            path = resolve_template(raw[key], config_dir)
            raw[key] = str(path)
            texts.append(read_template(str(path)))
    cfg["plug"] = raw
    config = PlugConfig.model_validate(raw)

    if config.chat_template:
        template = read_template(config.chat_template)
        if cfg.get("chat_template") not in (None, "jinja") or (
            cfg.get("chat_template_jinja") not in (None, template)
        ):
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


class PlugPlugin(BasePlugin):
    """PLUG for axolotl: `plugins: [axolotl_plug.PlugPlugin]`, a `plug:` block, `type: plug`."""

    def register(self, cfg: dict):
        apply_plug_config(cfg)

    def get_input_args(self) -> str:
        return "axolotl_plug.args.PlugArgs"

    def post_train(self, cfg, model):
        """Write plug.json next to the saved model (axolotl calls this after training and
        again after saving; writing twice is harmless)."""
        from axolotl.utils.distributed import is_main_process

        from .serving.settings import write_settings

        if cfg.get("plug") is not None and is_main_process():
            write_settings(cfg.output_dir, plug_config(cfg), cfg.get("sequence_len"))

    def add_callbacks_post_trainer(self, cfg, trainer):
        """Attach the evaluation callback when `plug.eval` is configured."""
        config = plug_config(cfg)
        if config.eval is None:
            return []
        from .dataset.host import chat_template_of
        from .eval.callback import PlugEvalCallback

        plug_ds = next((ds for ds in cfg.get("datasets") or [] if ds.get("type") == DATASET_TYPE), None)
        template = chat_template_of(cfg, plug_ds, trainer.processing_class)
        return [PlugEvalCallback(trainer, cfg, config, template)]
