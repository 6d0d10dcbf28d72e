"""`axolotl plug serve`: an OpenAI-compatible proxy in front of any engine; clients get
the target answer, streamed.

    axolotl plug serve --upstream http://127.0.0.1:8000/v1 --model-dir outputs/plug-demo
"""

from __future__ import annotations

import click

from axolotl_plug.cli.common import model_settings


@click.command()
@click.option(
    "--upstream", required=True, help="The engine's OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1."
)
@click.option(
    "--model-dir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="The trained model folder: its plug.json gives the PLUG settings, its tokenizer counts tokens.",
)
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="The training config instead of --model-dir (for a model without plug.json).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option(
    "--show-pivot", is_flag=True, help="Return the pivot sections as reasoning_content (a request can ask too)."
)
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait for the engine (per read).")
@click.option("--max-body-bytes", default=10 * 1024 * 1024, show_default=True, help="Larger request bodies get 413.")
@click.option(
    "--api-key",
    envvar="PLUG_SERVE_API_KEY",
    default=None,
    show_envvar=True,
    help="Require `Authorization: Bearer KEY` from clients (better: set the variable). Unset: the "
    "client's Authorization header goes to the engine.",
)
@click.option(
    "--upstream-api-key",
    envvar="PLUG_UPSTREAM_API_KEY",
    default=None,
    show_envvar=True,
    help="With --api-key: the key to send the engine (better: set the variable).",
)
def serve(upstream, model_dir, config_path, host, port, show_pivot, timeout, max_body_bytes, api_key, upstream_api_key):
    """An OpenAI-compatible server in front of the engine that serves a PLUG model:
    clients get the target answer as `content`, streamed."""
    import uvicorn

    from axolotl_plug.serving.proxy import create_app, token_counter

    if bool(model_dir) == bool(config_path):
        raise click.UsageError("give exactly one of --model-dir and --config")
    settings, _, folder = model_settings(config_path, model_dir)
    count = None
    if (folder / "tokenizer_config.json").is_file():
        count = token_counter(str(folder))
    else:
        click.echo(f"no tokenizer in {folder}: x_plug will report no token counts", err=True)
    if upstream_api_key and not api_key:
        raise click.UsageError("--upstream-api-key goes with --api-key (without it the client's key is passed on)")
    app = create_app(
        upstream,
        settings,
        show_pivot=show_pivot,
        count_tokens=count,
        timeout=timeout,
        max_body_bytes=max_body_bytes,
        api_key=api_key,
        upstream_api_key=upstream_api_key,
    )
    click.echo(
        f"plug serve: http://{host}:{port}/v1 -> {upstream} (target language: "
        f"{settings.target_language or 'per request'}, pivot shown: {'yes' if show_pivot else 'on request'}, "
        f"clients need a key: {'yes' if api_key else 'no'})"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
