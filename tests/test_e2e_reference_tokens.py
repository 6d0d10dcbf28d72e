"""The paper's preset gives the reference trainer's tokens, on the paper's tokenizer.

`reference_encoding` is written from the reference trainer's rules (open-instruct's
encoder as the PLUG repository uses it, see plug-method.md), not from our code:

- each field is stripped; the text is `<|system|>\\n{system}\\n` (only when the row has
  a system), `<|user|>\\n{instruction}\\n`, `<|assistant|>\\n{response}` and the EOS
  token right after the response;
- the text is tokenized once, with the tokenizer's special tokens (Llama-2 adds BOS);
- the first N labels are masked, N = the token count of the prefix up to and including
  `<|assistant|>\\n`, tokenized alone the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.models import cpu_config, tokenize_with_axolotl

ANSWER = "English instruction:\n{pi}\n\nEnglish response:\n{pr}\n\n中文回复：\n{tr}"

ROWS = [
    {
        "system": "  Please interpret the instruction in English, and then respond both in English and in Chinese.\n",
        "instruction": "\n\n  用一句话介绍巴黎。  \n",
        "response": "  "
        + ANSWER.format(
            pi="Describe Paris in one sentence.", pr="Paris is the capital of France.", tr="巴黎是法国的首都。"
        )
        + "\n\n",
    },
    {
        "instruction": "写一个 Python 函数，返回列表中的最大值。",
        "response": ANSWER.format(
            pi="Write a Python function that returns the largest value in a list.",
            pr="```python\ndef largest(values):\n    return max(values)\n```",
            tr="```python\ndef largest(values):\n    return max(values)  # 最大值\n```\n\n\n这个函数返回最大值。",
        ),
    },
    {
        "system": "Respond in English, then in Chinese.",
        "instruction": "Übersetze: 「おはよう」と 안녕하세요 — 用中文解释。\t",
        "response": "\t"
        + ANSWER.format(
            pi="Explain “おはよう” and “안녕하세요” in Chinese.",
            pr="Both are greetings: Japanese “good morning” and Korean “hello”.",
            tr="两者都是问候语：日语的“早上好”和韩语的“你好”。 ",
        )
        + "   ",
    },
    {
        "instruction": "List three fruits.\n\n- one per line\n",
        "response": ANSWER.format(pi="List three fruits.", pr="Apple\nBanana\nCherry", tr="苹果\n\n香蕉\n\n樱桃"),
    },
]


def reference_encoding(tokenizer, row: dict) -> tuple[list[int], list[int]]:
    prefix = ""
    if "system" in row:
        prefix += "<|system|>\n" + row["system"].strip() + "\n"
    prefix += "<|user|>\n" + row["instruction"].strip() + "\n" + "<|assistant|>\n"
    text = prefix + row["response"].strip() + tokenizer.eos_token
    input_ids = tokenizer(text).input_ids
    masked = len(tokenizer(prefix).input_ids)
    return input_ids, [-100] * masked + input_ids[masked:]


def test_plug_tulu_gives_the_reference_trainers_tokens_on_llama2(llama2_dir, tmp_path):
    from transformers import AutoTokenizer

    data = tmp_path / "released.json"
    data.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    plug = {"target_language": "zh", "prebuilt": True, "chat_template": "plug_tulu", "system_prompt": "none"}
    dataset, _ = tokenize_with_axolotl(
        cpu_config(llama2_dir, tmp_path, data, plug, sequence_len=4096, shuffle_merged_datasets=False)
    )
    reference = AutoTokenizer.from_pretrained(llama2_dir)
    assert reference("x").input_ids[0] == reference.bos_token_id  # the real tokenizer adds BOS
    assert len(dataset) == len(ROWS)
    for row, tokenized in zip(ROWS, dataset):
        ids, labels = reference_encoding(reference, row)
        assert tokenized["input_ids"] == ids
        assert tokenized["labels"] == labels


def test_a_missing_fixture_fails_with_what_to_run(tmp_path):
    import os
    import subprocess
    import sys

    from tests.helpers.rows import REPO

    code = "from tests.helpers.real_tokenizers import real_tokenizer_dir; real_tokenizer_dir('llama-2')"
    env = {**os.environ, "PLUG_TOKENIZER_FIXTURES": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "real tokenizer fixtures missing" in result.stderr and "make tokenizer-fixtures" in result.stderr


def test_the_converted_tokenizer_cache_is_keyed_by_everything_that_builds_it(monkeypatch):
    """A cached tokenizer is reused only while the conversion code, transformers,
    tokenizers, gguf, the archive and the table entry are what built it: a change to any
    converts again, and runs the llama.cpp check again."""
    from importlib import metadata

    from tests.helpers import real_tokenizers

    key = real_tokenizers.cache_key("qwen2")
    assert key == real_tokenizers.cache_key("qwen2") and key != real_tokenizers.cache_key("llama-2")
    real = metadata.version
    for package in ("transformers", "tokenizers", "gguf"):
        with monkeypatch.context() as patch:
            patch.setattr(metadata, "version", lambda name, p=package: "0.0.1" if name == p else real(name))
            assert real_tokenizers.cache_key("qwen2") != key, package
    with monkeypatch.context() as patch:
        patch.setitem(real_tokenizers.TOKENIZERS, "qwen2", ("other.gguf", {}, False, False))
        assert real_tokenizers.cache_key("qwen2") != key
    with monkeypatch.context() as patch:
        patch.setattr(real_tokenizers, "ARCHIVE", "llama_cpp_python-0.3.37.tar.gz")
        assert real_tokenizers.cache_key("qwen2") != key
    source = Path(real_tokenizers.__file__).read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(
            Path, "read_bytes", lambda self: source + b"# changed" if self.name == "real_tokenizers.py" else b""
        )
        assert real_tokenizers.cache_key("qwen2") != key
