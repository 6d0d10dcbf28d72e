"""What every command shares: the group that turns errors into one-line messages, the
host's logs kept quiet, and option factories declared once."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

HOST_LOGGERS = ("axolotl", "transformers", "datasets", "accelerate", "torch", "torchao", "bitsandbytes", "peft")
# the variables the host's logging reads at import: (name, the value that quiets it)
HOST_LOG_VARIABLES = (
    ("LOG_LEVEL", "ERROR"),
    ("AXOLOTL_LOG_LEVEL", "ERROR"),
    ("TRANSFORMERS_VERBOSITY", "error"),
    ("TORCH_LOGS", "-all"),
)  # TORCH_LOGS: torch's own warnings, at import


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


class PlugGroup(click.Group):
    """Bad input and failed requests end, in every command, as one short message and
    exit code 1, never a traceback: the modules raise ValueError (a pydantic
    ValidationError is one), OSError or ChatError with the file, row and field."""

    def invoke(self, ctx):
        from pydantic import ValidationError

        from axolotl_plug.io.client import ChatError

        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            from axolotl_plug.config import describe_invalid

            raise click.ClickException(describe_invalid(exc)) from None
        except (ValueError, ChatError, OSError) as exc:
            raise click.ClickException(str(exc)) from None


def one_run_per_output(*, folder: bool):
    """A command that writes `--output` holds it for its whole run (io/lock.py): a second
    run on the same output, started by a requeue or in a second terminal, refuses at
    once and names the process that holds it. Put it right above the function."""

    def decorate(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            from axolotl_plug.io.lock import one_run

            with one_run(Path(kwargs["output"]), folder=folder):
                return command(*args, **kwargs)

        return run

    return decorate


verbose_option = click.option("--verbose", is_flag=True, help="Show the host's logs (axolotl, transformers, torch).")


def endpoint_options(
    *, base_url: str | None = "https://api.openai.com/v1", concurrency: int = 8, timeout: float = 120.0, when: str = ""
):
    """The options of a command that asks an OpenAI-compatible endpoint: --base-url,
    --api-key-env, --concurrency, --max-retries, --timeout. `when` prefixes each help
    text (generate's are `With --base-url: `)."""
    options = [
        click.option(
            "--base-url",
            default=base_url,
            show_default=base_url is not None,
            help="Generate on this OpenAI-compatible server (vLLM, SGLang, transformers serve) instead of in-process."
            if base_url is None
            else "OpenAI-compatible endpoint.",
        ),
        click.option(
            "--api-key-env",
            default="OPENAI_API_KEY",
            show_default=True,
            help=f"{when}Environment variable holding the key (never written anywhere).",
        ),
        click.option("--concurrency", default=concurrency, show_default=True, help=f"{when}Requests in flight."),
        click.option(
            "--max-retries",
            default=3,
            show_default=True,
            help=f"{when}Retries of a request that failed in transport (429, 5xx, timeouts).",
        ),
        click.option("--timeout", default=timeout, show_default=True, help=f"{when}Seconds per request."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def chat_client(model: str, base_url: str, api_key_env: str, timeout: float, max_retries: int):
    """The one client, from the endpoint options."""
    from axolotl_plug.io.client import ChatClient

    return ChatClient(model, base_url, api_key_env, timeout=timeout, max_retries=max_retries)


def model_settings(config: str | None, model_dir: str | None):
    """(PLUG settings, sequence_len, model folder) from a training config, or from the
    plug.json that training saved in the model folder."""
    if config:
        from axolotl_plug.config import read_config

        raw, settings = read_config(config)
        if not (model_dir or raw.get("output_dir")):
            raise click.UsageError(f"{config} has no output_dir: pass --model-dir with the trained model")
        return settings, raw.get("sequence_len"), Path(model_dir or raw["output_dir"])
    if model_dir:
        from axolotl_plug.serving.settings import read_settings

        try:
            settings, sequence_len = read_settings(model_dir)
        except FileNotFoundError as exc:
            raise click.UsageError(str(exc)) from None
        return settings, sequence_len, Path(model_dir)
    raise click.UsageError("give CONFIG, or --model-dir with a model trained by axolotl-plug (it has plug.json)")
