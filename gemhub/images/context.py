"""Staging an image's build context, and the content hash its tag comes from.

The context is a fresh folder holding only the image's inputs (never the
checkout, whose .gemhub/ and node_modules/ are gigabytes). Modes are
normalised (0644, or 0755 for executables; folders 0755), so the notebooks end
up read-only for the image's user and the hash does not depend on a umask.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ..paths import CHECKOUT
from . import catalogue
from .specs import ImageSpec

# Never part of an image: interpreter and tool litter, and local build state.
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache", "node_modules", "build",
                 "dist", ".git"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
# The build machine's CA bundle, for the throwaway build stage only; not an input of the tag
# (the same sources give the same image wherever they are built).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_CONTEXT = "build-ca.crt"


def _ignored(path: Path) -> bool:
    return path.name in IGNORED_NAMES or path.name.endswith(IGNORED_SUFFIXES)


def _copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        destination.chmod(0o755)
        for child in sorted(source.iterdir()):
            if not _ignored(child):
                _copy(child, destination / child.name)
    elif source.is_file():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        destination.chmod(0o755 if source.stat().st_mode & 0o111 else 0o644)


def copy_inputs(spec: ImageSpec, destination: Path, checkout: Path = CHECKOUT) -> Path:
    """A second checkout holding just the spec's inputs, to change one and rebuild (tests, benchmarks)."""
    for source, _ in spec.inputs:
        _copy(checkout / source, destination / source)
    return destination


def stage(spec: ImageSpec, folder: Path, checkout: Path = CHECKOUT, catalogue_site: Path | None = None) -> Path:
    """Fill `folder` (emptied first) with the spec's inputs and the build CA bundle; returns it.

    An image that carries the catalogue gets the one published at `catalogue_site` (default:
    where `gemhub marketplace build` publishes), or an empty folder when none was published."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for source, destination in spec.inputs:
        path = checkout / source
        if not path.exists():
            raise FileNotFoundError(f"{spec.name} image input missing: {path} "
                                    "(images are built from a gemhub source checkout)")
        _copy(path, folder / destination)
    if spec.carries_catalogue:
        site = catalogue_site or catalogue.default_site()
        target = folder / catalogue.IN_CONTEXT
        target.mkdir()
        target.chmod(0o755)
        if catalogue.published(site) is not None:
            _copy(site, target)
    if not CA_BUNDLE.is_file():
        raise FileNotFoundError(f"{CA_BUNDLE} not found: the build stage needs a CA bundle to reach PyPI/npm "
                                "(apt-get install ca-certificates)")
    _copy(CA_BUNDLE, folder / CA_IN_CONTEXT)
    return folder


def content_hash(folder: Path, base_image: str) -> str:
    """sha256 over every staged file's path, mode and content, plus the base image's name."""
    digest = hashlib.sha256(f"base={base_image}\n".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative == CA_IN_CONTEXT:
            continue
        file_digest = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{relative}\0{path.stat().st_mode & 0o777:o}\0{file_digest}\n".encode())
    return digest.hexdigest()
