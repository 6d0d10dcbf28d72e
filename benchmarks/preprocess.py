"""Preprocessing speed: axolotl's stock chat_template strategy vs the PLUG dataset type
vs one plain tokenizer pass over the rendered text, on the same rows, in one process.

    python -m benchmarks.preprocess [--rows N] [--model DIR]

Rows are the bundled demo rows (zh, ko, it, es) with their answers lengthened to about
400 tokens, rendered with SmolLM2's ChatML template. One tokenizer thread throughout, so
the three paths are compared on one core. Each path works through the rows in
1000-row batches, as datasets.map hands them out, and drops each batch's output as the
map does once it is written to Arrow; the label parity check is a separate, untimed
pass. The last line is `ratio_vs_stock=X ratio_vs_plain=Y` (targets: X >= 3, Y >= 0.75).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")

REPO = Path(__file__).resolve().parent.parent


def build_rows(count: int) -> list[dict]:
    seeds = [json.loads(line) for line in (REPO / "example_configs/data/demo_train.jsonl").read_text().splitlines()]
    rows = []
    for i in range(count):
        seed = seeds[i % len(seeds)]
        repeat = 6 + i % 5  # answers of varied, realistic length (about 400 tokens a row)
        rows.append(
            {
                **seed,
                "response": " ".join([seed["response"]] * repeat),
                "pivot_response": " ".join([seed["pivot_response"]] * repeat),
            }
        )
    return rows


def race(count: int, paths: dict, repeats: int = 3) -> dict[str, float]:
    """rows/s of each path: best of `repeats` rounds, the paths taking turns within a
    round so that none always runs on a fresher or a more fragmented heap."""
    best = {label: float("inf") for label in paths}
    for _ in range(repeats):
        for label, work in paths.items():
            gc.collect()
            start = time.perf_counter()
            work()
            best[label] = min(best[label], time.perf_counter() - start)
    for label in paths:
        print(f"{label:<28} {count / best[label]:10.0f} rows/s  (best of {repeats}: {best[label]:.2f} s)")
    return {label: count / best[label] for label in paths}


def batches(items: list, size: int = 1000):
    """datasets.map's batches (batched=True, batch_size=1000): each batch's output is
    written to Arrow and dropped, so the timed passes drop theirs too."""
    for lo in range(0, len(items), size):
        yield lo, items[lo : lo + size]


def labellers(stock, ours):
    """(stock labels of a batch of conversations, as axolotl's TokenizedPromptDataset calls
    the stock strategy; PLUG labels of a batch of rows starting at row `lo`)."""

    def stock_labels(batch):
        return stock.tokenize_prompt({"messages": [c.messages for c in batch]})["labels"]

    def ours_labels(lo, batch):
        columns = {key: [row.get(key) for row in batch] for key in batch[0]}
        return ours.tokenize_batch(columns, list(range(lo, lo + len(batch))))["labels"]

    return stock_labels, ours_labels


def race_stock_and_ours(rows: list, conversations: list, stock_labels, ours_labels, extra: dict | None = None):
    """rows/s of axolotl's stock strategy on the conversations and of the PLUG type on the
    rows (and of `extra` paths), batch by batch as datasets.map hands them out. In axolotl
    the rows live in Arrow and one batch at a time is Python objects; here they are all
    Python objects, which the garbage collector would walk again and again: they are
    frozen out of its sight, as Arrow is."""
    gc.collect()
    gc.freeze()
    try:
        return race(
            len(rows),
            {
                "stock chat_template": lambda: [stock_labels(batch) for _, batch in batches(conversations)],
                "PLUG dataset type": lambda: [ours_labels(lo, batch) for lo, batch in batches(rows)],
                **(extra or {}),
            },
        )
    finally:
        gc.unfreeze()


def seconds_per_100_samples(model_dir: str, samples: int) -> float:
    """Batched greedy generation as the evaluation callback runs it, on held-out prompts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.args import PlugConfig, PlugEvalConfig
    from axolotl_plug.format.prompt import prompt_messages
    from axolotl_plug.io.records import load_instructions
    from tests.helpers.models import generate_answers

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    records = load_instructions(str(REPO / "example_configs/data/demo_heldout.jsonl"))
    prompts = [prompt_messages(r["instruction"], r["lang"], PlugConfig()) for r in records]
    prompts = (prompts * (samples // len(prompts) + 1))[:samples]
    defaults = PlugEvalConfig()
    start = time.perf_counter()
    list(
        generate_answers(
            model, tokenizer, prompts, max_new_tokens=defaults.max_new_tokens, batch_size=defaults.batch_size
        )
    )
    return (time.perf_counter() - start) / samples * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--model", default=str(REPO / "models/smollm2-135m-instruct"))
    parser.add_argument("--gen-samples", type=int, default=16, help="Samples for the generation timing (0 skips it).")
    args = parser.parse_args()

    from axolotl.prompt_strategies.chat_template import StrategyLoader
    from axolotl.utils.dict import DictDefault
    from transformers import AutoTokenizer

    from axolotl_plug.dataset.layout import build_conversation
    from axolotl_plug.dataset.strategy import PlugStrategy
    from axolotl_plug.demo import convert_demo_model

    tokenizer = AutoTokenizer.from_pretrained(convert_demo_model(args.model))
    cfg = DictDefault({"plugins": ["axolotl_plug.PlugPlugin"], "plug": {"pivot_language": "en"}, "sequence_len": 4096})
    ours = PlugStrategy(tokenizer, cfg, {"path": "bench", "type": "plug"})
    stock = StrategyLoader()(tokenizer, cfg, {"field_messages": "messages"})
    rows = build_rows(args.rows)
    conversations = [build_conversation(row, ours.config, ours.layout) for row in rows]
    texts = [tokenizer.apply_chat_template(c.messages, tokenize=False) for c in conversations]
    tokens = sum(len(ids) for ids in tokenizer(texts[:500], add_special_tokens=False)["input_ids"]) / min(
        500, len(texts)
    )
    print(f"{len(rows)} rows, about {tokens:.0f} tokens each, tokenizer {Path(args.model).name}")

    stock_labels, ours_labels = labellers(stock, ours)
    plain = {
        "plain tokenizer pass": lambda: [tokenizer(batch, add_special_tokens=False) for _, batch in batches(texts)]
    }
    rates = race_stock_and_ours(rows, conversations, stock_labels, ours_labels, plain)

    same = 0
    for (lo, batch), (_, conversation_batch) in zip(batches(rows), batches(conversations)):
        same += sum(a == b for a, b in zip(ours_labels(lo, batch), stock_labels(conversation_batch)))
    print(f"label parity with stock: {same}/{len(rows)} rows identical")
    if args.gen_samples:
        print(
            f"generation: {seconds_per_100_samples(args.model, args.gen_samples):.1f} s per 100 samples "
            "(demo model, greedy, with the evaluation callback's default batch size and max_new_tokens)"
        )
    stock_rate, ours_rate, plain_rate = rates.values()
    print(f"ratio_vs_stock={ours_rate / stock_rate:.2f} ratio_vs_plain={ours_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
