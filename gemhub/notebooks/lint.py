"""`gemhub notebooks lint`: what a curated notebook must be before it is published.

Each problem names the notebook and the field or cell, so a contributor knows
exactly what to fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from pydantic import ValidationError

from ..secrets_scan import find_secrets
from .discovery import discover
from .metadata import describe_meta_errors, read_meta

MAX_BYTES_CLEARED = 200_000
MAX_BYTES_WITH_OUTPUTS = 3_000_000
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:home|root|Users|work|tmp|mnt|srv)/[\w.-]+")


def _text_of(cell) -> list[tuple[str, str]]:
    """(where, text) pairs: the source and every textual output of a cell."""
    parts = [("source", cell.source)]
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append(("output", out["text"]))
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/") or mime == "application/json":
                parts.append(("output", value if isinstance(value, str) else json.dumps(value)))
        if out.get("output_type") == "error":
            parts.append(("output", "\n".join(out.get("traceback", []))))
    return parts


def lint_notebook(path: Path) -> list[str]:
    def problem(where: str, message: str) -> str:
        return f"{path}: {where}: {message}"

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for unreadable files
        return [problem("file", f"not a readable notebook ({type(error).__name__}: {error})")]
    problems = []
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as error:
        problems.append(problem("nbformat", error.message))
    if any(not cell.get("id") for cell in nb.cells):
        problems.append(problem("nbformat", "cells need ids (nbformat 4.5); re-save with JupyterLab 4"))
    meta = None
    try:
        meta = read_meta(nb)
    except ValidationError as error:
        problems += describe_meta_errors(error, where=str(path))
    parameter_cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(parameter_cells) != 1:
        problems.append(problem("parameters", f"needs exactly one cell tagged 'parameters' (found {len(parameter_cells)})"))
    keeps_outputs = bool(meta and meta.nbval)
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type == "code" and not keeps_outputs and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(problem(f"cell {index}", "has outputs; clear them (only nbval notebooks keep outputs)"))
        for where, text in _text_of(cell):
            for name in find_secrets(text):
                problems.append(problem(f"cell {index} {where}", f"looks like a credential ({name})"))
            match = LOCAL_PATH.search(text)
            if match:
                problems.append(problem(f"cell {index} {where}", f"absolute local path {match.group(0)!r}"))
    size = path.stat().st_size
    limit = MAX_BYTES_WITH_OUTPUTS if keeps_outputs else MAX_BYTES_CLEARED
    if size > limit:
        problems.append(problem("size", f"{size} bytes, over the limit of {limit}"))
    return problems


def lint_paths(paths: list[Path]) -> tuple[list[str], int]:
    notebooks = discover(paths)
    problems = []
    for path in notebooks:
        problems += lint_notebook(path)
    return problems, len(notebooks)
