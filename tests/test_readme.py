"""The README is generated where it can be, and shows every command it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from gemhub.cli import cli
from gemhub.config import reference

CHECKOUT = Path(__file__).resolve().parents[1]
README = (CHECKOUT / "README.md").read_text()


def test_config_reference_is_generated_from_the_model():
    assert reference.markdown() in README, "run `gemhub config reference --write README.md`"


def test_benchmark_table_matches_the_result_files():
    check = subprocess.run([sys.executable, CHECKOUT / "benchmarks" / "summarise.py", "--check"])
    assert check.returncode == 0, "run `python benchmarks/summarise.py`"


def _commands(group: click.Group, prefix: str = "gemhub"):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}"


def test_every_cli_command_has_an_example_in_the_readme():
    missing = [command for command in _commands(cli) if f"$ {command}" not in README]
    assert missing == [], "add a real example for each to README.md"


def test_the_two_commands_are_the_makefile_targets():
    makefile = (CHECKOUT / "Makefile").read_text()
    assert "$ make up" in README and "$ make test" in README
    assert "\nup:" in makefile and "\ntest:" in makefile
    assert "make test" in (CHECKOUT / ".ci" / "run").read_text()
