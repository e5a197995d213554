"""`gemhub marketplace build`: notebook metadata + the runner's report -> index.json + a static site.

Only notebooks that passed are published. Failing or timed-out notebooks,
notebooks missing from the report, notebooks with invalid metadata and
notebooks whose pages would carry a credential are left out and listed in
the build summary (printed, and written to build-summary.json).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import nbformat
from pydantic import BaseModel, ConfigDict, ValidationError

from ..notebooks.metadata import NotebookMeta
from ..notebooks.report import NotebookResult, Report
from ..secrets_scan import find_secrets, redact
from .index import Index, IndexEntry, IndexEnvironment, describe_errors
from .site import DEFAULT_LAUNCH_BASE, STATIC_DIR, TEMPLATES_DIR, render_catalogue, render_detail

NBCONVERT_TEMPLATES = TEMPLATES_DIR / "nbconvert"
PREVIEW_TEMPLATE = "gemhub_preview"
NOTEBOOK_CSS = "notebook-lab.css"
MANAGED_DIRS = ("notebooks", "previews", "thumbnails", "static")
THUMBNAIL_MAX_WIDTH = 640

LeftOutStatus = Literal["failed", "timeout", "missing", "invalid", "credentials", "error"]


class BuildError(Exception):
    """The build could not finish."""


class BuildInputError(BuildError):
    """Bad input (report, notebooks folder, output folder): the message is one line per problem."""


class LeftOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str
    path: str
    status: LeftOutStatus
    reason: str


class BuildSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generated_at: datetime
    report: str
    notebooks_dir: str
    published: list[str]
    left_out: list[LeftOut]
    warnings: list[str] = []

    def lines(self) -> list[str]:
        out = [f"published {len(self.published)} notebook(s)" + (f": {', '.join(self.published)}" if self.published else "")]
        if self.left_out:
            out.append(f"left out {len(self.left_out)} notebook(s):")
            out += [f"  {item.path} [{item.status}]: {item.reason}" for item in self.left_out]
        out += [f"warning: {warning}" for warning in self.warnings]
        return out


@dataclass
class BuildResult:
    index: Index
    summary: BuildSummary
    out_dir: Path
    written: list[Path] = field(default_factory=list)


# -- input ----------------------------------------------------------------------------------------


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
        lines = describe_errors(error, data, where=f"{path}: invalid report")
        raise BuildInputError("\n".join(redact(line) for line in lines)) from None


def discover_notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def content_hash(nb: dict) -> str:
    """Hash of what executes: cell types and sources (the same as the runner's content_hash)."""
    cells = [(c.get("cell_type"), _source(c.get("source", ""))) for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def _source(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _resolve(recorded: str, report_path: Path) -> Path | None:
    """A path from the report: absolute, else relative to the working folder or the report's folder."""
    candidate = Path(recorded)
    if candidate.is_absolute():
        return candidate if candidate.exists() else None
    for base in (Path.cwd(), report_path.parent):
        if (base / candidate).exists():
            return base / candidate
    return None


def _meta_errors(error: ValidationError, rel: str) -> str:
    problems = []
    for problem in error.errors():
        field_name = ".".join(str(part) for part in problem["loc"]) or "(metadata.gemhub)"
        problems.append(f"metadata.gemhub.{field_name}: {problem['msg']}")
    return f"{rel}: " + "; ".join(problems)


# -- preview --------------------------------------------------------------------------------------


# What notebook markdown and rich outputs (pandas tables, reprs) need; no scripts, forms,
# frames, <style> or event handlers. nbconvert's own clean_html allows too little (no
# headings or paragraphs), so the preview uses this list instead.
_ALLOWED_TAGS = frozenset(
    "a abbr b blockquote br caption cite code col colgroup dd del details div dl dt em figcaption figure "
    "h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub summary sup "
    "table tbody td tfoot th thead tr u ul var".split()
)
_ALLOWED_ATTRIBUTES = {
    "*": ["class", "id", "title", "align", "style", "lang", "dir"],
    "a": ["href", "title", "name"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan", "scope"],
    "col": ["span"],
    "ol": ["start", "type"],
}


def _clean_html(element) -> str:
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    text = element.decode() if isinstance(element, bytes) else str(element)

    def allowed(tag: str, name: str, value: str) -> bool:
        if tag == "img" and name == "src":
            return value.startswith(("data:image/png", "data:image/jpeg", "data:image/gif", "data:image/webp",
                                     "https:", "http:")) or "://" not in value and not value.startswith("data:")
        if tag == "a" and name == "href":
            return not value.strip().lower().startswith("data:")
        return name in _ALLOWED_ATTRIBUTES.get(tag, []) or name in _ALLOWED_ATTRIBUTES["*"]

    return bleach.clean(
        text,
        tags=_ALLOWED_TAGS,
        attributes=allowed,
        protocols=["http", "https", "mailto", "data"],
        css_sanitizer=CSSSanitizer(),
        strip=True,
        strip_comments=True,
    )


def render_preview(executed: dict | str, *, title: str, asset_base: str = "../") -> str:
    """nbconvert HTML (JupyterLab look) of the executed notebook, with no internet resources.

    Scripts in outputs are stripped (sanitize_html); the shared stylesheet is
    `{asset_base}static/notebook-lab.css` (see `notebook_css()`).
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name=PREVIEW_TEMPLATE,
        extra_template_basedirs=[str(NBCONVERT_TEMPLATES)],
        sanitize_html=True,
        exclude_anchor_links=True,
    )
    exporter.register_filter("clean_html", _clean_html)
    # papermill's injected cell holds the runner's own paths: not for readers.
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"injected-parameters"}, enabled=True), enabled=True
    )
    text = executed if isinstance(executed, str) else json.dumps(executed)
    node = nbformat.reads(text, as_version=4)
    html, _ = exporter.from_notebook_node(
        node, resources={"metadata": {"name": title}, "gemhub_asset_base": asset_base}
    )
    return html


def notebook_css() -> str:
    """JupyterLab's stylesheet from nbconvert's lab template (light theme), shared by every preview."""
    from nbconvert import HTMLExporter

    for folder in HTMLExporter(template_name="lab").template_paths:
        static = Path(folder) / "static"
        if (static / "index.css").exists() and (static / "theme-light.css").exists():
            return (static / "index.css").read_text() + "\n" + (static / "theme-light.css").read_text()
    raise RuntimeError("nbconvert's lab template stylesheet not found")


def _copy_thumbnail(source: Path, target: Path) -> None:
    """Copy as PNG, scaled down to THUMBNAIL_MAX_WIDTH so catalogue pages stay light."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as image:
        image.load()
        if image.width > THUMBNAIL_MAX_WIDTH:
            height = round(image.height * THUMBNAIL_MAX_WIDTH / image.width)
            image = image.resize((THUMBNAIL_MAX_WIDTH, height), Image.LANCZOS)
        image.save(target, format="PNG", optimize=True)


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

    Raises BuildInputError for bad input (report, notebooks folder, output folder).
    """
    report_path, out_dir, notebooks_dir = Path(report_path), Path(out_dir), Path(notebooks_dir)
    if not notebooks_dir.is_dir():
        raise BuildInputError(f"notebooks folder not found: {notebooks_dir}")
    report = load_report(report_path)
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildInputError(f"output is not a folder: {out_dir}")

    lock = report.environment.user_lock_sha256
    environment = IndexEnvironment(
        user_lock_sha256=lock, short=lock[:12], kernel=report.environment.kernel, python=report.environment.python
    )
    results: dict[str, NotebookResult] = {}
    for result in report.notebooks:
        results[result.slug] = result  # a later entry for the same slug wins

    def secret(text: str) -> list[str]:
        return find_secrets(text, known_secrets)

    left_out: list[LeftOut] = []
    warnings: list[str] = []
    staged: list[tuple[IndexEntry, str, Path | None]] = []  # entry, preview html, thumbnail source

    found = discover_notebooks(notebooks_dir)
    stems: dict[str, list[Path]] = {}
    for path in found:
        stems.setdefault(path.stem, []).append(path)

    for path in found:
        rel = path.relative_to(notebooks_dir).as_posix()
        slug = path.stem

        def leave(status: LeftOutStatus, reason: str) -> None:
            left_out.append(LeftOut(slug=slug, path=rel, status=status, reason=redact(reason, known_secrets)))

        if len(stems[slug]) > 1:
            others = ", ".join(p.relative_to(notebooks_dir).as_posix() for p in stems[slug])
            leave("invalid", f"slug {slug!r} is not unique: {others}")
            continue
        try:
            source = json.loads(path.read_text())
            meta = NotebookMeta.model_validate(source.get("metadata", {}).get("gemhub", {}))
        except ValueError as error:
            if isinstance(error, ValidationError):
                leave("invalid", _meta_errors(error, rel))
            else:
                leave("invalid", f"{rel}: not a readable notebook: {error}")
            continue
        result = results.get(slug)
        if result is None:
            leave("missing", "not in the report (not tested)")
            continue
        if result.status != "passed":
            where = f" in cell {result.failing_cell}" if result.failing_cell else ""
            first = (result.error or "").strip().splitlines()
            leave(result.status, f"{result.status}{where}" + (f": {first[0]}" if first else ""))
            continue
        executed_path = _resolve(result.output_notebook, report_path) if result.output_notebook else None
        if executed_path is None:
            leave("error", f"executed notebook not found: {result.output_notebook or '(none in report)'}")
            continue
        executed_text = executed_path.read_text(errors="replace")
        leaked = secret(executed_text) or secret(path.read_text(errors="replace")) or secret(_strings(source))
        try:
            leaked = leaked or secret(_strings(json.loads(executed_text)))
        except ValueError:
            leave("error", f"executed notebook is not valid JSON: {executed_path}")
            continue
        if leaked:
            leave("credentials", f"executed notebook contains a credential ({', '.join(leaked)}); not published")
            continue
        thumb_source = _resolve(result.thumbnail, report_path) if result.thumbnail else None
        if result.thumbnail and thumb_source is None:
            warnings.append(f"{rel}: thumbnail not found: {result.thumbnail}; published without one")
        try:
            entry = IndexEntry(
                id=slug,
                slug=slug,
                **meta.model_dump(exclude={"nbval"}),
                path=rel,
                thumbnail=f"thumbnails/{slug}.png" if thumb_source else None,
                preview=f"previews/{slug}.html",
                page=f"notebooks/{slug}.html",
                status="passed",
                last_tested=result.finished_at,
                duration_s=result.duration_s,
                environment=environment.short,
                content_hash=content_hash(source),
            )
        except ValidationError as error:
            leave("invalid", "; ".join(describe_errors(error, where=rel)))
            continue
        try:
            preview = render_preview(executed_text, title=entry.title)
        except Exception as error:  # nbconvert can fail on odd outputs; leave the notebook out, keep building
            leave("error", f"preview could not be rendered: {type(error).__name__}: {error}")
            continue
        leaked = secret(preview) or secret(_strings(entry.model_dump(mode="json")))
        if leaked:
            leave("credentials", f"preview contains a credential ({', '.join(leaked)}); not published")
            continue
        staged.append((entry, preview, thumb_source))

    tested_slugs = {p.stem for p in found}
    for slug, result in results.items():
        if slug not in tested_slugs:
            warnings.append(f"{result.path}: in the report but not in {notebooks_dir}; ignored")

    index = Index(
        generated_at=datetime.now(timezone.utc),
        report_generated_at=report.generated_at,
        environment=environment,
        notebooks=[entry for entry, _, _ in staged],
    )
    pages: dict[str, str] = {}
    for entry, _, _ in list(staged):
        html = render_detail(entry, launch_base=launch_base, asset_base="../", index=index)
        leaked = secret(html)
        if leaked:
            left_out.append(LeftOut(slug=entry.slug, path=entry.path, status="credentials",
                                    reason=f"page contains a credential ({', '.join(leaked)}); not published"))
            staged = [s for s in staged if s[0].slug != entry.slug]
        else:
            pages[entry.slug] = html
    if len(staged) != len(index.notebooks):  # something dropped late: series links must not point at it
        index = index.model_copy(update={"notebooks": [entry for entry, _, _ in staged]})
        pages = {e.slug: render_detail(e, launch_base=launch_base, asset_base="../", index=index) for e, _, _ in staged}

    written = _write_site(out_dir, index, staged, pages, launch_base=launch_base)
    summary = BuildSummary(
        generated_at=index.generated_at,
        report=str(report_path),
        notebooks_dir=str(notebooks_dir),
        published=[entry.slug for entry in index.notebooks],
        left_out=sorted(left_out, key=lambda item: item.path),
        warnings=[redact(w, known_secrets) for w in warnings],
    )
    summary_path = out_dir / "build-summary.json"
    summary_path.write_text(summary.model_dump_json(indent=2) + "\n")
    written.append(summary_path)
    _final_sweep(out_dir, known_secrets)
    return BuildResult(index=index, summary=summary, out_dir=out_dir, written=written)


def _strings(data: object) -> str:
    """Every string in decoded JSON, one per line: quotes and newlines as a reader sees them,
    so patterns like `api_key = "..."` match even where the file escapes them."""
    out: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            if value and all(isinstance(item, str) for item in value):
                out.append("".join(value))  # multi-line sources and outputs are lists of lines
            else:
                for item in value:
                    walk(item)

    walk(data)
    return "\n".join(out)


def _write_site(out_dir: Path, index: Index, staged, pages: dict[str, str], *, launch_base: str) -> list[Path]:
    written: list[Path] = []

    def write(relative: str, text: str) -> None:
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)

    out_dir.mkdir(parents=True, exist_ok=True)
    for asset in STATIC_DIR.iterdir():
        if asset.is_file():
            write(f"static/{asset.name}", asset.read_text())
    write(f"static/{NOTEBOOK_CSS}", notebook_css())
    for entry, preview, thumb_source in staged:
        write(entry.preview, preview)
        write(entry.page, pages[entry.slug])
        if entry.thumbnail and thumb_source:
            target = out_dir / entry.thumbnail
            try:
                _copy_thumbnail(thumb_source, target)
            except OSError:
                shutil.copyfile(thumb_source, target)
            written.append(target)
    write("index.html", render_catalogue(index, user=None, launch_base=launch_base, asset_base="./"))
    index.write(out_dir / "index.json")
    written.append(out_dir / "index.json")

    # Files of notebooks published by an earlier build but not this one must go.
    keep = {p.resolve() for p in written}
    for name in MANAGED_DIRS:
        folder = out_dir / name
        if folder.is_dir():
            for stale in folder.rglob("*"):
                if stale.is_file() and stale.resolve() not in keep:
                    stale.unlink()
    return written


def _final_sweep(out_dir: Path, known_secrets) -> None:
    """Belt and braces: no text file in the published folder may carry a credential."""
    for path in out_dir.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".js", ".css", ".txt"}:
            leaked = find_secrets(path.read_text(errors="replace"), known_secrets)
            if leaked:
                path.unlink()
                raise BuildError(f"{path}: contains a credential ({', '.join(leaked)}); removed, build aborted")
