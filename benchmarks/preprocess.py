"""Preprocessing speed: axolotl's stock chat_template strategy vs the PLUG dataset type
vs one plain tokenizer pass over the rendered text, on the same rows, in one process.

    python benchmarks/preprocess.py [--rows N] [--model DIR]

Rows are the bundled demo rows (zh, ko, it, es) with their answers lengthened to about
400 tokens, rendered with SmolLM2's ChatML template. One tokenizer thread throughout, so
the three paths are compared on one core. The last line is
`ratio_vs_stock=X ratio_vs_plain=Y` (targets: X >= 3, Y >= 0.75).
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


def race(count: int, paths: dict, repeats: int = 3) -> dict[str, tuple[float, object]]:
    """rows/s and output of each path: best of `repeats` rounds, the paths taking turns
    within a round so that none always runs on a fresher or a more fragmented heap.
    A run's previous output is freed before its clock starts."""
    best = {label: float("inf") for label in paths}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for label, work in paths.items():
            results[label] = None
            gc.collect()
            start = time.perf_counter()
            results[label] = work()
            best[label] = min(best[label], time.perf_counter() - start)
    for label in paths:
        print(f"{label:<28} {count / best[label]:10.0f} rows/s  (best of {repeats}: {best[label]:.2f} s)")
    return {label: (count / best[label], results[label]) for label in paths}


def seconds_per_100_samples(model_dir: str, samples: int) -> float:
    """Batched greedy generation as the evaluation callback runs it, on held-out prompts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from axolotl_plug.args import PlugConfig, PlugEvalConfig
    from axolotl_plug.eval.sources import load_instructions
    from axolotl_plug.generate import generate_answers
    from axolotl_plug.layout import prompt_messages

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    records = load_instructions(str(REPO / "example_configs/data/demo_heldout.jsonl"))
    prompts = [prompt_messages(r["instruction"], r["lang"], PlugConfig()) for r in records]
    prompts = (prompts * (samples // len(prompts) + 1))[:samples]
    defaults = PlugEvalConfig()
    start = time.perf_counter()
    list(generate_answers(model, tokenizer, prompts, max_new_tokens=defaults.max_new_tokens, batch_size=defaults.batch_size))
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

    from axolotl_plug.demo import convert_demo_model
    from axolotl_plug.layout import build_conversation
    from axolotl_plug.plug import PlugStrategy

    tokenizer = AutoTokenizer.from_pretrained(convert_demo_model(args.model))
    cfg = DictDefault({"plugins": ["axolotl_plug.PlugPlugin"], "plug": {"pivot_language": "en"}, "sequence_len": 4096})
    ours = PlugStrategy(tokenizer, cfg, {"path": "bench", "type": "axolotl_plug.plug"})
    stock = StrategyLoader()(tokenizer, cfg, {"field_messages": "messages"})
    rows = build_rows(args.rows)
    conversations = [build_conversation(row, ours.config, ours.layout) for row in rows]
    texts = [tokenizer.apply_chat_template(c.messages, tokenize=False) for c in conversations]
    tokens = sum(len(ids) for ids in tokenizer(texts[:500], add_special_tokens=False)["input_ids"]) / min(500, len(texts))
    print(f"{len(rows)} rows, about {tokens:.0f} tokens each, tokenizer {Path(args.model).name}")

    def stock_pass():
        # as axolotl's TokenizedPromptDataset calls it: batches of 1000 rows (batched=True)
        labels = []
        for lo in range(0, len(conversations), 1000):
            batch = {"messages": [c.messages for c in conversations[lo : lo + 1000]]}
            labels += stock.tokenize_prompt(batch)["labels"]
        return labels

    def ours_pass():
        labels = []
        for lo in range(0, len(rows), 1000):  # datasets.map's batches
            batch = rows[lo : lo + 1000]
            columns = {key: [row.get(key) for row in batch] for key in batch[0]}
            labels += ours.tokenize_batch(columns, list(range(lo, lo + len(batch))))["labels"]
        return labels

    # In axolotl the rows live in Arrow and one batch at a time is Python objects; here
    # they are all Python objects, which the garbage collector would walk again and
    # again. Freeze them out of its sight, as Arrow is.
    gc.collect()
    gc.freeze()

    timings = race(len(rows), {
        "stock chat_template": stock_pass,
        "PLUG dataset type": ours_pass,
        "plain tokenizer pass": lambda: tokenizer(texts, add_special_tokens=False),
    })
    (stock_rate, stock_labels), (ours_rate, labels), (plain_rate, _) = timings.values()
    gc.unfreeze()
    same = sum(a == b for a, b in zip(stock_labels, labels))
    print(f"label parity with stock: {same}/{len(rows)} rows identical")
    if args.gen_samples:
        print(f"generation: {seconds_per_100_samples(args.model, args.gen_samples):.1f} s per 100 samples "
              "(demo model, greedy, with the evaluation callback's default batch size and max_new_tokens)")
    print(f"ratio_vs_stock={ours_rate / stock_rate:.2f} ratio_vs_plain={ours_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
