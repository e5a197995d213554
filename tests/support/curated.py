"""A small curated-notebooks folder whose testing the test controls, for the background curation.

gated-search passes only once the test creates its gate file, so "still being tested" is a
state the test holds open rather than a race it hopes to win; broken-search always fails in
cell BROKEN_CELL. Both are copies of a real curated notebook (its metadata, its sandbox calls).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from gemhub.marketplace.progress import progress_path, read_progress

CHECKOUT = Path(__file__).resolve().parents[2]
SOURCE = CHECKOUT / "notebooks" / "sentinelhub-catalog-search.ipynb"
BROKEN_CELL = 3  # 1-based, where the broken copy raises
BROKEN_ERROR = "broken on purpose"


def gated_notebooks(folder: Path, gate: Path) -> Path:
    folder.mkdir()
    gated = nbformat.read(SOURCE, as_version=4)
    gated.metadata.gemhub.title = "A search that waits for its gate"
    gated.cells.append(nbformat.v4.new_code_cell(
        f"import pathlib, time\nwhile not pathlib.Path({str(gate)!r}).exists():\n    time.sleep(0.2)"))
    nbformat.write(gated, folder / "gated-search.ipynb")
    broken = nbformat.read(SOURCE, as_version=4)
    broken.metadata.gemhub.title = "A search that is broken"
    broken.cells.insert(BROKEN_CELL - 1, nbformat.v4.new_code_cell(f'raise RuntimeError("{BROKEN_ERROR}")'))
    nbformat.write(broken, folder / "broken-search.ipynb")
    return folder


def states(site: Path) -> dict[str, str]:
    """Each notebook's state in the curation's progress file (empty before it exists)."""
    progress = read_progress(progress_path(site))
    return {n.slug: n.state for n in progress.notebooks} if progress else {}


def published(site: Path) -> list[str]:
    try:
        return [entry["slug"] for entry in json.loads((site / "index.json").read_text())["notebooks"]]
    except FileNotFoundError:
        return []
