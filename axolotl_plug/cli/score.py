"""`axolotl plug score svamp|truthfulqa`: benchmark answers against their references.

axolotl plug score svamp --answers plug.jsonl --references x_svamp_zh.jsonl --output runs/svamp-zh
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import click

from axolotl_plug.cli.common import PlugGroup, chat_client, endpoint_options, one_run_per_output
from axolotl_plug.eval.judge.prompt import PROTOCOLS


@click.group(cls=PlugGroup)
def score():
    """Score benchmark answers against their references (X-SVAMP, X-TruthfulQA)."""


answers_option = click.option(
    "--answers",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Answers to score (generate's output: id, output).",
)
split_option = click.option("--split", default=None, help="Hub split (the language), or a file stem.")


@score.command("svamp")
@answers_option
@click.option(
    "--references",
    required=True,
    help="X-SVAMP: a JSON/JSONL file or hub id (id, instruction, answer), "
    "e.g. zhihz0535/X-SVAMP_en_zh_ko_it_es with --split.",
)
@split_option
@click.option(
    "--extract-model",
    default=None,
    help="Extract each answer's number with this chat model first (the reference used gpt-3.5-turbo).",
)
@click.option(
    "--extract-prompt-file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="With --extract-model: a few-shot prompt with {question} and {response} (default: ours).",
)
@click.option(
    "--denominator",
    type=click.Choice(("references", "answers")),
    default="references",
    show_default=True,
    help="Accuracy over every reference id (an unanswered one is wrong), or over the answered ones "
    "(the reference's evaluate_svamp.py).",
)
@click.option(
    "--output", required=True, type=click.Path(file_okay=False), help="Folder for scored.jsonl and the summaries."
)
@endpoint_options()
@one_run_per_output(folder=True)
def svamp(
    answers,
    references,
    split,
    extract_model,
    extract_prompt_file,
    denominator,
    output,
    base_url,
    api_key_env,
    concurrency,
    max_retries,
    timeout,
):
    """Accuracy of the final number, with the reference's rule."""
    from axolotl_plug.eval.score.svamp import score_svamp, svamp_markdown

    if extract_prompt_file and not extract_model:
        raise click.UsageError("--extract-prompt-file goes with --extract-model")
    extractor = (
        chat_client(extract_model, base_url, api_key_env, timeout, max_retries) if extract_model else nullcontext()
    )
    with extractor as client:  # None without --extract-model
        summary = score_svamp(
            Path(answers),
            references,
            Path(output),
            split=split,
            client=client,
            extract_prompt=extract_prompt_file,
            concurrency=concurrency,
            denominator=denominator,
        )
    click.echo(svamp_markdown(summary))


@score.command("truthfulqa")
@answers_option
@click.option(
    "--references",
    required=True,
    help="X-TruthfulQA: a JSON/JSONL file or hub id (id, instruction, correct_answers, "
    "incorrect_answers), e.g. zhihz0535/X-TruthfulQA_en_zh_ko_it_es with --split.",
)
@split_option
@click.option("--judge-model", required=True, help="Model name sent to the endpoint (the paper: gpt-4-0613).")
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default="ours",
    show_default=True,
    help="`paper`: the reference's requests and reading (needs --prompt-file), no re-asks.",
)
@click.option(
    "--prompt-file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON with `truthfulness` and `informativeness`, each system_prompt and prompt_template (the reference's format).",
)
@click.option("--judge-max-tokens", default=1024, show_default=True)
@click.option("--reasks", default=1, show_default=True, help="ours: times a reply without a verdict is asked again.")
@click.option(
    "--output", required=True, type=click.Path(file_okay=False), help="Folder for judgments, scores and summaries."
)
@endpoint_options()
@one_run_per_output(folder=True)
def truthfulqa(
    answers,
    references,
    split,
    judge_model,
    protocol,
    prompt_file,
    judge_max_tokens,
    reasks,
    output,
    base_url,
    api_key_env,
    concurrency,
    max_retries,
    timeout,
):
    """Truthfulness and informativeness by an LLM judge, two passes per answer."""
    from axolotl_plug.eval.score.truthfulqa import score_truthfulqa, truthfulqa_markdown

    with chat_client(judge_model, base_url, api_key_env, timeout, max_retries) as client:
        summary = score_truthfulqa(
            Path(answers),
            references,
            Path(output),
            client,
            split=split,
            protocol=protocol,
            prompt_file=prompt_file,
            max_tokens=judge_max_tokens,
            reasks=reasks,
            concurrency=concurrency,
        )
    click.echo(truthfulqa_markdown(summary))
