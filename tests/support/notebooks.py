"""Small notebooks made on the fly for runner and lint tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

META = {
    "title": "A test notebook",
    "description": "A notebook made by the test suite to exercise the runner and the lint checks.",
    "tags": ["test"],
    "level": "beginner",
    "collections": [],
    "needs_credentials": False,
    "authors": ["gemhub tests"],
    "licence": "MIT",
}


def write_notebook(path: Path, *sources: str, meta: dict | None = None, markdown_at: int | None = None) -> Path:
    """A notebook whose first cell is the parameters cell, then one code cell per source."""
    cells = [new_code_cell("output_dir = 'outputs'", metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    if markdown_at is not None:
        cells.insert(markdown_at, new_markdown_cell("## a heading"))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["gemhub"] = META if meta is None else meta
    nbformat.write(nb, path)
    return path
