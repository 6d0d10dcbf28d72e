"""Real tokenizers without the hub: llama.cpp's vocab-only GGUF test files.

`make tokenizer-fixtures` downloads llama-cpp-python's source archive from PyPI once
(77 MB; it vendors llama.cpp's tokenizer tests) into PLUG_TOKENIZER_FIXTURES, outside
the repo. Here each tokenizer is converted to a Hugging Face folder, checked against
llama.cpp's own expected token ids, and reused until anything that builds it changes
(`cache_key`).
A missing archive fails the tests that need it with a message saying what to run.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock

FIXTURES = Path(os.environ.get("PLUG_TOKENIZER_FIXTURES", "~/.cache/axolotl-plug/tokenizers")).expanduser()
ARCHIVE = "llama_cpp_python-0.3.36.tar.gz"
MODELS = "vendor/llama.cpp/models"
SEPARATOR = "\n__ggml_vocab_test__\n"

# name -> (GGUF file, special tokens the conversion gets wrong, whether it is a Llama-2
# style SentencePiece vocabulary (its real tokenizer.json has the legacy normalizer,
# which conversions replace with a Metaspace step or drop, depending on the version),
# whether the real tokenizer adds <s> when encoding)
TOKENIZERS = {
    "llama-2": ("ggml-vocab-llama-spm.gguf", {"bos_token": "<s>", "eos_token": "</s>"}, True, True),
    "qwen2": ("ggml-vocab-qwen2.gguf", {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, False, False),
    "phi-3": (
        "ggml-vocab-phi-3.gguf",
        {"bos_token": "<s>", "eos_token": "<|end|>", "pad_token": "<|endoftext|>"},
        True,
        False,
    ),
}


def cache_key(name: str) -> str:
    """What builds a converted tokenizer, hashed: the conversion code (this file), the
    versions of transformers, tokenizers and gguf, the archive and the entry of
    TOKENIZERS. A change to any of them converts again, and runs the llama.cpp check."""
    import hashlib
    from importlib import metadata

    parts = [Path(__file__).read_bytes(), repr(TOKENIZERS[name]).encode()]
    parts += [f"{package}=={metadata.version(package)}".encode() for package in ("transformers", "tokenizers", "gguf")]
    archive = FIXTURES / ARCHIVE
    parts.append(f"{ARCHIVE}:{archive.stat().st_size if archive.is_file() else 'missing'}".encode())
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def real_tokenizer_dir(name: str) -> Path:
    """A saved Hugging Face tokenizer folder (with a tiny Llama config.json, so axolotl
    accepts it as `base_model`) for one of TOKENIZERS, converted and checked once per
    `cache_key`."""
    folder = FIXTURES / "converted" / cache_key(name) / name
    if (folder / "tokenizer.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.with_name(name + ".lock"))):  # pytest-xdist workers: one converts, the others wait
        if not (folder / "tokenizer.json").is_file():
            _build(name, folder)
    return folder


@functools.cache
def real_tokenizer(name: str):
    """One of TOKENIZERS, loaded once per process and shared (transformers builds a Qwen2
    tokenizer from its tokenizer.json in Python, about a second a load): read it only, or
    change a `copy.deepcopy` of it."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_tokenizer_dir(name))


def _build(name: str, folder: Path) -> None:
    archive = FIXTURES / ARCHIVE
    if not archive.is_file():
        pytest.fail(
            f"real tokenizer fixtures missing: {archive} not found. Run `make tokenizer-fixtures` "
            "(downloads llama-cpp-python's source archive from PyPI) or point "
            "PLUG_TOKENIZER_FIXTURES at a folder holding it."
        )
    gguf, specials, spm, adds_bos = TOKENIZERS[name]
    with tempfile.TemporaryDirectory() as scratch:
        with tarfile.open(archive) as tar:
            prefix = ARCHIVE.removesuffix(".tar.gz")
            for suffix in ("", ".inp", ".out"):
                member = tar.getmember(f"{prefix}/{MODELS}/{gguf}{suffix}")
                member.name = Path(member.name).name
                tar.extract(member, scratch, filter="data")
        if spm and _derives_merges_slowly():
            _add_merges(Path(scratch) / gguf)
        tokenizer = _convert(Path(scratch), gguf, specials, spm, adds_bos)
        _check_against_llama_cpp(tokenizer, Path(scratch) / gguf, name)
        partial = folder.with_name(name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)  # what an interrupted run left
        tokenizer.save_pretrained(partial)
        _write_tiny_config(partial, tokenizer)
        partial.rename(folder)


def _derives_merges_slowly() -> bool:
    """transformers before 5.20 derives an SPM vocabulary's merges, when its GGUF file has
    none, by testing each split against the token list: half a minute per 32,000 tokens.
    5.20 does it in a second, by another tie-breaking rule of its own."""
    import transformers
    from packaging.version import Version

    return Version(transformers.__version__) < Version("5.20")


def _add_merges(gguf: Path) -> None:
    """Write into the GGUF file the merges transformers before 5.20 would derive, by its
    rule, with set lookups: every split of a token into two tokens, ranked by the whole
    token's score, ties broken by the halves' scores. The tokenizer saved is byte for byte
    the one transformers builds without them; the llama.cpp check proves it either way."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(gguf)
    fields = {name: field for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    tokens = fields["tokenizer.ggml.tokens"].contents()
    vocab = dict(zip(tokens, fields["tokenizer.ggml.scores"].contents()))
    known = set(tokens)
    merges = []
    for piece, score in vocab.items():
        splits = [
            (piece[:i], piece[i:], score) for i in range(1, len(piece)) if piece[:i] in known and piece[i:] in known
        ]
        merges += sorted(splits, key=lambda m: (vocab[m[0]], vocab[m[1]]), reverse=True)
    merges.sort(key=lambda m: m[2], reverse=True)
    assert not any(" " in left + right for left, right, _ in merges), "a merge with a space cannot be written"

    writer = GGUFWriter(gguf, fields["general.architecture"].contents())
    for name, field in fields.items():
        if name != "general.architecture":  # the writer adds it
            sub_type = field.types[1] if field.types[0] == GGUFValueType.ARRAY else None
            writer.add_key_value(name, field.contents(), field.types[0], sub_type)
    writer.add_key_value(
        "tokenizer.ggml.merges",
        [f"{left} {right}" for left, right, _ in merges],
        GGUFValueType.ARRAY,
        GGUFValueType.STRING,
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def _convert(scratch: Path, gguf: str, specials: dict, spm: bool, adds_bos: bool):
    from tokenizers import normalizers
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=gguf)
    for key, token in specials.items():
        setattr(tokenizer, key, token)
    backend = tokenizer.backend_tokenizer
    if spm:  # as in the models' own tokenizer.json; the check below proves the result
        backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        backend.pre_tokenizer = None
        backend.model.byte_fallback = True  # bytes with no token of their own become <0x..> tokens
    if adds_bos:
        bos = tokenizer.bos_token
        backend.post_processor = TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.bos_token_id)]
        )
    return tokenizer


def _check_against_llama_cpp(tokenizer, gguf: Path, name: str) -> None:
    # every test string is followed by the separator; the .out file has one line of ids each
    texts = gguf.with_name(gguf.name + ".inp").read_text(encoding="utf-8").split(SEPARATOR)[:-1]
    expected = gguf.with_name(gguf.name + ".out").read_text(encoding="utf-8").split("\n")[: len(texts)]
    assert len(texts) > 20, f"{name}: llama.cpp's test strings did not parse"
    wrong = []
    for text, ids in zip(texts, expected):
        got = tokenizer.encode(text, add_special_tokens=False)
        if got != [int(i) for i in ids.split()]:
            wrong.append(text)
    assert not wrong, (
        f"{name}: {len(wrong)} of {len(texts)} llama.cpp test strings tokenize differently, e.g. {wrong[0]!r}"
    )


def _write_tiny_config(folder: Path, tokenizer) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


if __name__ == "__main__":  # `make test` converts them before the tests start (a no-op once done)
    for name in TOKENIZERS:
        print(real_tokenizer_dir(name))
