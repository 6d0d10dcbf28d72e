"""`axolotl plug ...` (axolotl's `axolotl.cli_commands` entry point) and `python -m
axolotl_plug ...`. This module only assembles the commands, one module each; a command
parses its flags, calls one library function and prints."""

from __future__ import annotations

import os

import click

from axolotl_plug.cli import audit, chat, data, demo, generate, judge, report, response_template, score, serve
from axolotl_plug.cli.common import HOST_LOG_VARIABLES, HOST_LOGGERS, PlugGroup

__all__ = ["HOST_LOGGERS", "HOST_LOG_VARIABLES", "main", "plug"]


@click.group(cls=PlugGroup)
def plug():
    """PLUG: pivot-language guided instruction tuning."""
    os.environ.setdefault("AXOLOTL_DO_NOT_TRACK", "1")


for command in (
    audit.audit,
    generate.generate,
    judge.judge,
    score.score,
    report.report,
    data.data,
    serve.serve,
    response_template.response_template,
    chat.chat,
    demo.demo_model,
    demo.demo,
):
    plug.add_command(command)


def main() -> None:
    plug(prog_name="python -m axolotl_plug")
