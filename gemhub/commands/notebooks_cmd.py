"""`gemhub notebooks`: run curated notebooks headless, and lint them."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import CHECK_FAILED, CommandError
from .options import config_option, load_or_exit


@click.group()
def notebooks() -> None:
    """Test and lint notebooks."""


@notebooks.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--jobs", "-j", default=2, show_default=True, help="Notebooks run in parallel.")
@click.option("--timeout", default=600, show_default=True, help="Seconds one notebook may run.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Report JSON path.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Executed notebooks go here.")
@click.option("--force", is_flag=True, help="Run every notebook, even unchanged ones that passed.")
@click.option("--image", help="Run each notebook inside a container of this image (e.g. gemhub/user:TAG).")
@click.option("--user-env", type=click.Path(file_okay=False, path_type=Path),
              help="Virtualenv the kernels run in, instead of the configured user environment (e.g. a Binder build).")
@click.option("--sandbox-from-server", is_flag=True,
              help="Start no sandbox: kernels use the one your running Jupyter server started (binder/start).")
@config_option
def test_cmd(paths, jobs, timeout, report_path, out_dir, force, image, user_env, sandbox_from_server,
             config_file) -> None:
    """Run notebooks with papermill against the sandbox; exit 1 if any fails."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..credentials.guard import configured_secrets
    from ..notebooks.discovery import discover
    from ..notebooks.runner import RunOptions, run
    from ..paths import Paths, state_home

    cfg = load_or_exit(config_file)
    found = discover(list(paths) or [Path("notebooks")])
    if not found:
        raise CommandError("gemhub notebooks test: no notebooks found")
    out_dir = out_dir or state_home() / "notebook-runs"
    hub_paths = Paths.of(cfg, config_file)
    options = RunOptions(
        out_dir=out_dir.resolve(),
        report_path=(report_path or out_dir / "report.json").resolve(),
        user_env=(user_env or hub_paths.user_env).resolve(),
        sandbox_from_server=sandbox_from_server,
        jobs=jobs,
        timeout=timeout,
        force=force,
        known_secrets=tuple(configured_secrets(hub_paths)),
        image=image,
    )
    if image:
        from ..images.docker import DockerError
        from ..notebooks.container import check_image

        try:
            check_image(image)
        except DockerError as error:
            raise CommandError(f"gemhub notebooks test: {error}") from None
    _check_kernel_source(options, user_env_given=user_env is not None)
    console = Console(stderr=True)
    marks = {"passed": "[green]passed[/]", "failed": "[red]FAILED[/]", "timeout": "[red]TIMEOUT[/]"}
    with Progress(
        TextColumn("notebooks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("run", total=len(found))

        def done(result) -> None:
            how = "cached, unchanged since it passed" if result.cached else f"{result.duration_s:.1f}s"
            if result.rerun_reason:
                how += ", run again: its sandbox died during the first run"
            line = f"{marks[result.status]} {result.path} ({how})"
            if result.status != "passed":
                where = f" in cell {result.failing_cell}" if result.failing_cell else ""
                line += f"{where}: {result.error.splitlines()[0] if result.error else ''}"
            progress.console.print(line, highlight=False, soft_wrap=True)
            progress.advance(task)

        def sandbox_died(death) -> None:
            progress.console.print(
                f"[yellow]sandbox died ({death.how})[/]: restarting it; the notebooks it was serving run again "
                f"(its log: {options.sandbox_log})", highlight=False, soft_wrap=True)

        report = run(found, options, on_done=done, on_sandbox_death=sandbox_died)
    s = report.summary
    restarts = f", sandbox restarted {s.sandbox_restarts}x" if s.sandbox_restarts else ""
    console.print(
        f"notebooks: {s.passed} passed, {s.failed} failed, {s.timeout} timed out "
        f"({s.cached} cached{restarts}) in {s.wall_s:.1f}s; report: {options.report_path}",
        highlight=False,
        soft_wrap=True,
    )
    click.get_current_context().exit(0 if s.failed == 0 and s.timeout == 0 else CHECK_FAILED)


def _check_kernel_source(options, user_env_given: bool) -> None:
    """One clear line instead of every notebook failing in its first cell."""
    problem = None
    if options.image and (options.sandbox_from_server or user_env_given):
        problem = "--image runs kernels in the image against the runner's sandbox; drop --user-env/--sandbox-from-server"
    elif not options.image and not (options.user_env / "bin" / "python").exists():
        problem = f"no Python environment at {options.user_env} (expected {options.user_env / 'bin' / 'python'})"
    elif options.sandbox_from_server:
        from gemhub_sandbox.contract import DISCOVERY_GLOB
        from jupyter_core.paths import jupyter_runtime_dir

        # Written by gemhub_workspace.binder (user environment) beside the server's jpserver-*.json.
        if not any(Path(jupyter_runtime_dir()).glob(DISCOVERY_GLOB)):
            problem = (f"--sandbox-from-server: no Jupyter server started with binder/start runs a sandbox "
                       f"(no {DISCOVERY_GLOB} in {jupyter_runtime_dir()})")
    if problem:
        raise CommandError(f"gemhub notebooks test: {problem}")


@notebooks.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def lint(paths) -> None:
    """Check notebooks: format, metadata, parameters, secrets, paths, outputs, size."""
    from ..notebooks.lint import lint_paths

    problems, count = lint_paths(list(paths) or [Path("notebooks")])
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{count} notebook(s) checked, {len(problems)} problem(s)")
    click.get_current_context().exit(CHECK_FAILED if problems else 0)


@notebooks.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
def record(paths, config_file) -> None:
    """Run nbval notebooks and commit their outputs into the source files."""
    import nbformat

    from ..notebooks.metadata import read_meta
    from ..notebooks.record import record_outputs
    from ..notebooks.runner import RunOptions, run
    from ..paths import Paths, state_home

    not_nbval = [str(p) for p in paths if not read_meta(nbformat.read(p, as_version=4)).nbval]
    if not_nbval:
        raise CommandError(f"gemhub notebooks record: not marked nbval: true: {', '.join(not_nbval)}")
    cfg = load_or_exit(config_file)
    out_dir = state_home() / "notebook-record"
    options = RunOptions(out_dir=out_dir, report_path=out_dir / "report.json",
                         user_env=Paths.of(cfg, config_file).user_env, force=True)
    report = run(list(paths), options)
    failed = [r for r in report.notebooks if r.status != "passed"]
    for result in report.notebooks:
        if result.status == "passed":
            count = record_outputs(Path(result.path), Path(result.output_notebook))
            click.echo(f"{result.path}: recorded outputs of {count} cell(s)")
        else:
            click.echo(f"{result.path}: {result.status}: {result.error}", err=True)
    click.get_current_context().exit(CHECK_FAILED if failed else 0)


@notebooks.command("report-schema")
def report_schema() -> None:
    """Print the JSON schema of the runner's report."""
    from ..notebooks.report import dumps_schema

    click.echo(dumps_schema())
