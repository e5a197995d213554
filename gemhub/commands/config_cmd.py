"""`gemhub config`: validate, document and export the gemhub.yaml schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .errors import CHECK_FAILED, CommandError


@click.group()
def config() -> None:
    """Check and document gemhub.yaml."""


@config.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file: str) -> None:
    """Check FILE; print every problem with its line and field path."""
    from ..config import ConfigError, load_config

    try:
        load_config(file)
    except ConfigError as error:
        raise CommandError(f"{error}\n{file}: {len(error.problems)} problem(s)", CHECK_FAILED) from None
    click.echo(f"{file}: valid")


@config.command("reference")
@click.option("--write", "readme", type=click.Path(exists=True, dir_okay=False), help="Update this README in place.")
def reference_cmd(readme: str | None) -> None:
    """Print the Markdown reference of every key (or refresh it in a README)."""
    from ..config import reference

    if readme:
        changed = reference.write_into(Path(readme))
        click.echo(f"{readme}: {'updated' if changed else 'already up to date'}")
    else:
        click.echo(reference.markdown())


@config.command()
def schema() -> None:
    """Print the JSON schema of gemhub.yaml."""
    from ..config import reference

    click.echo(json.dumps(reference.json_schema(), indent=2))
