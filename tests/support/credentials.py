"""Store credentials the way an admin does: the real `gemhub credentials` CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .hub import GEMHUB


def cli_environment(**extra: str) -> dict[str, str]:
    """This process's environment without JupyterHub's variables (pytest may run inside a server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    env.update(extra)
    return env


def gemhub_credentials(config_file: Path, *args: str, stdin: str | None = None,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(GEMHUB), "credentials", *args, "--config", str(config_file)],
        input=stdin, capture_output=True, text=True, env=env or cli_environment(), timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def set_credentials(config_file: Path, user: str, client_id: str, secret: str,
                    env: dict[str, str] | None = None) -> None:
    """Sentinel Hub credentials for `user`, the secret through stdin; it is never echoed."""
    done = gemhub_credentials(config_file, "set", user, "--client-id", client_id, "--secret-stdin",
                              stdin=secret + "\n", env=env)
    assert secret not in done.stdout + done.stderr
