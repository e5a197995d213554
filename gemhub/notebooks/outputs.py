"""Reading an executed notebook: how it ended, and its first picture."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat

from .failures import explain

ERROR_EXCERPT = 1200


def _source_index(source: Path, cell_id: str | None) -> int | None:
    if not cell_id:
        return None
    nb = nbformat.read(source, as_version=4)
    for i, cell in enumerate(nb.cells, start=1):
        if cell.get("id") == cell_id:
            return i
    return None


def _failing_cell(output: Path) -> tuple[str | None, str | None]:
    """(cell id, error text) of the cell that raised, or that was still running."""
    nb = nbformat.read(output, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            return cell.get("id"), explain(errors[0].get("ename"), errors[0].get("evalue"))
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return cell.get("id"), None
    return None, None


def outcome(source: Path, output: Path, code: int, timed_out: bool, log: Path) -> tuple[str, int | None, str | None]:
    """(status, failing cell as 1-based index in the source notebook, error excerpt)."""
    if code == 0 and not timed_out:
        return "passed", None, None
    cell_id, text = _failing_cell(output) if output.exists() else (None, None)
    index = _source_index(source, cell_id)
    if timed_out:
        text = "stopped at the time limit" + (f" while cell {index} was running" if index else "")
    if not text:
        text = log.read_text(errors="replace")[-ERROR_EXCERPT:] if log.exists() else f"papermill exited {code}"
    return ("timeout" if timed_out else "failed"), index, text[:ERROR_EXCERPT]


def thumbnail(output: Path, target: Path, width: int = 480) -> Path | None:
    """Save the first PNG/JPEG output, scaled to `width`, for the marketplace card."""
    if not output.exists():
        return None
    from PIL import Image

    nb = nbformat.read(output, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in ("image/png", "image/jpeg"):
                if mime in data:
                    image = Image.open(io.BytesIO(base64.b64decode(data[mime])))
                    image.thumbnail((width, width * 2))
                    image.convert("RGB").save(target, "PNG")
                    return target
    return None
