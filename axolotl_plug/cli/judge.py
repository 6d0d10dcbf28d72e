"""`axolotl plug judge`: an LLM judge compares two answer files (both answer orders), or
grades answers one by one.

    axolotl plug judge --instructions bench.jsonl --a plug.jsonl --b baseline.jsonl \\
        --judge-model gpt-4o --output runs/judge-zh
"""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_plug.cli.common import chat_client, endpoint_options, one_run_per_output
from axolotl_plug.eval.judge.prompt import MODES, PROTOCOLS


@click.command()
@click.option(
    "--instructions",
    required=True,
    help="The benchmark: JSON/JSONL file or hub dataset id (id, instruction, dataset?).",
)
@click.option("--split", default=None, help="Hub split or file stem (e.g. `chinese` for X-AlpacaEval).")
@click.option(
    "--a",
    "a_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Answers of system A (generate's output).",
)
@click.option("--b", "b_path", default=None, type=click.Path(exists=True, dir_okay=False), help="Answers of system B.")
@click.option(
    "--reference",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="pair: a fixed reference output file instead of --b.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="pair",
    show_default=True,
    help="pair: compare A and B in both answer orders. single: grade each answer of A (and B) from 1 to 10.",
)
@click.option("--judge-model", required=True, help="Model name sent to the endpoint.")
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default="ours",
    show_default=True,
    help="`paper`: the reference judging, request for request (FastChat prompt file, answers as the files hold them, no re-asks).",
)
@click.option(
    "--prompt-file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="ours: your judge prompt ({instruction} and {answer_a}, {answer_b} or {answer}). paper: a FastChat judge-prompt JSONL file.",
)
@click.option(
    "--prompt-name",
    default=None,
    help="paper: the entry of --prompt-file (default pair-v2, or single-v1 with --mode single).",
)
@click.option(
    "--turn",
    type=click.IntRange(min=1),
    default=None,
    help="pair: compare multi-turn items (`turns`) on this turn; the judge sees each system's whole conversation "
    "up to it (ours: our multi-turn prompt; paper: turn 1 with the single-turn prompt, turn 2 of two-turn items "
    "with FastChat's pair-v2-multi-turn).",
)
@click.option("--judge-max-tokens", default=1024, show_default=True, help="Longest judge reply, in tokens.")
@click.option("--reasks", default=1, show_default=True, help="ours: times a reply without a verdict is asked again.")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for judgments and summaries.")
@endpoint_options()
@one_run_per_output(folder=True)
def judge(
    instructions,
    split,
    a_path,
    b_path,
    reference,
    mode,
    judge_model,
    protocol,
    prompt_file,
    prompt_name,
    turn,
    judge_max_tokens,
    reasks,
    output,
    base_url,
    api_key_env,
    concurrency,
    max_retries,
    timeout,
):
    """Compare two answer files with an LLM judge (both answer orders), or grade answers one by one."""
    from axolotl_plug.eval.judge import prompt
    from axolotl_plug.eval.judge.report import single_markdown, summary_markdown
    from axolotl_plug.eval.judge.run import run_judge, run_single

    if mode == "pair" and bool(b_path) == bool(reference):
        raise click.UsageError("give exactly one of --b and --reference")
    if mode == "single" and reference:
        raise click.UsageError("--reference is for --mode pair; grade a second file with --b")
    if turn is not None and mode != "pair":
        raise click.UsageError(
            "--turn compares two conversations: --mode pair (single grading of a turn is not supported)"
        )
    if turn is not None and protocol == "ours" and prompt_file:
        raise click.UsageError("--turn with --protocol ours uses our multi-turn prompt: leave out --prompt-file")
    if turn is not None and protocol == "paper" and turn > 2:
        raise click.UsageError("--protocol paper judges turn 1 or 2: FastChat's judge prompts stop at the second turn")
    try:
        if protocol == "paper":
            chosen = prompt.paper(prompt_file, prompt_name, mode, multi_turn=turn == 2)
        else:
            chosen = prompt.dialogue_protocol() if turn is not None else prompt.ours(prompt_file, mode)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    common = dict(protocol=chosen, split=split, concurrency=concurrency, reasks=reasks, max_tokens=judge_max_tokens)
    with chat_client(judge_model, base_url, api_key_env, timeout, max_retries) as client:
        if mode == "single":
            paths = [Path(a_path)] + ([Path(b_path)] if b_path else [])
            click.echo(single_markdown(run_single(instructions, paths, Path(output), client, **common)))
        else:
            summary = run_judge(
                instructions,
                Path(a_path),
                Path(b_path or reference),
                Path(output),
                client,
                b_name="reference" if reference else None,
                turn=turn,
                **common,
            )
            click.echo(summary_markdown(summary))
