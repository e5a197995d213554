"""What is inside an image's filesystem: one pass over `docker export`.

Used to prove what must never ship: a file identical to one of the build
machine's secrets (its CA bundle first of all, which the build stage uses),
installer caches and build tools, compilers. A copy has the same size as its
original, so only files of a matching size are hashed: the pass costs about
as much as reading the export once.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import state_home
from . import docker
from .context import CA_BUNDLE, CA_IN_CONTEXT

COMPILER = re.compile(r"^(?:x86_64-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+|gfortran|rustc)(?:-\d+)?$")
BIN_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/local/bin/", "opt/gemhub/venv/bin/")
CACHE_PATTERNS = (
    re.compile(r"^(root|home/[^/]+)/\.cache/"),
    re.compile(r"^(root|home/[^/]+)/\.npm/"),
    re.compile(r"(^|/)\.cache/(pip|uv)/"),
    re.compile(r"^var/cache/apt/archives/[^/]+\.deb$"),
    re.compile(r"^var/lib/apt/lists/[^/]+_(Packages|Sources|Release|InRelease)"),
    re.compile(r"^tmp/."),
    re.compile(r"^opt/uv/"),  # the build stage's installer venv
)
# Debian's own bundle (package ca-certificates) is generated in the image and may equal the host's.
DEBIAN_CA_TOOL = "usr/sbin/update-ca-certificates"


def host_secret_files() -> list[Path]:
    """Files of the build machine whose content must never be inside an image."""
    home = Path.home()
    data = state_home() / "data"
    candidates = [
        CA_BUNDLE,
        data / "crypt-key", data / "jupyterhub_cookie_secret", data / "demo-passwords.json",
        home / ".netrc", home / ".pypirc", home / ".npmrc", home / ".docker" / "config.json",
        home / ".config" / "pip" / "pip.conf", Path("/etc/pip.conf"),
        *sorted((home / ".ssh").glob("id_*")),
    ]
    return [path for path in candidates if path.is_file() and os.access(path, os.R_OK) and path.stat().st_size > 0]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class ImageFilesystem:
    paths: set[str] = field(default_factory=set)
    secret_copies: list[tuple[str, str]] = field(default_factory=list)  # (path in image, host file)
    caches: list[str] = field(default_factory=list)
    compilers: list[str] = field(default_factory=list)
    files: int = 0


def scan(reference: str, secrets: list[Path] | None = None) -> ImageFilesystem:
    """Stream the image's filesystem once and record what the checks need."""
    secrets = host_secret_files() if secrets is None else secrets
    by_size: dict[int, dict[str, Path]] = {}
    for path in secrets:
        by_size.setdefault(path.stat().st_size, {})[_sha256(path)] = path
    found = ImageFilesystem()
    container = docker.run(["create", reference, "true"]).stdout.strip()
    try:
        export = docker.popen(["export", container], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                found.paths.add(name)
                if any(pattern.search(name) for pattern in CACHE_PATTERNS) and not member.isdir():
                    found.caches.append(name)
                if name.endswith(CA_IN_CONTEXT):
                    found.secret_copies.append((name, CA_IN_CONTEXT))
                if name.startswith(BIN_DIRS) and COMPILER.match(name.rsplit("/", 1)[-1]):
                    found.compilers.append(name)
                if not member.isfile():
                    continue
                found.files += 1
                originals = by_size.get(member.size)
                if originals:
                    digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
                    if digest in originals:
                        found.secret_copies.append((name, str(originals[digest])))
        if export.wait() != 0:
            raise docker.DockerError(f"docker export of {reference} failed")
    finally:
        docker.run(["rm", "-f", container], check=False)
    if DEBIAN_CA_TOOL in found.paths:
        found.secret_copies = [(p, h) for p, h in found.secret_copies
                               if not (p == "etc/ssl/certs/ca-certificates.crt" and h == str(CA_BUNDLE))]
    return found
