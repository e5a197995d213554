"""Rendering the marketplace pages: shared by the static build and the hub service.

Every function takes the validated index (or one entry) plus the context of
where the page is served from, and returns HTML. Nothing here touches the
filesystem except reading templates, so a live service can call these per
request:

    render_catalogue(index, user="ada", launch_base="/hub/user-redirect/gemhub/launch/",
                     asset_base="/services/marketplace/")

URLs a page references (all built from the arguments):

- ``{asset_base}static/marketplace.css`` and ``{asset_base}static/marketplace.js``
- ``{asset_base}thumbnails/<slug>.png`` (the entry's ``thumbnail`` field)
- ``{asset_base}previews/<slug>.html`` (the entry's ``preview`` field, in an iframe)
- detail pages: ``page_url`` with ``{slug}``, by default ``{asset_base}notebooks/<slug>.html``
- the catalogue (from a detail page): ``catalogue_url``, by default ``{asset_base}index.html``
- ``{launch_base}<slug>`` (Launch) and ``{launch_base}<slug>?fresh=1`` (Get a fresh copy), marked
  ``data-gemhub-launch="<slug>"`` (and ``data-gemhub-fresh="1"``) for ``static/launch-into-lab.js``
- ``status_url`` (the service's ``api/status``, see `curation_status`): the catalogue polls it
  while the background curation runs and swaps in the page's ``#catalogue-live`` part when it changes
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import jinja2
from gemhub_sandbox.contract import LAUNCH_PATH

from .index import Index, IndexEntry
from .progress import CurationProgress, NotebookProgress

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
# JupyterHub sends /hub/user-redirect/<path> to <path> on the logged-in user's own server.
USER_REDIRECT = "/hub/user-redirect/"
DEFAULT_LAUNCH_BASE = USER_REDIRECT + LAUNCH_PATH
LEVELS = ("beginner", "intermediate", "advanced")
# Written by another part of gemhub (Launch into an open JupyterLab tab); pages load it when it ships.
LAUNCH_SCRIPT = "launch-into-lab.js"


def _slash(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def launch_url(entry: IndexEntry, launch_base: str, *, fresh: bool = False) -> str:
    """`<launch-base><slug>`, with `?fresh=1` for a fresh copy."""
    url = _slash(launch_base) + quote(entry.slug, safe="")
    return url + "?fresh=1" if fresh else url


def _human_date(value: datetime) -> str:
    return f"{value.day} {value:%b %Y}"


def _human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else "under 1 s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


def _script_json(data: object) -> str:
    """JSON safe to embed inside <script type="application/json">: no `<`, `>` or `&` left raw."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028"
    ).replace("\u2029", "\\u2029")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,  # titles and descriptions are user content
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["human_date"] = _human_date
    env.filters["human_duration"] = _human_duration
    env.globals["ships_static"] = lambda name: (STATIC_DIR / name).is_file()
    env.globals["LAUNCH_SCRIPT"] = LAUNCH_SCRIPT
    return env


def sort_entries(entries: list[IndexEntry]) -> list[IndexEntry]:
    """Series stay together, in order; everything else alphabetically by title."""
    return sorted(entries, key=lambda e: ((e.series or e.title).lower(), e.order or 0, e.title.lower()))


class _Links:
    def __init__(self, *, launch_base: str, asset_base: str, page_url: str | None, catalogue_url: str | None):
        self.launch_base = launch_base
        self.asset_base = _slash(asset_base) if asset_base else ""
        self.page_url = page_url or "{asset_base}notebooks/{slug}.html"
        self.catalogue = catalogue_url or self.asset_base + "index.html"

    def asset(self, relative: str | None) -> str | None:
        return self.asset_base + relative if relative else None

    def page(self, entry: IndexEntry) -> str:
        return self.page_url.format(asset_base=self.asset_base, slug=quote(entry.slug, safe=""))

    def launch(self, entry: IndexEntry, fresh: bool = False) -> str:
        return launch_url(entry, self.launch_base, fresh=fresh)


# -- the background curation, as pages and the status API show it ------------------------------------

# What a user learns of a notebook: in the catalogue, on its way, or not (and, if not, why: admins only).
AVAILABLE, TESTING, UNAVAILABLE = "available", "testing", "unavailable"


def availability(notebook: NotebookProgress, published: set[str]) -> str:
    """The catalogue (index.json) decides "available", not the progress file: the page shows that
    catalogue, and the two files are replaced at different moments."""
    if notebook.slug in published:
        return AVAILABLE
    if notebook.state in ("queued", "testing") or (notebook.state == "passed" and not notebook.left_out):
        return TESTING  # a notebook that just passed is being published
    return UNAVAILABLE


def curation_status(progress: CurationProgress | None, *, admin: bool, published: set[str],
                    generation: str | None) -> dict:
    """The status API's answer, and what the catalogue page renders its curation parts from.

    Built per viewer so the page and the API cannot disagree about what a non-admin may
    see: for them the runner's error, the failing cell, the notebook's path and the
    curation's `problem` are never put in. `version` changes whenever anything here does
    (the page carries the one it was rendered from, so its script knows when to refresh).
    """
    notebooks = []
    for notebook in progress.notebooks if progress else []:
        shown = {"slug": notebook.slug, "title": notebook.title, "availability": availability(notebook, published)}
        if admin:
            shown.update(path=notebook.path, state=notebook.state, failing_cell=notebook.failing_cell,
                         error=notebook.error, left_out=notebook.left_out)
        notebooks.append(shown)
    status = {
        "running": bool(progress and progress.running),
        "total": progress.total if progress else 0,
        "done": progress.done if progress else 0,
        "published": len(published),
        "generation": generation,
        "could_not_run": bool(progress and progress.problem),
        "finished_at": progress.finished_at.isoformat() if progress and progress.finished_at else None,
        "notebooks": notebooks,
    }
    if admin:
        status["problem"] = progress.problem if progress else None
    canonical = json.dumps(status, sort_keys=True, separators=(",", ":"))
    status["version"] = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return status


def render_catalogue(
    index: Index | None,
    *,
    user: str | None = None,
    launch_base: str = DEFAULT_LAUNCH_BASE,
    asset_base: str = "./",
    page_url: str | None = None,
    curation: dict | None = None,
    admin: bool = False,
    status_url: str | None = None,
    xsrf_token: str | None = None,
) -> str:
    """The catalogue page: search, tag facets, level filter and a card per notebook.

    `page_url` is a format string for detail-page links (`{asset_base}`, `{slug}`);
    by default `{asset_base}notebooks/{slug}.html`, the static site's layout.
    `index` None renders an empty catalogue (nothing published yet). `curation` is
    `curation_status(...)` for this viewer: a "Testing N of M" banner, cards for the
    notebooks not (yet) published and, when `admin`, the failures; `status_url` makes
    the page follow the curation live, its requests carrying `xsrf_token` (JupyterHub
    accepts a service's login cookie on a script's request only with it).
    """
    links = _Links(launch_base=launch_base, asset_base=asset_base, page_url=page_url, catalogue_url=None)
    entries = sort_entries(index.notebooks) if index else []
    embedded = [
        {
            "slug": e.slug,
            "title": e.title,
            "description": e.description,
            "tags": e.tags,
            "level": e.level,
            "series": e.series,
            "collections": e.collections,
        }
        for e in entries
    ]
    level_counts = {level: sum(1 for e in entries if e.level == level) for level in LEVELS}
    pending = [n for n in (curation or {}).get("notebooks", []) if n["availability"] != AVAILABLE]
    failures = [n for n in pending if admin and n["availability"] == UNAVAILABLE]
    return environment().get_template("catalogue.html.j2").render(
        entries=entries,
        tags=index.tag_counts() if index else [],
        levels=[(level, level_counts[level]) for level in LEVELS],
        links=links,
        user=user,
        embedded_index=_script_json(embedded),
        environment_info=index.environment if index else None,
        page_title="Notebook marketplace",
        curation=curation,
        pending=pending,
        failures=failures,
        admin=admin,
        status_url=status_url,
        xsrf_token=xsrf_token,
    )


def render_detail(
    entry: IndexEntry,
    *,
    user: str | None = None,
    launch_base: str = DEFAULT_LAUNCH_BASE,
    asset_base: str = "../",
    index: Index | None = None,
    page_url: str | None = None,
    catalogue_url: str | None = None,
) -> str:
    """One notebook's page: description, metadata, Launch, and the executed preview.

    Give `index` to list the other parts of the notebook's series.
    """
    links = _Links(launch_base=launch_base, asset_base=asset_base, page_url=page_url, catalogue_url=catalogue_url)
    series = []
    if index is not None and entry.series:
        series = sorted(
            (e for e in index.notebooks if e.series == entry.series), key=lambda e: (e.order or 0, e.title.lower())
        )
    environment_info = index.environment if index is not None else None
    return environment().get_template("detail.html.j2").render(
        entry=entry,
        links=links,
        user=user,
        series=series,
        environment_info=environment_info,
        page_title=entry.title,
    )


def static_files() -> list[Path]:
    """The files the pages reference under `{asset_base}static/` (besides the notebook CSS)."""
    return sorted(p for p in STATIC_DIR.iterdir() if p.is_file())
