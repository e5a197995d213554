"""Finish a user environment: the parts pip cannot install.

`pip install gemhub-workspace` puts the package into site-packages, but a
user server also needs files in the environment's prefix: the server
configuration that enables gemhub's server extensions and its JupyterLab
notice (`etc/jupyter/`), JupyterLab's default settings (`share/jupyter/lab/
settings/overrides.json`), gemhub's prebuilt Lab extension (`share/jupyter/
labextensions/@gemhub/workspace`, built from workspace/labextension by `make
labextension`), and the start-up `.pth` that lets sentinelhub-py's built-in
collections follow a non-default endpoint (`endpoint_compat`).

`make envs`, the user image and Binder's postBuild all run
`python -m gemhub_workspace.environment`, so the three kinds of user
environment are finished by one list. The files live in `prefix/`, laid out
exactly as they land under `sys.prefix`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from . import endpoint_compat

PREFIX_FILES = Path(__file__).with_name("prefix")


def shipped_files() -> list[Path]:
    """The files under prefix/, relative to it."""
    return sorted(p.relative_to(PREFIX_FILES) for p in PREFIX_FILES.rglob("*") if p.is_file())


def install(prefix: str | os.PathLike = sys.prefix) -> list[Path]:
    """Copy the shipped files into `prefix` and write the start-up .pth; returns what was written."""
    written = []
    for relative in shipped_files():
        target = Path(prefix) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PREFIX_FILES / relative, target)
        os.chmod(target, 0o644)
        written.append(target)
    written.append(Path(endpoint_compat.install_pth()))
    return written


def main() -> int:
    for path in install():
        print(f"installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
