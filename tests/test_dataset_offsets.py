"""Offsets worked out from a byte-level BPE's ids find the same tokens as the Rust
tokenizer's character offsets; rows or tokenizers where they cannot use Rust's."""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from operator import itemgetter

import pytest

from axolotl_plug.dataset.offsets import RowEncoder, _ByteOffsets, _LazyOffsets, byte_table
from axolotl_plug.dataset.offsets import search as search_offsets

# multi-byte characters (CJK, a 4-byte emoji with a skin-tone modifier, a combining
# accent that NFC would fold), special tokens, runs of whitespace, an empty section
TEXTS = [
    "<|im_start|>user\n中文指令：写一首关于秋天的诗。<|im_end|>\n<|im_start|>assistant\nEnglish response:\nAutumn.",
    "👋🏽 hola  —  café (cafe\u0301)\t\n\n한국어 응답:\n안녕하세요!</s>",
    "<s><|user|>\n\n<|assistant|>\n   leading spaces and trailing   \n</s>",
    "plain ascii, nothing else",
]


def with_normalizer(tiny_model_dir, normalizer=None, post_processor=None, **pre_tokenizer):
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    if normalizer is not None:
        tokenizer.backend_tokenizer.normalizer = normalizer
    if post_processor is not None:
        tokenizer.backend_tokenizer.post_processor = post_processor
    if pre_tokenizer:
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(**pre_tokenizer)
    return tokenizer


@pytest.mark.parametrize("normalizer", [None, "NFC"])
def test_offsets_from_ids_find_the_tokens_rust_offsets_find(tiny_model_dir, normalizer):
    from tokenizers import normalizers

    tokenizer = with_normalizer(tiny_model_dir, normalizers.NFC() if normalizer else None)
    assert byte_table(tokenizer).normal_form == normalizer
    for text in TEXTS:
        ((ids, offsets),) = RowEncoder(tokenizer)([text])
        rust = tokenizer.backend_tokenizer.encode(text, add_special_tokens=False)
        # a text NFC would change is encoded again, with Rust's offsets
        from_ids = normalizer is None or unicodedata.is_normalized("NFC", text)
        assert isinstance(offsets, _ByteOffsets if from_ids else _LazyOffsets)
        assert ids == rust.ids
        assert list(offsets) == rust.offsets
        for x in range(len(text) + 1):
            for field in (0, 1):
                for right in (True, False):
                    search = bisect_right if right else bisect_left
                    assert search_offsets(offsets, x, field, right) == search(rust.offsets, x, key=itemgetter(field))


def test_a_row_whose_bytes_do_not_add_up_is_encoded_again_with_offsets(tiny_tokenizer):
    encoder = RowEncoder(tiny_tokenizer)
    (ids_ascii, _), (ids_cjk, _) = encoder([TEXTS[3], TEXTS[0]])
    wrong = next(token for token in ids_ascii if token not in ids_cjk)
    encoder._table.lengths[wrong] += 1  # as if a token stood for bytes it does not
    try:
        (ids, offsets), (_, offsets_cjk) = encoder([TEXTS[3], TEXTS[0]])
    finally:
        encoder._table.lengths[wrong] -= 1
    assert isinstance(offsets, _LazyOffsets) and isinstance(offsets_cjk, _ByteOffsets)
    assert ids == tiny_tokenizer.backend_tokenizer.encode(TEXTS[3], add_special_tokens=False).ids


def test_tokenizers_that_change_pad_or_trim_the_text_use_rust_offsets(normalizing_tokenizer, tiny_model_dir):
    from tokenizers import processors

    trimming = with_normalizer(tiny_model_dir, post_processor=processors.ByteLevel(trim_offsets=True))
    prefixed = with_normalizer(tiny_model_dir, add_prefix_space=True)
    for tokenizer in (normalizing_tokenizer, prefixed, trimming):
        assert byte_table(tokenizer) is None
        ((ids, offsets),) = RowEncoder(tokenizer)([TEXTS[0]])
        assert isinstance(offsets, _LazyOffsets)
        assert ids == tokenizer.backend_tokenizer.encode(TEXTS[0], add_special_tokens=False).ids
