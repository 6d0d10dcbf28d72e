"""`axolotl plug chat`: chat with a trained PLUG model in the terminal.

axolotl plug chat --model-dir outputs/plug-demo --show-pivot
"""

from __future__ import annotations

import click

from axolotl_plug.cli.common import model_settings, quiet_host, verbose_option


@click.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--model-dir",
    default=None,
    help="Trained output folder: a full model or a LoRA adapter (default: the config's output_dir).",
)
@click.option(
    "--lang",
    default=None,
    help="Target language code (default: the config's; a per-row model identifies it per message).",
)
@click.option("--show-pivot", is_flag=True, help="Show the pivot sections too, dimmed.")
@click.option("--max-new-tokens", default=None, type=int, help="Default: what sequence_len leaves after the prompt.")
@click.option("--temperature", default=0.0, show_default=True, help="0 decodes greedily, as evaluation does.")
@verbose_option
def chat(config, model_dir, lang, show_pivot, max_new_tokens, temperature, verbose):
    """Chat with a trained PLUG model in the terminal: see the target answer, streamed.

    Each line you type is a new conversation with the PLUG prompt training used; the
    answer ends with its extraction status and speed. Ctrl-D or `exit` quits."""
    quiet_host(verbose)
    from axolotl_plug.eval.generation import answer_budget, load_for_generation
    from axolotl_plug.format.languages import UnknownLanguageError, get_language
    from axolotl_plug.serving.chat import chat_loop

    settings, sequence_len, folder = model_settings(config, model_dir)
    answer_budget(0, max_new_tokens, sequence_len)  # say now, not after loading the model, when there is no limit
    if lang is not None:
        try:
            get_language(lang, settings.header_overrides())
        except UnknownLanguageError as exc:
            raise click.UsageError(f"--lang: {exc}") from None
    model, tokenizer = load_for_generation(folder)
    chat_loop(
        model,
        tokenizer,
        settings,
        lang,
        show_pivot=show_pivot,
        max_new_tokens=max_new_tokens,
        sequence_len=sequence_len,
        temperature=temperature,
    )
