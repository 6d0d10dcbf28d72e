"""Preprocessing speed with the pivot in the thinking channel (`plug.pivot_channel:
reasoning`): axolotl's stock chat_template strategy on the same rows as
`reasoning_content` messages vs the PLUG dataset type, with Qwen3's real chat template
(llama.cpp's copy) and the real Qwen2 tokenizer with `<think>` and `</think>` added, in
one process on one tokenizer thread.

    python -m benchmarks.preprocess_reasoning [--rows N]

Needs the tokenizer fixtures (`make tokenizer-fixtures`). Rows and batching are those of
benchmarks/preprocess.py. Parity: wherever the stock type trains a token, ours trains
the same one; ours also trains the thinking's opening marker, which the stock type leaves
out (it finds the turn by diffing against an empty thinking). The last line is
`ratio_vs_stock=X` (target: X >= 2.5).
"""

from __future__ import annotations

import argparse

from benchmarks.preprocess import batches, build_rows, labellers, race_stock_and_ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()

    from axolotl.prompt_strategies.chat_template import StrategyLoader
    from axolotl.utils.dict import DictDefault
    from transformers import AutoTokenizer

    from axolotl_plug.dataset.layout import build_conversation
    from axolotl_plug.dataset.strategy import PlugStrategy
    from tests.helpers.real_templates import real_chat_template
    from tests.helpers.real_tokenizers import real_tokenizer_dir

    tokenizer = AutoTokenizer.from_pretrained(real_tokenizer_dir("qwen2"))
    tokenizer.add_tokens(["<think>", "</think>"])
    template = real_chat_template("Qwen-Qwen3-0.6B").read_text(encoding="utf-8")
    cfg = DictDefault(
        {
            "plugins": ["axolotl_plug.PlugPlugin"],
            "plug": {"pivot_language": "en", "pivot_channel": "reasoning"},
            "chat_template": "jinja",
            "chat_template_jinja": template,
            "sequence_len": 4096,
        }
    )
    ours = PlugStrategy(tokenizer, cfg, {"path": "bench", "type": "plug"})
    stock = StrategyLoader()(tokenizer, cfg, {"field_messages": "messages"})
    rows = build_rows(args.rows)
    conversations = [build_conversation(row, ours.config, ours.layout) for row in rows]
    print(f"{len(rows)} rows, Qwen3 template, Qwen2 tokenizer (+<think>, </think>)")

    stock_labels, ours_labels = labellers(stock, ours)

    rates = race_stock_and_ours(rows, conversations, stock_labels, ours_labels)

    same, extra = 0, set()
    for (lo, batch), (_, conversation_batch) in zip(batches(rows), batches(conversations)):
        for mine, theirs in zip(ours_labels(lo, batch), stock_labels(conversation_batch)):
            same += len(mine) == len(theirs) and all(t == -100 or m == t for m, t in zip(mine, theirs))
            extra.update(tokenizer.decode([m]) for m, t in zip(mine, theirs) if t == -100 and m != -100)
    print(f"label parity with stock where it trains: {same}/{len(rows)} rows identical")
    print(f"trained by ours only: {sorted(extra)}")
    stock_rate, ours_rate = rates.values()
    print(f"ratio_vs_stock={ours_rate / stock_rate:.2f}")


if __name__ == "__main__":
    main()
