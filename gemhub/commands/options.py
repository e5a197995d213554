"""Options and helpers shared by subcommands."""

from __future__ import annotations

import os
from pathlib import Path

from typing import TYPE_CHECKING

import click

from .errors import CommandError

if TYPE_CHECKING:
    from ..config import GemhubConfig


def default_config_file() -> str | None:
    """$GEMHUB_CONFIG, else ./gemhub.yaml when present, else the built-in defaults."""
    from ..paths import CONFIG_ENV

    if os.environ.get(CONFIG_ENV):
        return os.environ[CONFIG_ENV]
    return "gemhub.yaml" if Path("gemhub.yaml").exists() else None


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=default_config_file,
    show_default="$GEMHUB_CONFIG or ./gemhub.yaml, else built-in defaults",
    help="gemhub.yaml to use.",
)


def load_or_exit(config_file: str | None, overrides: dict | None = None) -> GemhubConfig:
    """The validated config, or a CommandError listing its problems.

    pydantic and YAML are imported here, when a command needs a config, not
    when `gemhub --help` lists the commands.
    """
    from ..config import ConfigError, load_config

    try:
        return load_config(config_file, overrides)
    except ConfigError as error:
        raise CommandError(f"gemhub: invalid configuration:\n{error}") from None
