"""A kernelspec that runs notebooks in the user environment.

The runner, nbval and papermill live in the hub environment; only the kernel
imports the EO stack. The spec is written under gemhub's state folder and
found through JUPYTER_PATH, so nothing is installed into the user's ~/.local.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..paths import state_home

NAME = "gemhub-user"


def env_id(user_env: Path) -> str:
    """Empty for the default user environment (in gemhub's state folder); a short id for any other (`--user-env`)."""
    resolved = Path(user_env).resolve()
    if resolved == (state_home() / "envs" / "user").resolve():
        return ""
    return hashlib.sha256(str(resolved).encode()).hexdigest()[:12]


def ensure_kernelspec(user_env: Path) -> Path:
    """Write the spec; return the folder to put on JUPYTER_PATH.

    Another environment gets a folder of its own, so runs on different
    environments at the same time never swap each other's kernel."""
    python = user_env / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(f"user environment not found: {python} (run `make envs`)")
    other = env_id(user_env)
    root = state_home() / "jupyter-envs" / other if other else state_home() / "jupyter"
    spec_dir = root / "kernels" / NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (gemhub user environment)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return root
