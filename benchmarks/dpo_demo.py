"""The PLUG preference loop on the CPU demo model: a smoke run, not a quality claim.

    make demo && python -m benchmarks.dpo_demo [--prompts 40] [--steps 20]

1. The demo SFT model (`make demo`: SmolLM2-135M with a PLUG LoRA), merged.
2. Two sampled answers (temperature 0.7, seeds 1 and 2) to the first `--prompts`
   instructions of the demo's training rows.
3. A local rule judge on a loopback server, in both answer orders: it prefers the answer
   whose text is more in the instruction's language, then the longer one; a tie when
   both are empty. It stands in for an LLM judge so the loop runs offline.
4. `data prefs` on the judged pairs, then `axolotl train` with `rl: dpo` (a LoRA on the
   merged SFT model) for `--steps` steps.
5. Greedy answers of the SFT and the SFT+DPO models to the 40 held-out instructions,
   compared by the same judge. Printed: the pairs kept, the DPO losses, the win / tie /
   loss of SFT+DPO against SFT, and each model's format_ok and target_lang_ok.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from axolotl_plug.args import PlugConfig
from axolotl_plug.format.langid import identify, share_in_language
from benchmarks.serving import merged_model
from tests.helpers.engine import FakeEngine

REPO = Path(__file__).resolve().parents[1]


def rule_judge(body: dict, number: int) -> str:
    """Prefer the answer more in the instruction's language, then the longer one."""
    user = body["messages"][1]["content"]
    instruction = user.split("[User instruction]\n")[1].split("\n\n[Answer A]")[0]
    first, second = user.split("[Answer A]\n")[1].split("\n\n[Answer B]\n")
    lang = identify(instruction, ("zh", "ko", "it", "es", "en")) or "en"

    def score(text: str) -> tuple[float, int]:
        return (round(share_in_language(text, lang, (lang, "en")), 2), len(text)) if text.strip() else (-1.0, 0)

    a, b = score(first), score(second)
    return "[[C]]" if a == b else "[[A]]" if a > b else "[[B]]"


def generate(model_dir: Path, records: list[dict], output: Path, config: PlugConfig, **sampling) -> None:
    from axolotl_plug.eval.answers import Sampling
    from axolotl_plug.eval.generation import generate_file, load_for_generation

    model, tokenizer = load_for_generation(model_dir)
    generate_file(
        model,
        tokenizer,
        records,
        config,
        output,
        output.stem,
        max_new_tokens=160,
        batch_size=8,
        sampling=Sampling(**sampling),
        progress=False,
    )


def judge(bench: Path, a: Path, b: Path, out: Path) -> dict:
    from axolotl_plug.eval.judge.run import run_judge
    from axolotl_plug.io.client import ChatClient

    with FakeEngine(rule_judge) as server:
        return run_judge(str(bench), a, b, out, ChatClient("rule-judge", server.url), reasks=0, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "outputs/demo/model")
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    if not (args.model_dir / "plug.json").is_file():
        sys.exit(f"{args.model_dir}/plug.json not found: run `make demo` first")
    from axolotl_plug.datagen.prefs import build_prefs
    from axolotl_plug.eval.answers import file_metrics
    from axolotl_plug.io.records import load_instructions, read_records, write_jsonl

    config = PlugConfig()  # per-row languages, as the demo was trained
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        sft = merged_model(args.model_dir, scratch / "sft")
        train_rows = read_records(REPO / "example_configs/data/demo_train.jsonl")[: args.prompts]
        prompts = scratch / "prompts.jsonl"
        write_jsonl(
            prompts, [{"id": i, "instruction": r["instruction"], "lang": r["lang"]} for i, r in enumerate(train_rows)]
        )
        records = load_instructions(str(prompts))
        for seed in (1, 2):
            generate(sft, records, scratch / f"sample-{seed}.jsonl", config, temperature=0.7, top_p=1.0, seed=seed)
        judge(prompts, scratch / "sample-1.jsonl", scratch / "sample-2.jsonl", scratch / "judged-samples")
        report = build_prefs(
            scratch / "sample-1.jsonl", scratch / "sample-2.jsonl", scratch / "judged-samples", scratch / "prefs.jsonl"
        )
        print(
            f"dpo_demo_pairs kept={report['kept']} dropped={json.dumps(report['dropped'])} "
            f"chosen_chars={report['chosen_mean_chars']:.0f} rejected_chars={report['rejected_mean_chars']:.0f}"
        )

        cfg = yaml.safe_load((REPO / "example_configs/plug_demo.yml").read_text(encoding="utf-8"))
        cfg.update(
            {
                "base_model": str(sft),
                "rl": "dpo",
                "rl_beta": 0.1,
                "datasets": [{"path": str(scratch / "prefs.jsonl"), "type": "plug"}],
                "dataset_prepared_path": str(scratch / "prepared"),
                "output_dir": str(scratch / "dpo"),
                "max_steps": args.steps,
                "micro_batch_size": 2,
                "learning_rate": 5e-5,
                "val_set_size": 0,
                "eval_strategy": "no",
                "warmup_steps": 2,
                "logging_steps": 1,
            }
        )
        cfg["plug"].pop("eval", None)
        (scratch / "dpo.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        result = subprocess.run(
            [str(Path(sys.executable).parent / "axolotl"), "train", str(scratch / "dpo.yml")],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode:
            sys.exit(result.stdout[-3000:] + result.stderr[-3000:])
        losses = [float(v) for v in re.findall(r"'loss': '([-\d.e]+)'", result.stdout + result.stderr)]
        print(f"dpo_demo_train steps={len(losses)} first_loss={losses[0]:.4f} last_loss={losses[-1]:.4f}")

        heldout = load_instructions(str(REPO / "example_configs/data/demo_heldout.jsonl"))
        generate(sft, heldout, scratch / "sft.jsonl", config)
        generate(scratch / "dpo", heldout, scratch / "sft-dpo.jsonl", config)
        summary = judge(
            REPO / "example_configs/data/demo_heldout.jsonl",
            scratch / "sft-dpo.jsonl",
            scratch / "sft.jsonl",
            scratch / "judged-heldout",
        )
        n = summary["n"]
        print(
            f"dpo_demo_heldout n={n} sft_dpo_wins={summary['a']['win_rate']:.3f} ties={summary['ties'] / n:.3f} "
            f"sft_wins={summary['b']['win_rate']:.3f} errors={summary['errors']}"
        )
        for name in ("sft", "sft-dpo"):
            metrics = file_metrics(scratch / f"{name}.jsonl", config)
            print(
                f"dpo_demo_metrics model={name} format_ok={metrics['plug/format_ok']:.3f} "
                f"target_lang_ok={metrics['plug/target_lang_ok']:.3f}"
            )
    print(f"dpo_demo_seconds={time.perf_counter() - start:.0f}")


if __name__ == "__main__":
    main()
