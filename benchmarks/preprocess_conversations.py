"""Preprocessing speed on conversation rows: three-turn conversations through the PLUG
dataset type (`plug.turns: last`, and `all`: one training row per turn) vs axolotl's stock
chat_template strategy on the same rendered conversations (the history's assistant turns
marked `training: false`), with the real Qwen2 tokenizer and Qwen2.5's ChatML template
(llama.cpp's copy), in one process on one tokenizer thread.

    python -m benchmarks.preprocess_conversations [--conversations N]

Needs the tokenizer fixtures (`make tokenizer-fixtures`). Each turn is a demo row with its
answers lengthened as in benchmarks/preprocess.py (about 400 tokens); the three turns of a
conversation share a language. Parity: every row's labels equal the stock strategy's.
The last line is `ratio_vs_stock_last=X ratio_vs_stock_all=Y` (target: both >= 2.5).
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from benchmarks.preprocess import batches, build_rows, labellers, race_stock_and_ours


def build_conversation_rows(count: int, turns: int = 3) -> list[dict]:
    """`count` conversations of `turns` turns, each turn a lengthened demo row."""
    by_lang = defaultdict(list)
    for row in build_rows(count * turns + 200):
        by_lang[row["lang"]].append(row)
    conversations = []
    while len(conversations) < count:
        for rows in by_lang.values():
            chunk, rows[:] = rows[:turns], rows[turns:]
            if len(chunk) < turns or len(conversations) == count:
                continue
            messages = []
            for row in chunk:
                messages += [
                    {"role": "user", "content": row["instruction"], "pivot": row["pivot_instruction"]},
                    {"role": "assistant", "content": row["response"], "pivot": row["pivot_response"]},
                ]
            conversations.append({"lang": chunk[0]["lang"], "messages": messages})
    return conversations


def compare(turns: str, rows: list[dict], tokenizer, template: str) -> float:
    """Race ours against stock with `plug.turns: TURNS`, check parity; the speed ratio."""
    from axolotl.prompt_strategies.chat_template import StrategyLoader
    from axolotl.utils.dict import DictDefault

    from axolotl_plug.dataset.layout import build_conversations
    from axolotl_plug.dataset.strategy import PlugStrategy

    cfg = DictDefault(
        {
            "plugins": ["axolotl_plug.PlugPlugin"],
            "plug": {"pivot_language": "en", "turns": turns},
            "chat_template": "jinja",
            "chat_template_jinja": template,
            "eot_tokens": ["<|im_end|>"],
            "sequence_len": 8192,
        }
    )
    ours = PlugStrategy(tokenizer, cfg, {"path": "bench", "type": "plug"})
    stock = StrategyLoader()(tokenizer, cfg, {"field_messages": "messages", "message_field_training": "training"})
    # the stock type gets the conversations exactly as ours renders them, history untrained
    conversations = []
    for row in rows:
        for c in build_conversations(row, ours.config, ours.layout):
            history = [{**m, "training": False} if m["role"] == "assistant" else m for m in c.messages[:-1]]
            c.messages = [*history, c.messages[-1]]
            conversations.append(c)
    print(f"plug.turns: {turns}: {len(rows)} conversations of 3 turns -> {len(conversations)} training rows")

    stock_labels, ours_labels = labellers(stock, ours)
    rates = race_stock_and_ours(rows, conversations, stock_labels, ours_labels)

    mine = [labels for lo, batch in batches(rows) for labels in ours_labels(lo, batch)]
    theirs = [labels for _, batch in batches(conversations) for labels in stock_labels(batch)]
    same = sum(m == t for m, t in zip(mine, theirs))
    print(f"label parity with stock: {same}/{len(theirs)} training rows identical")
    stock_rate, ours_rate = rates.values()
    return ours_rate / stock_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from tests.helpers.real_templates import real_chat_template
    from tests.helpers.real_tokenizers import real_tokenizer_dir

    tokenizer = AutoTokenizer.from_pretrained(real_tokenizer_dir("qwen2"))
    template = real_chat_template("Qwen-Qwen2.5-7B-Instruct").read_text(encoding="utf-8")
    rows = build_conversation_rows(args.conversations)
    last, every = (compare(turns, rows, tokenizer, template) for turns in ("last", "all"))
    print(f"ratio_vs_stock_last={last:.2f} ratio_vs_stock_all={every:.2f}")


if __name__ == "__main__":
    main()
