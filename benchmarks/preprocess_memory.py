"""Peak memory of `axolotl preprocess` on many PLUG rows (target: under 4 GB).

    python -m benchmarks.preprocess_memory [--rows 200000] [--num-proc 2] [--stock] [--conversations]

Writes ROWS mixed-language PLUG rows (the demo rows, answers lengthened) to a JSONL file,
runs the real `axolotl preprocess` on the demo model's tokenizer with
`dataset_num_proc: NUM_PROC`, and samples the memory of the whole process tree (the CLI
and the map workers) every 0.2 s. Prints the peak summed PSS (the memory the tree really
occupies), the peak summed RSS (shared pages counted once per process) and the largest
single process. `--stock` runs the same conversations through axolotl's stock
`chat_template` type instead, for comparison. `--conversations`: ROWS three-turn
conversation rows (benchmarks/preprocess_conversations.py) expanded with `plug.turns: all`
into three training rows each (with `--stock`, the expanded conversations, history marked
`training: false`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from benchmarks.preprocess import build_rows

REPO = Path(__file__).resolve().parent.parent


def tree_memory(process: psutil.Process) -> tuple[int, int, int]:
    """(summed PSS, summed RSS, largest RSS) in bytes over a process and its descendants.

    Forked map workers share the parent's pages (torch, transformers) copy-on-write:
    summed RSS counts those pages once per process, PSS divides each shared page among
    the processes sharing it, so summed PSS is the memory the tree really occupies."""
    pss, rss = [], []
    for p in [process, *process.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        pss.append(info.pss)
        rss.append(info.rss)
    return sum(pss), sum(rss), max(rss, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--model", default=str(REPO / "models/smollm2-135m-instruct"))
    parser.add_argument(
        "--stock", action="store_true", help="Use axolotl's chat_template type on the same conversations."
    )
    parser.add_argument(
        "--conversations", action="store_true", help="Three-turn conversation rows, every turn trained."
    )
    args = parser.parse_args()

    from axolotl_plug.args import PlugConfig
    from axolotl_plug.dataset.layout import build_conversations
    from axolotl_plug.demo import convert_demo_model
    from benchmarks.preprocess_conversations import build_conversation_rows

    settings = {"pivot_language": "en", "turns": "all"}

    convert_demo_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "rows.jsonl"
        with open(data, "w", encoding="utf-8") as handle:
            for row in build_conversation_rows(args.rows) if args.conversations else build_rows(args.rows):
                if not args.stock:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                    continue
                for c in build_conversations(row, PlugConfig(**settings)):
                    history = [{**m, "training": False} if m["role"] == "assistant" else m for m in c.messages[:-1]]
                    handle.write(json.dumps({"messages": [*history, c.messages[-1]]}, ensure_ascii=False) + "\n")
        dataset = (
            {
                "path": str(data),
                "type": "chat_template",
                "field_messages": "messages",
                "message_field_training": "training",
            }
            if args.stock
            else {"path": str(data), "type": "plug"}
        )
        config = {
            "base_model": args.model,
            "plugins": ["axolotl_plug.PlugPlugin"],
            "plug": settings,
            "datasets": [dataset],
            "dataset_prepared_path": str(tmp / "prepared"),
            "output_dir": str(tmp / "out"),
            "sequence_len": 4096 if args.conversations else 1024,
            "sample_packing": False,
            "dataset_num_proc": args.num_proc,
            "micro_batch_size": 1,
            "num_epochs": 1,
            "learning_rate": 1e-4,
            "bf16": False,
            "fp16": False,
            "tf32": False,
            "val_set_size": 0,
        }
        path = tmp / "cfg.yml"
        path.write_text(yaml.safe_dump(config))
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "AXOLOTL_DO_NOT_TRACK": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        start = time.monotonic()
        child = subprocess.Popen(
            [str(Path(sys.executable).parent / "axolotl"), "preprocess", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        root = psutil.Process(child.pid)
        peak_pss = peak_rss = peak_max = 0
        while child.poll() is None:
            pss, rss, largest = tree_memory(root)
            peak_pss, peak_rss, peak_max = max(peak_pss, pss), max(peak_rss, rss), max(peak_max, largest)
            time.sleep(0.2)
        seconds = time.monotonic() - start
        if child.returncode != 0:
            raise SystemExit(f"axolotl preprocess failed with exit code {child.returncode}")
        prepared = sum(f.stat().st_size for f in (tmp / "prepared").rglob("*") if f.is_file())
    gib = 1024**3
    print(
        f"{args.rows} {'three-turn conversations (turns: all)' if args.conversations else 'rows'}, "
        f"{'stock chat_template' if args.stock else 'PLUG'} type, "
        f"dataset_num_proc {args.num_proc}: preprocess took {seconds:.0f} s, "
        f"prepared dataset {prepared / gib:.2f} GiB"
    )
    print(
        f"peak memory of the process tree: {peak_pss / gib:.2f} GiB PSS (shared pages counted once); "
        f"{peak_rss / gib:.2f} GiB summed RSS (shared pages counted per process); "
        f"largest single process {peak_max / gib:.2f} GiB RSS"
    )


if __name__ == "__main__":
    main()
