"""`axolotl plug response-template MODEL_DIR`: the tokenizer metadata that lets vLLM,
SGLang and `transformers serve` split a PLUG answer on their own; `--write` puts it
into the folder's tokenizer_config.json (training does this itself).

    axolotl plug response-template outputs/plug-zh/merged --write
"""

from __future__ import annotations

import json

import click


@click.command("response-template")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The training config (default: the plug.json in MODEL_DIR or one level up).",
)
@click.option("--write", is_flag=True, help="Write it into MODEL_DIR/tokenizer_config.json (other keys kept).")
def response_template(model_dir, config_path, write):
    """Print the response_template of a trained PLUG model folder (its PLUG settings from
    --config, else from plug.json in it or one level up, as `axolotl merge-lora` leaves
    it), and with --write save it there."""
    from axolotl_plug.serving.metadata import TOKENIZER_CONFIG, model_response_template, write_response_template
    from axolotl_plug.serving.settings import settings_path

    settings = None
    if config_path:
        from axolotl_plug.config import read_config

        _, settings = read_config(config_path)
    else:
        try:
            settings_path(model_dir)
        except FileNotFoundError as exc:
            raise click.UsageError(str(exc)) from None
    template = model_response_template(model_dir, settings)
    click.echo(json.dumps(template, ensure_ascii=False, indent=2))
    if write:
        previous = write_response_template(model_dir, template)
        replaced = " (it replaces the tokenizer's own)" if previous not in (None, template) else ""
        click.echo(f"written to {model_dir}/{TOKENIZER_CONFIG}{replaced}", err=True)
