"""Tiny real models and tokenizers built offline, axolotl configs for the CPU, and
axolotl's own dataset pipeline run on them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from tests.helpers.rows import DEMO_TRAIN, ROWS, write_jsonl

SPECIAL_TOKENS = [
    "<s>",
    "</s>",
    "<pad>",
    "<|im_start|>",
    "<|im_end|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


# The tokenizer's own chat template: Zephyr's (an end-of-sequence after every turn),
# so a test can see that only the assistant's is trained.
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}"
)


def _corpus() -> list[str]:
    from axolotl_plug.format.languages import LANGUAGES

    texts = [text for row in ROWS for text in row.values()]
    texts += [h for lang in LANGUAGES.values() for h in (lang.instruction_header, lang.response_header)]
    texts += ["<|system|>\n<|user|>\n<|assistant|>\n", "Please interpret the instruction in English."]
    if DEMO_TRAIN.exists():
        texts += [v for line in DEMO_TRAIN.read_text(encoding="utf-8").splitlines() for v in json.loads(line).values()]
    return texts * 3


def build_tiny_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_corpus(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[3:],
    )
    tokenizer.chat_template = ZEPHYR_TEMPLATE
    tokenizer.save_pretrained(folder)
    return tokenizer


def build_tiny_model(folder: Path) -> Path:
    """A 2-layer Llama with a trained byte-level BPE tokenizer, saved like a hub model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def cpu_config(model_dir: Path, work: Path, data: Path, plug: dict | None = None, **overrides) -> dict:
    """An axolotl config for CPU with one `type: plug` dataset."""
    cfg = {
        "base_model": str(model_dir),
        "plugins": ["axolotl_plug.PlugPlugin"],
        "plug": plug if plug is not None else {"target_language": "zh"},
        "datasets": [{"path": str(data), "type": "plug"}],
        "dataset_prepared_path": str(work / "prepared"),
        "output_dir": str(work / "out"),
        "sequence_len": 512,
        "val_set_size": 0,
        "sample_packing": False,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "num_epochs": 1,
        "max_steps": 2,
        "learning_rate": 1e-3,
        "optimizer": "adamw_torch",
        "lr_scheduler": "constant",
        "bf16": False,
        "fp16": False,
        "tf32": False,
        "attn_implementation": "sdpa",
        # 0, not 1: datasets 4 runs `num_proc=1` in a pool of one forked process (and a
        # manager), for every map and filter axolotl makes; 0 is in this process
        "dataset_num_proc": 0,
        "save_safetensors": True,
        # the model is saved once, at the end; no checkpoint at each of the tiny data's epochs
        "save_strategy": "no",
        "logging_steps": 1,
    }
    cfg.update(overrides)
    return cfg


def bundled_chat_templates() -> dict[str, str]:
    """axolotl's built-in chat templates by name, through its public config enum."""
    from axolotl.utils.chat_templates import get_chat_template
    from axolotl.utils.schemas.enums import ChatTemplate

    templates = {}
    for choice in ChatTemplate:
        try:
            templates[choice.value] = get_chat_template(choice.value)
        except ValueError:  # `jinja`, `tokenizer_default`: choices, not templates
            continue
    assert len(templates) > 20, "axolotl's ChatTemplate enum no longer lists its templates"
    return templates


def load_config(raw: dict):
    """axolotl's own config loader (plugins, validation, normalisation), fresh plugins."""
    from axolotl.cli.config import load_cfg
    from axolotl.integrations.base import PluginManager
    from axolotl.utils.dict import DictDefault

    PluginManager.get_instance().plugins.clear()  # a process-wide singleton: fresh plugins per config
    return load_cfg(DictDefault(json.loads(json.dumps(raw))))


def tokenize_with_axolotl(raw: dict):
    """Run axolotl's dataset pipeline on a config; return (train dataset, tokenizer)."""
    from axolotl.common.datasets import load_datasets
    from axolotl.loaders import load_tokenizer

    cfg = load_config(raw)
    meta = load_datasets(cfg=cfg)
    return meta.train_dataset, load_tokenizer(cfg)


def trained_runs(row: dict, tokenizer) -> list[str]:
    """The trained tokens of a tokenized row, decoded run by run (what carries loss)."""
    runs, current = [], []
    for token, label in zip(row["input_ids"], row["labels"]):
        if label == -100:
            if current:
                runs.append(current)
            current = []
        else:
            assert label == token
            current.append(token)
    if current:
        runs.append(current)
    return [tokenizer.decode(run) for run in runs]


def train_plug_model(work: Path, config: Path, bench: Path, plug: dict | None = None, **overrides) -> None:
    """The tiny model trained by the real `axolotl train` into WORK/out (its log in
    WORK/train.log): with plug_tulu, or with the `plug:` settings and config keys given."""
    import shutil

    from tests.helpers.commands import PYTHON_LAUNCHER, run_axolotl

    shutil.rmtree(work, ignore_errors=True)  # what a worker that failed here left behind
    model_dir = build_tiny_model(work / "tiny-llama")
    data = write_jsonl(work / "rows.jsonl", ROWS * 4)
    cfg = cpu_config(
        model_dir,
        work,
        data,
        plug or {"target_language": "zh", "chat_template": "plug_tulu"},
        max_steps=60,
        learning_rate=5e-3,
        micro_batch_size=4,
        seed=0,
    )
    cfg.update(overrides)
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    result = run_axolotl("train", str(config), *PYTHON_LAUNCHER)
    assert result.returncode == 0, result.stderr[-3000:]
    (work / "train.log").write_text(result.stdout + result.stderr, encoding="utf-8")  # what the run logged
    write_jsonl(bench, [{"id": i, "instruction": r["instruction"], "lang": r["lang"]} for i, r in enumerate(ROWS)])


def render_chat(tokenizer, chat_template: str, messages: list[dict], template_kwargs: dict | None = None) -> str:
    """The conversation as text, exactly as the stock strategy renders it."""
    return tokenizer.apply_chat_template(
        messages,
        chat_template=chat_template,
        tokenize=False,
        add_generation_prompt=False,
        **(template_kwargs or {}),
    )


def generate_answers(
    model,
    tokenizer,
    prompts: Iterable[list[dict]],
    *,
    max_new_tokens: int | None = 256,
    sequence_len: int | None = None,
    batch_size: int = 8,
) -> Iterator:
    """Greedy answers to chat prompts (messages up to the user turn), with the chat
    template saved with the tokenizer."""
    from axolotl_plug.eval.generation import generate_from_ids, prompt_ids

    ids = [prompt_ids(tokenizer, messages) for messages in prompts]
    return generate_from_ids(
        model, tokenizer, ids, max_new_tokens=max_new_tokens, sequence_len=sequence_len, batch_size=batch_size
    )
