"""`gemhub`: the front door for every operation.

Subcommand groups live in their own modules and are registered here, so this
file only shows the shape of the CLI.
"""

from __future__ import annotations

import click

from . import __version__
from .commands import config_cmd, marketplace_cmd, notebooks_cmd, sandbox_cmd, up_cmd
from .commands.credentials_cmd import credentials
from .commands.images_cmd import images


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gemhub")
def cli() -> None:
    """gemhub: a JupyterHub workspace for Earth-observation work."""


cli.add_command(up_cmd.up)
cli.add_command(up_cmd.passwd)
cli.add_command(config_cmd.config)
cli.add_command(notebooks_cmd.notebooks)
cli.add_command(sandbox_cmd.sandbox)
cli.add_command(marketplace_cmd.marketplace)
cli.add_command(credentials)
cli.add_command(images)


def main() -> None:
    cli()
