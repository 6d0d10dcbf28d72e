"""PlugPlugin: wires the PLUG dataset type, templates and cache key into axolotl."""

from __future__ import annotations

import atexit
import os

from axolotl.integrations.base import BasePlugin

from axolotl_plug.config import DATASET_TYPE, apply_plug_config, plug_config


class PlugPlugin(BasePlugin):
    """PLUG for axolotl: `plugins: [axolotl_plug.PlugPlugin]`, a `plug:` block, `type: plug`."""

    def register(self, cfg: dict):
        apply_plug_config(cfg)
        if cfg.get("merge_lora") and cfg.get("plug") is not None and cfg.get("output_dir"):
            # `axolotl merge-lora` (it sets merge_lora): no hook runs after it writes
            # OUTPUT_DIR/merged, so the trained tokenizer is put there as the process ends
            atexit.unregister(_restore_merged_tokenizer)  # merge-lora loads the config twice
            atexit.register(_restore_merged_tokenizer, str(cfg["output_dir"]))

    def get_input_args(self) -> str:
        return "axolotl_plug.args.PlugArgs"

    def post_train(self, cfg, model):
        """Write plug.json next to the saved model (axolotl calls this after training and
        again after saving; writing twice is harmless), with the response_template once the
        tokenizer is saved; the saved tokenizer is loaded once for both."""
        from axolotl.utils.distributed import is_main_process

        from axolotl_plug.serving.settings import write_settings

        if cfg.get("plug") is None or not is_main_process():
            return
        config = plug_config(cfg)
        writes_template = config.write_response_template and config.mode == "plug"
        tokenizer = None
        if config.pivot_channel == "reasoning" or writes_template:
            tokenizer = self._saved_tokenizer(cfg.output_dir)  # None until axolotl has saved it
        if config.pivot_channel == "reasoning" and tokenizer is not None:
            from axolotl_plug.serving.metadata import thinking_markers

            # the markers the model was trained to write, for everyone who reads its answers
            markers = thinking_markers(tokenizer, f"of {cfg.output_dir}")
            config = config.model_copy(update={"thinking_markers": list(markers)})
        write_settings(cfg.output_dir, config, cfg.get("sequence_len"))
        if writes_template and tokenizer is not None:
            self._write_response_template(cfg.output_dir, tokenizer)

    @staticmethod
    def _saved_tokenizer(output_dir):
        """The tokenizer axolotl saved in OUTPUT_DIR, or None where it has not saved one yet."""
        from pathlib import Path

        from transformers import AutoTokenizer

        from axolotl_plug.serving.metadata import TOKENIZER_CONFIG

        if not (Path(output_dir) / TOKENIZER_CONFIG).is_file():
            return None
        return AutoTokenizer.from_pretrained(str(output_dir))

    @staticmethod
    def _write_response_template(output_dir, tokenizer) -> None:
        """The split for vLLM, SGLang and `transformers serve` (serving/metadata.py); a
        template it cannot be derived from is logged, not fatal."""
        from axolotl_plug.dataset.host import get_logger
        from axolotl_plug.serving.metadata import TOKENIZER_CONFIG, model_response_template, write_response_template

        log = get_logger(__name__)
        try:
            template = model_response_template(output_dir, tokenizer=tokenizer)
            previous = write_response_template(output_dir, template)
        except ValueError as exc:
            log.warning(f"PLUG: no response_template written to {output_dir} ({exc}); serve with `axolotl plug serve`")
            return
        if previous not in (None, template):
            log.warning(
                f"PLUG: replaced the base tokenizer's response_template in {output_dir}/{TOKENIZER_CONFIG}: "
                "the model was trained to answer in PLUG's format"
            )

    def add_callbacks_post_trainer(self, cfg, trainer):
        """Hand the run's settings to the PLUG rewards (`trl.reward_funcs`), and attach the
        evaluation callback when `plug.eval` is configured."""
        from axolotl_plug import rewards
        from axolotl_plug.dataset.host import chat_template_of

        config = plug_config(cfg)
        probe_markers = config.pivot_channel == "reasoning" and not config.thinking_markers
        template = None
        if config.eval is not None or probe_markers:
            plug_ds = next((ds for ds in cfg.get("datasets") or [] if ds.get("type") == DATASET_TYPE), None)
            template = chat_template_of(cfg, plug_ds, trainer.processing_class)
        if probe_markers:
            from axolotl_plug.dataset.render import ChatRenderer
            from axolotl_plug.dataset.thinking import probe

            # answers are read at the markers the model is trained to write
            markers = probe(ChatRenderer(trainer.processing_class, template).render, "in training").markers
            config = config.model_copy(update={"thinking_markers": list(markers)})
        rewards.configure(config)
        if config.eval is None:
            return []
        from axolotl_plug.eval.callback import PlugEvalCallback

        return [PlugEvalCallback(trainer, cfg, config, template)]


def _restore_merged_tokenizer(output_dir: str) -> None:
    if int(os.environ.get("LOCAL_RANK", "0")) != 0:
        return
    from axolotl_plug.dataset.host import get_logger
    from axolotl_plug.serving.metadata import restore_merged_tokenizer

    if restore_merged_tokenizer(output_dir):
        get_logger(__name__).info(
            f"PLUG: {output_dir}/merged has the tokenizer the model was trained with "
            f"(its chat template and response_template), from {output_dir}"
        )
