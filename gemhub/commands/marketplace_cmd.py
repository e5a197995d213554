"""`gemhub marketplace`: publish the notebook catalogue from the runner's report."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import CHECK_FAILED, CommandError
from .options import config_option, load_or_exit


@click.group()
def marketplace() -> None:
    """Build the notebook marketplace (index.json and a static site)."""


@marketplace.command()
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path),
              help="The runner's report.json (gemhub notebooks test --report).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder to publish into.")
@click.option("--notebooks", "notebooks_dir", default="notebooks", show_default=True, type=click.Path(path_type=Path),
              help="Folder of the curated notebooks.")
@click.option("--launch-base", help="Launch buttons link to <launch-base><slug>  [default: the hub's Launch URL, "
                                   "/hub/user-redirect/ + the user server's Launch path]")
@config_option
def build(report_path: Path, out_dir: Path, notebooks_dir: Path, launch_base: str | None,
          config_file: str | None) -> None:
    """Turn notebook metadata and the runner's report into index.json and a static site.

    Only passing notebooks are published; the others are listed in the summary
    (and OUT/build-summary.json). Exit 0 even then; 2 for bad input.
    """
    from ..credentials.guard import configured_secrets
    from ..marketplace.build import BuildError, BuildInputError, build_site
    from ..marketplace.site import DEFAULT_LAUNCH_BASE
    from ..paths import Paths

    secrets = configured_secrets(Paths.of(load_or_exit(config_file), config_file))
    try:
        result = build_site(report_path, out_dir, notebooks_dir, launch_base=launch_base or DEFAULT_LAUNCH_BASE,
                            known_secrets=secrets)
    except BuildInputError as error:
        raise CommandError("\n".join(f"gemhub marketplace build: {line}" for line in str(error).splitlines())) from None
    except BuildError as error:
        raise CommandError(f"gemhub marketplace build: {error}", CHECK_FAILED) from None
    for line in result.summary.lines():
        click.echo(line)
    click.echo(f"site: {out_dir / 'index.html'}; index: {out_dir / 'index.json'}")


@marketplace.command("index-schema")
def index_schema() -> None:
    """Print the JSON schema of index.json."""
    from ..marketplace.index import dumps_schema

    click.echo(dumps_schema())
