"""`axolotl plug data build|translate|prefs`: PLUG training data from instruction data,
its translations, and judged answer pairs.

    axolotl plug data build --pivot alpaca_en.json --target alpaca_zh.json --lang zh --output plug_zh.jsonl
"""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_plug.cli.common import PlugGroup, chat_client, endpoint_options, one_run_per_output


@click.group(cls=PlugGroup)
def data():
    """Build PLUG training data from instruction data and its translations."""


@data.command("build")
@click.option(
    "--pivot",
    "pivot_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Pivot-language data (JSON, JSONL, Alpaca).",
)
@click.option(
    "--target", "target_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Its translation."
)
@click.option("--lang", required=True, help="Target language code.")
@click.option("--pivot-lang", default="en", show_default=True)
@click.option("--id-field", default="id", show_default=True, help="Rows without it are numbered by position.")
@click.option("--on-bad-row", type=click.Choice(["skip", "error"]), default="skip", show_default=True)
@click.option("--reject-length-outliers", is_flag=True, help="Reject (not only flag) response-length outliers.")
@click.option("--output", required=True, type=click.Path(dir_okay=False))
@one_run_per_output(folder=False)
def build(pivot_file, target_file, lang, pivot_lang, id_field, on_bad_row, reject_length_outliers, output):
    """Join two files by id into PLUG rows; report and rejected rows go next to OUTPUT."""
    from axolotl_plug.datagen.build import build, format_report

    report = build(
        Path(pivot_file),
        Path(target_file),
        lang,
        Path(output),
        pivot_lang,
        id_field,
        on_bad_row,
        reject_length_outliers,
    )
    click.echo(format_report(report))


@data.command("prefs")
@click.option(
    "--a",
    "a_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Answers of system A (generate's output).",
)
@click.option("--b", "b_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Answers of system B.")
@click.option(
    "--judgments",
    "judge_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The --output folder of `axolotl plug judge --a A --b B` (pairwise).",
)
@click.option(
    "--require-target-language",
    is_flag=True,
    help="Drop pairs whose chosen target answer is not in the target language.",
)
@click.option(
    "--pivot-lang", default="en", show_default=True, help="With --require-target-language: the pivot language."
)
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False), help="JSONL of preference rows (chosen, rejected)."
)
@one_run_per_output(folder=False)
def prefs(a_path, b_path, judge_dir, require_target_language, pivot_lang, output):
    """Judged pairs of PLUG answers into preference rows for `type: plug` under `rl: dpo`."""
    from axolotl_plug.datagen.prefs import build_prefs, format_report

    report = build_prefs(
        Path(a_path),
        Path(b_path),
        Path(judge_dir),
        Path(output),
        require_target_language=require_target_language,
        pivot_language=pivot_lang,
    )
    click.echo(format_report(report, Path(output)))


@data.command("translate")
@click.option(
    "--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Pivot-language data."
)
@click.option("--lang", required=True, help="Target language code.")
@click.option("--source-lang", default="en", show_default=True)
@click.option("--model", required=True, help="Model name sent to the endpoint.")
@click.option(
    "--reasks",
    default=1,
    show_default=True,
    help="Times an unusable translation (markers lost, wrong language) is asked again.",
)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL; resumed if it exists.")
@endpoint_options()
@one_run_per_output(folder=False)
def translate(
    input_file, lang, source_lang, model, reasks, output, base_url, api_key_env, concurrency, max_retries, timeout
):
    """Translate instruction and response together, one request per row."""
    from axolotl_plug.datagen.translate import translate_file
    from axolotl_plug.io.records import sibling

    with chat_client(model, base_url, api_key_env, timeout, max_retries) as client:
        counts = translate_file(
            Path(input_file),
            lang,
            Path(output),
            client,
            source_lang=source_lang,
            concurrency=concurrency,
            reasks=reasks,
        )
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    if counts["failed"]:
        raise click.ClickException(
            f"{counts['failed']} rows failed, each with its reason in "
            f"{sibling(Path(output), 'failed.jsonl')}; run the same command again to retry them"
        )
