"""What PLUG costs at inference, measured through `axolotl plug serve`.

    make demo && python -m benchmarks.serving [--model-dir outputs/demo/model] [--max-tokens 256]
    [--baseline-dir outputs/demo-monolingual/model]

1. `transformers serve` (CPU) runs the demo model that `make demo` trained (its LoRA
   merged into the base), behind `axolotl plug serve`; the 40 held-out demo prompts are
   streamed one at a time, greedy. Printed: the median time to the first token (pivot
   text included) and to the first target token.
2. The same prompts go to the baseline: the demo trained with `mode: monolingual`
   (`axolotl train example_configs/plug_demo_monolingual.yml`), also behind `plug serve`;
   without it, the untrained SmolLM2 model with the bare instruction. Printed: the mean
   number of tokens generated per answer (the engine's `usage`), PLUG against baseline,
   and PLUG's pivot and target tokens (`x_plug`).
3. The proxy's own latency: a loopback engine streams 2000 one-character chunks, 1 ms
   apart, each stamped with its send time; a client reads them directly and through
   `plug serve`. Printed: p50 and p99 of the arrival delay per chunk, both ways, and
   their difference (what the proxy adds). Target: under 1 ms at p99. Also the
   splitter's time per delta at the end of a 30,000-character answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import httpx

from tests.helpers.engine import FakeEngine
from tests.helpers.servers import plug_serve, transformers_serve

REPO = Path(__file__).resolve().parents[1]


def merged_model(model_dir: str | Path, folder: str | Path) -> Path:
    """A full model folder for engines that cannot load adapters: a LoRA output folder
    merged into its base and saved to `folder` (with the tokenizer and plug.json); a
    full model folder is returned as it is."""
    model_dir, folder = Path(model_dir), Path(folder)
    if not (model_dir / "adapter_config.json").is_file():
        return model_dir
    from axolotl_plug.eval.generation import load_for_generation

    model, tokenizer = load_for_generation(model_dir)
    model.merge_and_unload().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if (model_dir / "plug.json").is_file():
        (folder / "plug.json").write_text((model_dir / "plug.json").read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def stream_times(url: str, body: dict) -> dict:
    """Seconds to the first token and to the first target token, x_plug and usage."""
    start = time.perf_counter()
    first = first_target = report = usage = None
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            assert "error" not in chunk, chunk
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices", []):
                delta = choice.get("delta") or {}
                now = time.perf_counter() - start
                if delta.get("reasoning_content") or delta.get("content"):
                    first = first if first is not None else now
                if delta.get("content"):
                    first_target = first_target if first_target is not None else now
                report = choice.get("x_plug") or report
    return {"first": first, "first_target": first_target, "x_plug": report, "usage": usage}


def answer_all(served: Path, records: list[dict], settings: dict, scratch: Path, proxied: bool) -> list[dict]:
    """Stream every prompt, one at a time: through `plug serve` (which adds the system
    prompt training used) or straight to the engine with the bare instruction."""
    rows = []
    with transformers_serve(served, scratch) as engine:
        with plug_serve(engine, "--model-dir", str(served)) if proxied else nullcontext(engine) as url:
            for record in records:
                body = {
                    "model": str(served),
                    "messages": [{"role": "user", "content": record["instruction"]}],
                    **settings,
                }
                if proxied:
                    body["x_plug"] = {"target_language": record["lang"], "show_pivot": True}
                rows.append(stream_times(url, body))
    return rows


def model_costs(
    model_dir: Path, baseline_dir: Path | None, base_dir: Path, records: list[dict], max_tokens: int, scratch: Path
) -> None:
    settings = {"temperature": 0.0, "max_tokens": max_tokens, "stream": True}
    plug_rows = answer_all(merged_model(model_dir, scratch / "plug"), records, settings, scratch, proxied=True)
    if baseline_dir is not None:
        baseline, name = (
            answer_all(merged_model(baseline_dir, scratch / "baseline"), records, settings, scratch, True),
            "monolingual",
        )
    else:
        baseline, name = answer_all(base_dir, records, settings, scratch, proxied=False), "untrained"

    def generated(row: dict) -> int:  # the engine's own count, headers included
        assert row["usage"], "the engine sent no usage"
        return row["usage"]["completion_tokens"]

    def median(rows: list[dict], key: str) -> str:
        values = [r[key] for r in rows if r[key] is not None]
        return f"{statistics.median(values):.3f}"

    plug_tokens, base_tokens = [generated(r) for r in plug_rows], [generated(r) for r in baseline]
    statuses = [r["x_plug"]["status"] for r in plug_rows]
    print(f"prompts={len(records)} max_tokens={max_tokens} engine=transformers-serve-cpu baseline={name}")
    print(
        f"plug_ttft_median_s={median(plug_rows, 'first')} plug_first_target_token_median_s={median(plug_rows, 'first_target')} "
        f"{name}_ttft_median_s={median(baseline, 'first')}"
    )
    print(
        f"plug_answers_with_target={sum(r['first_target'] is not None for r in plug_rows)}/{len(plug_rows)} "
        f"status_ok={statuses.count('ok')}"
    )
    print(
        f"mean_generated_tokens plug={statistics.mean(plug_tokens):.1f} {name}={statistics.mean(base_tokens):.1f} "
        f"ratio={statistics.mean(plug_tokens) / statistics.mean(base_tokens):.2f} "
        f"(cut at max_tokens: plug {sum(t >= max_tokens for t in plug_tokens)}, {name} {sum(t >= max_tokens for t in base_tokens)})"
    )
    print(
        f"plug_mean_tokens pivot={statistics.mean(r['x_plug']['pivot_tokens'] for r in plug_rows):.1f} "
        f"target={statistics.mean(r['x_plug']['target_tokens'] for r in plug_rows):.1f} (headers in neither)"
    )


def delays(url: str, chunks: int) -> list[float]:
    """Milliseconds from each chunk's send (t_sent) to its arrival here."""
    out = []
    body = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": f"paced:{chunks}"}],
        "x_plug": {"target_language": "zh"},
    }
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=60) as response:
        for line in response.iter_lines():
            arrived = time.monotonic_ns()
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if "t_sent" in chunk and (chunk["choices"] and chunk["choices"][0]["delta"].get("content")):
                    out.append((arrived - chunk["t_sent"]) / 1e6)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def proxy_latency(model_dir: Path, chunks: int, rounds: int) -> None:
    with FakeEngine() as engine, plug_serve(engine.url, "--model-dir", str(model_dir)) as proxy:
        direct, through = [], []
        delays(proxy, 100)  # warm-up: connections, first imports
        for _ in range(rounds):  # alternate, so both see the same machine state
            direct += delays(engine.url, chunks)
            through += delays(proxy, chunks)
    for name, values in (("direct", direct), ("through_proxy", through)):
        print(
            f"{name}_chunk_delay_ms p50={percentile(values, 0.5):.3f} p99={percentile(values, 0.99):.3f} n={len(values)}"
        )
    print(
        f"proxy_added_ms p50={percentile(through, 0.5) - percentile(direct, 0.5):.3f} "
        f"p99={percentile(through, 0.99) - percentile(direct, 0.99):.3f}"
    )


def splitter_cost() -> None:
    """The splitter's time per delta on a long answer (30,000 characters, 4 per delta):
    the part of the proxy's work that grows with the answer."""
    from axolotl_plug.format.answer import AnswerFormat

    text = "English instruction:\nQ\n\nEnglish response:\n" + "word " * 3000 + "\n\n中文回复：\n" + "字" * 15000
    splitter, times = AnswerFormat.of("zh").splitter(), []
    for i in range(0, len(text), 4):
        start = time.perf_counter()
        splitter.feed(text[i : i + 4])
        times.append((time.perf_counter() - start) * 1e3)
    splitter.close()
    print(
        f"splitter_ms_per_delta chars={len(text)} p50={percentile(times, 0.5):.4f} p99={percentile(times, 0.99):.4f} "
        f"max={max(times):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=REPO / "outputs/demo/model")
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        default=REPO / "outputs/demo-monolingual/model",
        help="A `mode: monolingual` model (example_configs/plug_demo_monolingual.yml); "
        "if missing, the untrained base model is the baseline.",
    )
    parser.add_argument("--base-model", type=Path, default=REPO / "models/smollm2-135m-instruct")
    parser.add_argument("--heldout", type=Path, default=REPO / "example_configs/data/demo_heldout.jsonl")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true", help="Only the proxy latency (no trained model needed).")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not (args.model_dir / "plug.json").is_file():
        sys.exit(f"{args.model_dir}/plug.json not found: run `make demo` first")
    splitter_cost()
    proxy_latency(args.model_dir, args.chunks, args.rounds)
    if not args.skip_model:
        records = [json.loads(line) for line in args.heldout.read_text(encoding="utf-8").splitlines() if line.strip()]
        with tempfile.TemporaryDirectory() as scratch:
            baseline = args.baseline_dir if (args.baseline_dir / "plug.json").is_file() else None
            model_costs(args.model_dir, baseline, args.base_model, records, args.max_tokens, Path(scratch))


if __name__ == "__main__":
    main()
