"""`axolotl plug audit CONFIG`: what the PLUG datasets of a config train on.

axolotl plug audit example_configs/plug_demo.yml -n 2
"""

from __future__ import annotations

import sys

import click

from axolotl_plug.cli.common import quiet_host, verbose_option


@click.command()
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
    from axolotl_plug.dataset.audit import run_audit

    outcome = run_audit(config, num_samples)
    for text in outcome.texts:
        click.echo(text)
    if outcome.failed:
        click.echo("audit failed: see PROBLEM lines and dropped rows above", err=True)
        sys.exit(1)
