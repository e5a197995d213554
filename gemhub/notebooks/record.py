"""Committing an executed notebook's outputs back into its source, for nbval.

Only notebooks marked `nbval: true` keep outputs in git; nbval re-executes them
and compares, so a change in numbers (not only an exception) fails CI. Cells
are matched by id, so the runner's injected-parameters cell is left out.
"""

from __future__ import annotations

from pathlib import Path

import nbformat


def record_outputs(source: Path, executed: Path) -> int:
    """Copy outputs of `executed` into `source`; return how many cells got outputs."""
    src = nbformat.read(source, as_version=4)
    done = nbformat.read(executed, as_version=4)
    by_id = {cell.get("id"): cell for cell in done.cells if cell.cell_type == "code"}
    filled = 0
    for cell in src.cells:
        if cell.cell_type != "code":
            continue
        ran = by_id.get(cell.get("id"))
        cell.outputs = ran.outputs if ran else []
        cell.execution_count = ran.execution_count if ran else None
        filled += bool(cell.outputs)
    nbformat.write(src, source)
    return filled
