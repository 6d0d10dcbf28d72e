"""`axolotl plug report RUN_DIR...`: one table (and figure) of judge and score runs.

axolotl plug report runs/judge-zh runs/svamp-zh --output runs/report
"""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_plug.cli.common import one_run_per_output


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder for report.md and report.png.")
@one_run_per_output(folder=True)
def report(run_dirs, output):
    """One table like the paper's from judge and score runs (their summary.json) and the
    answer files they name."""
    from axolotl_plug.eval.report import write_report

    click.echo(write_report([Path(d) for d in run_dirs], Path(output)))
