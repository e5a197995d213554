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


@marketplace.command()
@click.option("--jobs", "-j", type=int, help="Notebooks run in parallel  [default: marketplace.curate_jobs]")
@click.option("--keep-running", is_flag=True,
              help="Stay up once done, until stopped (as the hub's managed service: it restarts one that exits).")
@config_option
def curate(jobs: int | None, keep_running: bool, config_file: str | None) -> None:
    """Test the curated notebooks and publish each into the catalogue as soon as it passes.

    What `gemhub up` runs in the background (marketplace.curate): the same runner,
    cache and build as `gemhub notebooks test` + `gemhub marketplace build`, with a
    progress file the marketplace page shows. Exit 1 if a notebook failed.
    """
    import logging
    import os

    from ..credentials.guard import configured_secrets
    from ..hub.services import DB_ENV_PASSED
    from ..marketplace.curation import (BACKGROUND_NICENESS, Curation, runs_dir, stop_children_on_signals,
                                        wait_until_stopped)
    from ..marketplace.site import DEFAULT_LAUNCH_BASE
    from ..notebooks.runner import RunOptions
    from ..paths import Paths, config_overrides_from_env

    logging.basicConfig(level=logging.WARNING, format="[curation %(asctime)s] %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("gemhub").setLevel(logging.INFO)  # its own steps; papermill's and nbconvert's chatter stays out
    stop_children_on_signals()
    if keep_running:
        # Behind the hub: people logging in, their servers and kernels come first on a small machine.
        os.nice(BACKGROUND_NICENESS)
    cfg = load_or_exit(config_file, config_overrides_from_env())  # as the hub that started it (`gemhub up`)
    paths = Paths.of(cfg, config_file)
    if paths.notebooks_dir is None:
        raise CommandError("gemhub marketplace curate: no curated notebooks folder (set marketplace.notebooks_dir)")
    secrets = configured_secrets(paths)
    for name in DB_ENV_PASSED:  # read; not for the notebooks' kernels, which inherit this environment
        os.environ.pop(name, None)
    runs = runs_dir(paths)
    options = RunOptions(out_dir=runs, report_path=runs / "report.json", user_env=paths.user_env, jobs=jobs or cfg.marketplace.curate_jobs, known_secrets=tuple(secrets),
                         image=cfg.spawner.image if cfg.spawner.type == "docker" else None)
    curation = Curation(paths.notebooks_dir, paths.marketplace_dir, options, launch_base=DEFAULT_LAUNCH_BASE,
                        known_secrets=secrets)
    try:
        progress = curation.run()
    except Exception as error:  # the runner could not start (no user environment, no image, no sandbox)
        curation.give_up(f"{type(error).__name__}: {error}")
        if not keep_running:
            raise CommandError(f"gemhub marketplace curate: {error}") from None
        logging.getLogger(__name__).error("curation could not run: %s", error)
        wait_until_stopped()
        return
    failed = [n for n in progress.notebooks if n.state != "passed"]
    published = sum(n.published for n in progress.notebooks)
    click.echo(f"curation: {published} of {progress.total} notebooks published, {len(failed)} failed")
    for item in failed:
        where = f" in cell {item.failing_cell}" if item.failing_cell else ""
        first = (item.error or "").strip().splitlines()
        click.echo(f"  {item.path} [{item.state}]{where}: {first[0] if first else ''}", err=True)
    if keep_running:
        wait_until_stopped()
        return
    click.get_current_context().exit(CHECK_FAILED if failed else 0)


@marketplace.command("index-schema")
def index_schema() -> None:
    """Print the JSON schema of index.json."""
    from ..marketplace.index import dumps_schema

    click.echo(dumps_schema())
