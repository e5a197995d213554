"""What a notebook's result depends on besides the notebook: the packages its kernel
imports and the sandbox it talks to.

Read from what is installed (importlib.metadata), never from a source checkout,
so an installed gemhub caches exactly as a checkout does: a changed package, or
changed sandbox or workspace code, means a different fingerprint and so a new run.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

# The runner's own sandbox runs in this (the hub) environment.
SANDBOX_DISTRIBUTION = "gemhub-sandbox"


def site_packages(env: Path) -> list[Path]:
    """The package folders of a virtualenv (POSIX layout, as `uv venv` and `python -m venv` make)."""
    return sorted(Path(env).glob("lib/python*/site-packages"))


def _source_files(folder: Path, top_level: list[str]) -> list[Path]:
    """The files of an editable install's import packages (or the whole folder when it does not say)."""
    roots = [root for name in top_level for base in (folder, folder / "src")
             for root in (base / name, base / f"{name}.py") if root.exists()] or [folder]
    files = []
    for root in roots:
        candidates = [root] if root.is_file() else root.rglob("*")
        files += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def _editable_source(dist: metadata.Distribution) -> Path | None:
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return None
    url = urlparse(direct.get("url", ""))
    if url.scheme == "file" and direct.get("dir_info", {}).get("editable"):
        return Path(unquote(url.path))
    return None


def distribution_digest(dist: metadata.Distribution) -> bytes:
    """Its METADATA (name, version, requirements), and the content of what was
    installed from a folder or a URL.

    A release from a package index never changes under its version number; gemhub's own
    sandbox and workspace stay at one version while their code changes. So those are
    hashed by content: an editable install by its source files, any other by RECORD
    (which lists every installed file with its sha256)."""
    # The raw text, not dist.metadata: parsing it for 200 packages would take longer than the rest.
    digest = hashlib.sha256((dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "").encode())
    if dist.read_text("direct_url.json") is None:
        return digest.digest()
    source = _editable_source(dist)
    if source is None:
        digest.update((dist.read_text("RECORD") or "").encode())
        return digest.digest()
    top_level = (dist.read_text("top_level.txt") or "").split()
    for path in _source_files(source, top_level):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest()


def environment_fingerprint(env: Path) -> str:
    """sha256 over every distribution installed in the virtualenv `env`."""
    folders = [str(folder) for folder in site_packages(env)]
    digests = sorted(distribution_digest(dist) for dist in metadata.distributions(path=folders))
    return hashlib.sha256(b"".join(digests)).hexdigest()


def sandbox_fingerprint() -> str:
    """The sandbox package of this environment, which the runner's sandbox runs."""
    try:
        return distribution_digest(metadata.distribution(SANDBOX_DISTRIBUTION)).hex()
    except metadata.PackageNotFoundError:
        return "-"


def package_list_sha256(env: Path) -> str:
    """sha256 of the virtualenv's sorted `name==version` lines: what its lock pinned."""
    folders = [str(folder) for folder in site_packages(env)]
    pins = sorted(f"{dist.metadata['Name'].lower()}=={dist.version}" for dist in metadata.distributions(path=folders))
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()
