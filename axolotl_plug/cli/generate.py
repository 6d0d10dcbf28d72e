"""`axolotl plug generate`: answers for a benchmark, resumable.

    axolotl plug generate --model-dir outputs/plug-demo \\
        --instructions example_configs/data/demo_heldout.jsonl --output answers/plug.jsonl
"""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_plug.cli.common import endpoint_options, model_settings, one_run_per_output, quiet_host, verbose_option
from axolotl_plug.format.sections import EXTRACTIONS


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--instructions", required=True, help="JSON/JSONL file or hub dataset id (fields id, instruction, lang?)."
)
@click.option("--split", default=None, help="Hub split or file stem (e.g. `chinese` for X-AlpacaEval).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL file; resumed if it exists.")
@click.option(
    "--model-dir", default=None, help="Trained output folder or LoRA adapter (default: the config's output_dir)."
)
@click.option("--generator", default=None, help="Name written in each line (default: the model folder's name).")
@click.option(
    "--max-new-tokens",
    default=None,
    type=int,
    help="Token limit of an answer. Default: the config's sequence_len minus the prompt.",
)
@click.option(
    "--extraction",
    type=click.Choice(EXTRACTIONS),
    default="ours",
    show_default=True,
    help="How `output` is cut from the answer: our rule, or the reference's (after the first exact target header).",
)
@click.option("--batch-size", default=8, show_default=True, help="Local generation: prompts per batch.")
@click.option(
    "--temperature",
    default=0.0,
    show_default=True,
    help="0 decodes greedily (the paper's evaluation); above 0 samples, e.g. candidates for preference data.",
)
@click.option("--top-p", default=1.0, show_default=True, help="With --temperature: nucleus sampling.")
@click.option(
    "--seed", default=0, show_default=True, help="With --temperature: runs with different seeds give different answers."
)
@endpoint_options(base_url=None, concurrency=16, timeout=600.0, when="With --base-url: ")
@click.option(
    "--served-model",
    default=None,
    help="With --base-url: the model name the server knows (default: --model-dir as given).",
)
@verbose_option
@one_run_per_output(folder=False)
def generate(
    config,
    instructions,
    split,
    output,
    model_dir,
    generator,
    max_new_tokens,
    extraction,
    batch_size,
    temperature,
    top_p,
    seed,
    base_url,
    api_key_env,
    concurrency,
    max_retries,
    timeout,
    served_model,
    verbose,
):
    """Answer benchmark instructions with CONFIG's prompts, greedily or sampled; print the metrics table.

    Without CONFIG, --model-dir's plug.json (written at the end of training) gives the
    PLUG settings and sequence_len."""
    quiet_host(verbose)
    from axolotl_plug.eval.answers import Sampling
    from axolotl_plug.eval.generate import Endpoint
    from axolotl_plug.eval.generate import generate as run_generate
    from axolotl_plug.eval.metrics import format_table

    settings, sequence_len, folder = model_settings(config, model_dir)
    endpoint = None
    if base_url:
        endpoint = Endpoint(base_url, served_model or str(folder), api_key_env, concurrency, max_retries, timeout)
    metrics, counts = run_generate(
        instructions,
        Path(output),
        settings,
        folder,
        split=split,
        sequence_len=sequence_len,
        max_new_tokens=max_new_tokens,
        generator=generator,
        extraction=extraction,
        sampling=Sampling(temperature, top_p, seed),
        batch_size=batch_size,
        endpoint=endpoint,
    )
    click.echo(format_table(metrics))
    click.echo(
        f"answers {counts['answers']}: truncated by the token limit {counts['truncated']}, "
        f"no target answer {counts['no_target_answer']}"
    )
