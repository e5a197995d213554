"""Which notebooks a folder holds, and what of a notebook counts as its content.

The runner keys its cache on `content_hash` and the marketplace publishes the
same hash, so a reader can tell which source a result belongs to: both take
both functions from here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat

CHECKPOINTS = ".ipynb_checkpoints"  # JupyterLab's autosaves: never notebooks of their own


def notebooks_in(folder: Path) -> list[Path]:
    """Every notebook under `folder`, sorted."""
    return sorted(p for p in Path(folder).rglob("*.ipynb") if CHECKPOINTS not in p.parts)


def discover(paths: list[Path]) -> list[Path]:
    """Notebooks named on a command line: folders are searched, files taken as given."""
    found: list[Path] = []
    for path in paths:
        found += notebooks_in(path) if path.is_dir() else [path]
    return found


def content_hash(path: Path) -> str:
    """sha256 of what executes: cell types and sources, not outputs, counts or metadata."""
    nb = nbformat.read(path, as_version=4)
    cells = [(cell.cell_type, cell.source) for cell in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()
