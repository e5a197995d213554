"""`gemhub sandbox`: the offline Sentinel Hub stand-in (package gemhub_sandbox)."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run the offline Sentinel Hub sandbox."""


@sandbox.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def serve(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Serve OAuth, Catalog and Process API on 127.0.0.1 (`--help` lists the options)."""
    from gemhub_sandbox.__main__ import main

    ctx.exit(main(["serve", *args]))
