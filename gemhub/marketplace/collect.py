"""Collecting: each curated notebook paired with its result in the runner's report.

Only notebooks that passed, and whose files can be read, go on to be published;
every other one is left out here, with the reason a person needs to fix it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from pydantic import ValidationError

from ..notebooks.discovery import notebooks_in
from ..notebooks.metadata import NotebookMeta, describe_meta_errors, read_meta
from ..notebooks.report import NotebookResult, Report
from ..secrets_scan import redact
from ..validation_errors import describe
from .index import name_notebooks
from .summary import BuildInputError, LeftOut, LeftOutStatus


@dataclass
class Candidate:
    """A notebook that passed its run, with everything its pages are made from."""

    path: Path
    rel: str  # relative to the notebooks folder, as the index and the summary name it
    meta: NotebookMeta
    source_text: str
    source: dict
    result: NotebookResult
    executed_text: str
    executed: dict
    thumbnail: Path | None  # the runner's PNG, when the report names one that exists

    @property
    def slug(self) -> str:
        return self.path.stem


@dataclass
class Collected:
    report: Report
    candidates: list[Candidate] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # report entries with no notebook in the folder


def load_report(path: Path) -> Report:
    """The runner's report; BuildInputError naming the file (and notebook and field) when it is bad."""
    path = Path(path)
    if not path.exists():
        raise BuildInputError(f"report file not found: {path}")
    if not path.is_file():
        raise BuildInputError(f"report is not a file: {path}")
    try:
        data = json.loads(path.read_text())
    except UnicodeDecodeError:
        raise BuildInputError(f"{path}: not a JSON text file") from None
    except json.JSONDecodeError as error:
        raise BuildInputError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    try:
        return Report.model_validate(data)
    except ValidationError as error:
        lines = describe(error, where=f"{path}: invalid report", name_item=name_notebooks(data))
        raise BuildInputError("\n".join(redact(line) for line in lines)) from None


def resolve(recorded: str, report_path: Path) -> Path | None:
    """A path from the report: absolute, else relative to the working folder or the report's folder."""
    candidate = Path(recorded)
    if candidate.is_absolute():
        return candidate if candidate.exists() else None
    for base in (Path.cwd(), report_path.parent):
        if (base / candidate).exists():
            return base / candidate
    return None


class _Skip(Exception):
    """This notebook is left out: (status, reason)."""

    def __init__(self, status: LeftOutStatus, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def collect(report_path: Path, notebooks_dir: Path) -> Collected:
    """Raises BuildInputError for a missing notebooks folder or a bad report."""
    if not notebooks_dir.is_dir():
        raise BuildInputError(f"notebooks folder not found: {notebooks_dir}")
    report = load_report(report_path)
    results = {result.slug: result for result in report.notebooks}  # a later entry for the same slug wins
    found = notebooks_in(notebooks_dir)
    collected = Collected(report)
    for path in found:
        rel = path.relative_to(notebooks_dir).as_posix()
        try:
            collected.candidates.append(_candidate(path, rel, found, notebooks_dir, results, report_path))
        except _Skip as skip:
            collected.left_out.append(LeftOut(slug=path.stem, path=rel, status=skip.status, reason=skip.reason))
    tested = {path.stem for path in found}
    collected.ignored = [f"{result.path}: in the report but not in {notebooks_dir}; ignored"
                         for slug, result in results.items() if slug not in tested]
    return collected


def _candidate(path: Path, rel: str, found: list[Path], notebooks_dir: Path, results: dict[str, NotebookResult],
               report_path: Path) -> Candidate:
    slug = path.stem
    namesakes = [p for p in found if p.stem == slug]
    if len(namesakes) > 1:
        others = ", ".join(p.relative_to(notebooks_dir).as_posix() for p in namesakes)
        raise _Skip("invalid", f"slug {slug!r} is not unique: {others}")
    try:
        source_text = path.read_text()
        source = nbformat.reads(source_text, as_version=4)
    except Exception as error:  # nbformat raises several types for unreadable files
        raise _Skip("invalid", f"{rel}: not a readable notebook: {error}") from None
    try:
        meta = read_meta(source)
    except ValidationError as error:
        raise _Skip("invalid", "; ".join(describe_meta_errors(error, where=rel))) from None
    result = results.get(slug)
    if result is None:
        raise _Skip("missing", "not in the report (not tested)")
    if result.status != "passed":
        where = f" in cell {result.failing_cell}" if result.failing_cell else ""
        first = (result.error or "").strip().splitlines()
        raise _Skip(result.status, f"{result.status}{where}" + (f": {first[0]}" if first else ""))
    executed_path = resolve(result.output_notebook, report_path) if result.output_notebook else None
    if executed_path is None:
        raise _Skip("error", f"executed notebook not found: {result.output_notebook or '(none in report)'}")
    executed_text = executed_path.read_text(errors="replace")
    try:
        executed = json.loads(executed_text)
    except ValueError:
        raise _Skip("error", f"executed notebook is not valid JSON: {executed_path}") from None
    return Candidate(
        path=path, rel=rel, meta=meta, source_text=source_text, source=source, result=result,
        executed_text=executed_text, executed=executed,
        thumbnail=resolve(result.thumbnail, report_path) if result.thumbnail else None,
    )
