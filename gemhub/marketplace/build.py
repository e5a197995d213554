"""`gemhub marketplace build`: notebook metadata + the runner's report -> index.json + a static site.

Only notebooks that passed are published. Failing or timed-out notebooks,
notebooks missing from the report, notebooks with invalid metadata and
notebooks whose pages would carry a credential are left out and listed in
the build summary (printed, and written to build-summary.json).

The build runs collect -> validate -> render -> publish: collect.py pairs
notebooks with their results, validation makes each an index entry, rendering
makes every page in memory (previews: preview.py), publish.py writes them into
a sibling staging folder and swaps that in for the served one in one step, so a
build that fails (disk full, say) leaves the previous catalogue served as it was.
Between render and publish, one sweep (sweep.py) checks everything the site
would show for credentials, so nothing that carries one is ever written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from ..notebooks.discovery import content_hash
from ..secrets_scan import json_strings, redact
from ..validation_errors import describe
from .collect import Candidate, collect
from .index import Index, IndexEntry, IndexEnvironment
from .preview import NOTEBOOK_CSS, notebook_css, render_preview
from .publish import Site, kept_files, publish
from .site import DEFAULT_LAUNCH_BASE, render_catalogue, render_detail, static_files
from .summary import BuildError, BuildInputError, BuildSummary, LeftOut, LeftOutStatus
from .sweep import EXECUTED, PAGE, PREVIEW, Leak, sweep

__all__ = ["BuildError", "BuildInputError", "BuildResult", "build_site"]

SUMMARY_FILE = "build-summary.json"


@dataclass
class BuildResult:
    index: Index
    summary: BuildSummary
    out_dir: Path
    written: list[Path] = field(default_factory=list)


@dataclass
class Staged:
    """A notebook on its way to being published: its entry and preview, or why it cannot be."""

    candidate: Candidate
    entry: IndexEntry | None = None
    preview: str | None = None
    problem: LeftOut | None = None

    def left_out(self, status: LeftOutStatus, reason: str) -> LeftOut:
        return LeftOut(slug=self.candidate.slug, path=self.candidate.rel, status=status, reason=reason)


# -- validate -------------------------------------------------------------------------------------


def index_entry(candidate: Candidate, environment: IndexEnvironment) -> IndexEntry:
    """The notebook's metadata plus the facts of its run; pydantic's ValidationError when they do not fit."""
    slug, result = candidate.slug, candidate.result
    return IndexEntry(
        id=slug,
        slug=slug,
        **candidate.meta.catalogue_fields(),
        path=candidate.rel,
        thumbnail=f"thumbnails/{slug}.png" if candidate.thumbnail else None,
        preview=f"previews/{slug}.html",
        page=f"notebooks/{slug}.html",
        status="passed",
        last_tested=result.finished_at,
        duration_s=result.duration_s,
        environment=environment.short,
        content_hash=content_hash(candidate.path),
    )


def stage(candidate: Candidate, environment: IndexEnvironment) -> Staged:
    """Validate the entry and render the preview (the one expensive page)."""
    staged = Staged(candidate)
    try:
        staged.entry = index_entry(candidate, environment)
    except ValidationError as error:
        staged.problem = staged.left_out("invalid", "; ".join(describe(error, where=candidate.rel)))
        return staged
    try:
        staged.preview = render_preview(candidate.executed_text, title=staged.entry.title)
    except Exception as error:  # nbconvert can fail on odd outputs; leave the notebook out, keep building
        staged.problem = staged.left_out("error", f"preview could not be rendered: {type(error).__name__}: {error}")
    return staged


# -- render ---------------------------------------------------------------------------------------


def render_site(staged: list[Staged], index: Index, summary: BuildSummary, *, launch_base: str) -> Site:
    """Every file of the site, in memory: nothing is written before the sweep has seen it."""
    site = Site()
    for asset in static_files():
        site.texts[f"static/{asset.name}"] = asset.read_text()
    site.texts[f"static/{NOTEBOOK_CSS}"] = notebook_css()
    for item in staged:
        entry = item.entry
        site.texts[entry.preview] = item.preview
        site.texts[entry.page] = render_detail(entry, launch_base=launch_base, asset_base="../", index=index)
        if entry.thumbnail:
            site.thumbnails[entry.thumbnail] = item.candidate.thumbnail
    site.texts["index.html"] = render_catalogue(index, user=None, launch_base=launch_base, asset_base="./")
    site.texts["index.json"] = index.to_json()
    site.texts[SUMMARY_FILE] = summary.model_dump_json(indent=2) + "\n"
    return site


def _swept_texts(item: Staged, site: Site) -> dict[str, list[str]]:
    """What one notebook shows readers, by artifact (see sweep.py)."""
    candidate = item.candidate
    texts = {EXECUTED: [candidate.executed_text, candidate.source_text, json_strings(candidate.source),
                        json_strings(candidate.executed)]}
    if item.entry is not None and item.preview is not None:
        texts[PREVIEW] = [item.preview, json_strings(item.entry.model_dump(mode="json"))]
        if item.entry.page in site.texts:
            texts[PAGE] = [site.texts[item.entry.page]]
    return texts


# -- build ----------------------------------------------------------------------------------------


def build_site(
    report_path: Path,
    out_dir: Path,
    notebooks_dir: Path = Path("notebooks"),
    *,
    launch_base: str = DEFAULT_LAUNCH_BASE,
    known_secrets: list[str] | tuple[str, ...] = (),
) -> BuildResult:
    """Build index.json, the static site and build-summary.json into `out_dir`.

    Raises BuildInputError for bad input (report, notebooks folder, output folder),
    BuildError when the site would carry a credential that is no notebook's, and
    PublishError (a BuildError naming the path and errno) when it cannot be written.
    """
    report_path, out_dir, notebooks_dir = Path(report_path), Path(out_dir), Path(notebooks_dir)
    collected = collect(report_path, notebooks_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildInputError(f"output is not a folder: {out_dir}")
    report = collected.report
    environment = IndexEnvironment.of(report.environment)
    pending = [stage(candidate, environment) for candidate in collected.candidates]
    left_out = [item.model_copy(update={"reason": redact(item.reason, known_secrets)}) for item in collected.left_out]
    warnings = [f"{c.rel}: thumbnail not found: {c.result.thumbnail}; published without one"
                for c in collected.candidates if c.result.thumbnail and c.thumbnail is None]
    warnings = [redact(warning, known_secrets) for warning in warnings + collected.ignored]
    generated_at = datetime.now(timezone.utc)

    # Render, sweep, and leave out whoever leaks, until nothing does. Usually once; a notebook
    # left out changes the pages that list it, so the site is rendered again without it.
    while True:
        published = [item for item in pending if item.problem is None]
        index = Index(generated_at=generated_at, report_generated_at=report.generated_at, environment=environment,
                      notebooks=[item.entry for item in published])
        summary = BuildSummary(
            generated_at=generated_at,
            report=str(report_path),
            notebooks_dir=str(notebooks_dir),
            published=[entry.slug for entry in index.notebooks],
            left_out=sorted(left_out, key=lambda item: item.path),
            warnings=warnings,
        )
        site = render_site(published, index, summary, launch_base=launch_base)
        leaks = sweep({item.candidate.slug: _swept_texts(item, site) for item in pending},
                      {**site.texts, **kept_files(out_dir, site)}, known_secrets)
        dropped = _left_out_now(pending, leaks.notebooks)
        if not dropped:
            break
        left_out += [item.model_copy(update={"reason": redact(item.reason, known_secrets)})
                     for item in dropped.values()]
        pending = [item for item in pending if item.candidate.slug not in dropped]

    if leaks.files:
        _abort(out_dir, site, leaks.files)
    written = publish(out_dir, site)
    return BuildResult(index=index, summary=summary, out_dir=out_dir, written=written)


def _left_out_now(pending: list[Staged], leaks: dict[str, Leak]) -> dict[str, LeftOut]:
    """Who leaves this round, by slug. A page lists the other parts of its series, so a
    page's leak may be a neighbour's: pages are blamed only once every notebook's own
    content is clean. A credential outranks any other reason to leave a notebook out."""
    own: dict[str, LeftOut] = {}
    for item in pending:
        leak = leaks.get(item.candidate.slug)
        if leak and leak.artifact == EXECUTED:
            own[item.candidate.slug] = _credential(item, leak)
        elif item.problem is not None:
            own[item.candidate.slug] = item.problem
        elif leak and leak.artifact == PREVIEW:
            own[item.candidate.slug] = _credential(item, leak)
    return own or {item.candidate.slug: _credential(item, leak) for item in pending
                   if (leak := leaks.get(item.candidate.slug)) and leak.artifact == PAGE}


def _credential(item: Staged, leak: Leak) -> LeftOut:
    return item.left_out("credentials", f"{leak.artifact} contains a credential ({', '.join(leak.found)}); not published")


def _abort(out_dir: Path, site: Site, leaks: dict[str, list[str]]) -> None:
    """A credential that is no notebook's (in the launch base, a static asset, or a file someone
    put in the site folder): publish nothing, and take such a file out of the served folder."""
    relative, found = next(iter(leaks.items()))
    path = out_dir / relative
    if relative in site.texts:
        raise BuildError(f"{path}: contains a credential ({', '.join(found)}); not written, build aborted")
    path.unlink()
    raise BuildError(f"{path}: contains a credential ({', '.join(found)}); removed, build aborted")
