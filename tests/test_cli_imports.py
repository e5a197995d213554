"""`gemhub --help` lists the commands without importing what only running them needs.

The command modules import JupyterHub, Docker, papermill, SQLAlchemy, rich and
the like inside the command functions; a top-level import added by mistake
would make every `gemhub` call (and shell completion) wait for them. Checked
by the modules loaded, not by a time, so the test means the same on a slow machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Libraries that only running a command needs (roughly in order of their import cost).
HEAVY = ("jupyterhub", "sqlalchemy", "docker", "papermill", "nbconvert", "nbclient", "nbformat", "rich",
         "requests", "tornado", "kubernetes_asyncio", "kubespawner", "dockerspawner", "pydantic", "yaml", "jinja2")

INVOKE_AND_LIST_MODULES = """
import json, sys
from click.testing import CliRunner
from gemhub.cli import cli
result = CliRunner().invoke(cli, sys.argv[1:])
print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def invoke(*args: str) -> tuple[int, set[str]]:
    """Run `gemhub ARGS` in a fresh interpreter: its exit code and the top-level modules it loaded."""
    done = subprocess.run([sys.executable, "-c", INVOKE_AND_LIST_MODULES, *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return answer["exit_code"], set(answer["modules"])


@pytest.mark.parametrize("command", [[], ["images"], ["images", "build"], ["notebooks"], ["notebooks", "test"],
                                     ["credentials"], ["credentials", "set"], ["config"], ["up"], ["marketplace"],
                                     ["marketplace", "build"], ["sandbox"]],
                         ids=lambda c: " ".join(c) or "gemhub")
def test_help_does_not_import_heavy_modules(command):
    code, loaded = invoke(*command, "--help")
    assert code == 0
    assert "gemhub" in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_running_a_command_imports_them():
    """The check above can fail: a command that runs loads its libraries (here pydantic and YAML,
    to read the config `gemhub passwd` is given; a missing file, so it stops with exit 2)."""
    code, loaded = invoke("passwd", "nobody", "--config", "/dev/null/none.yaml")
    assert code == 2
    assert {"pydantic", "yaml"} <= loaded
