"""`gemhub config`: validate, document and export the gemhub.yaml schema."""

from __future__ import annotations

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
@click.option(
    "--chart", is_flag=True,
    help="The Helm chart's values schema (`gemhub config chart` refreshes it with values.yaml and the README table).",
)
@click.option("--write", "target", type=click.Path(dir_okay=False), help="Write it to this file instead of printing.")
def schema(chart: bool, target: str | None) -> None:
    """Print the JSON schema of gemhub.yaml (or of the Helm chart's values)."""
    from ..config import schema as schemas

    text = schemas.dumps(schemas.chart_schema() if chart else schemas.model_schema())
    if not target:
        click.echo(text, nl=False)
        return
    path = Path(target)
    changed = not path.exists() or path.read_text() != text
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    click.echo(f"{target}: {'updated' if changed else 'already up to date'}")


@config.command("chart")
@click.option("--write", "write_dir", type=click.Path(file_okay=False, exists=True),
              help="Write the generated files into this chart folder (helm/gemhub).")
@click.option("--check", "check_dir", type=click.Path(file_okay=False, exists=True),
              help="Only check them: exit 1 naming each stale file.")
def chart_cmd(write_dir: str | None, check_dir: str | None) -> None:
    """Generate the Helm chart's values.schema.json, values.yaml and README values table from the models."""
    from ..config import chart_files

    if bool(write_dir) == bool(check_dir):
        raise click.UsageError("give exactly one of --write DIR or --check DIR")
    if check_dir:
        stale = chart_files.stale(Path(check_dir))
        if stale:
            names = ", ".join(str(path) for path in stale)
            raise CommandError(f"stale: {names}; run `gemhub config chart --write {check_dir}`", CHECK_FAILED)
        click.echo(f"{check_dir}: generated files up to date")
        return
    changed = chart_files.write(Path(write_dir))
    for path in chart_files.generated(Path(write_dir)):
        click.echo(f"{path}: {'updated' if path in changed else 'already up to date'}")
