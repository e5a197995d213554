"""The marketplace as a JupyterHub service at /services/marketplace/.

The hub starts this process (see gemhub.hub.services) and proxies it; every
page needs a hub login (HubOAuth), so the catalogue can greet the user and its
Launch buttons go through /hub/user-redirect/ to the user's own server. The
pages are the static site's, rendered per request with the user's name from
the index built by `gemhub marketplace build` (or published notebook by notebook
by the hub's background curation).

While that curation runs, `api/status` says how far it got (site.curation_status;
admins also learn why a notebook failed) and the catalogue page polls it, so the
catalogue fills without a reload. The curation's progress file (progress.py) sits
beside the site folder, so the page can show the testing before anything is published.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jupyterhub.services.auth import HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from ..service_address import listen_address
from ..signals import serve_until_stopped
from ..web_security import NotFoundHandler, OAuthCallbackHandler, SecurityHeadersMixin, plain_error
from .index import Index, IndexValidationError, load_index
from .progress import CurationProgress, progress_path, read_progress
from .site import DEFAULT_LAUNCH_BASE, STATIC_DIR, curation_status, render_catalogue, render_detail, static_files

SITE_DIR_ENV = "GEMHUB_MARKETPLACE_DIR"
STATUS_PATH = "api/status"
NO_CATALOGUE = ("No catalogue yet: it fills once the hub's background curation has tested the notebooks "
                "(by hand: gemhub marketplace curate, or make marketplace).")


def _stamp(path: Path) -> str | None:
    """Changes whenever the file is replaced: a publish swaps in a new folder (new inode), and
    a quick second publish may keep the mtime, so both go in. None when there is no file."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"


class Catalogue:
    """index.json and the curation's progress file, each re-read only when it is replaced."""

    def __init__(self, site_dir: Path):
        self.site_dir = site_dir
        self.progress_file = progress_path(site_dir)
        self._index: tuple[str | None, Index | None] = (None, None)
        self._progress: tuple[str | None, CurationProgress | None] = (None, None)

    def generation(self) -> str | None:
        """The status API's `generation`: changes whenever index.json does."""
        return _stamp(self.site_dir / "index.json")

    def index(self) -> Index | None:
        stamp = self.generation()
        if stamp is None:
            return None
        if stamp != self._index[0]:
            self._index = (stamp, load_index(self.site_dir / "index.json"))
        return self._index[1]

    def progress(self) -> CurationProgress | None:
        """None without a curation, or when its file is unusable (read_progress logs why, once per version)."""
        stamp = _stamp(self.progress_file)
        if stamp is None:
            return None
        if stamp != self._progress[0]:
            self._progress = (stamp, read_progress(self.progress_file))
        return self._progress[1]


class PageHandler(SecurityHeadersMixin, HubOAuthenticated, web.RequestHandler):
    def initialize(self, catalogue: Catalogue, prefix: str, launch_base: str):
        self.catalogue, self.prefix, self.launch_base = catalogue, prefix, launch_base

    def published_index(self) -> Index | None:
        try:
            return self.catalogue.index()
        except IndexValidationError as error:
            self.log.error("marketplace index unusable: %s", error)
            raise web.HTTPError(503, "The catalogue is being rebuilt or is damaged; try again shortly.") from None

    def loaded_index(self) -> Index:
        index = self.published_index()
        if index is None:
            raise web.HTTPError(503, NO_CATALOGUE)
        return index

    def is_admin(self) -> bool:
        """The hub's word (HubOAuth's user model), which decides who may read why a notebook failed."""
        return bool(self.get_current_user().get("admin"))

    def status(self, index: Index | None) -> dict:
        """What this user may know of the curation (an empty one when none runs or ran)."""
        progress = self.catalogue.progress()
        published = {entry.slug for entry in index.notebooks} if index else set()
        return curation_status(progress, admin=self.is_admin(), published=published,
                               generation=self.catalogue.generation())

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)


class CatalogueHandler(PageHandler):
    @web.authenticated
    def get(self):
        index = self.published_index()
        if index is None and self.catalogue.progress() is None:
            raise web.HTTPError(503, NO_CATALOGUE)
        self.finish(render_catalogue(index, user=self.get_current_user()["name"], launch_base=self.launch_base,
                                     asset_base=self.prefix, curation=self.status(index), admin=self.is_admin(),
                                     status_url=url_path_join(self.prefix, STATUS_PATH),
                                     xsrf_token=self.xsrf_token.decode()))


class StatusHandler(PageHandler):
    """The curation's progress as JSON, polled by the catalogue page (site.curation_status)."""

    @web.authenticated  # like the pages: a poll after the service's cookie expired renews it through the hub
    def get(self):
        try:
            index = self.catalogue.index()
        except IndexValidationError:  # mid-rebuild or damaged: the page says so; nothing is published
            index = None
        self.set_header("Cache-Control", "no-store")
        self.finish(self.status(index))


class DetailHandler(PageHandler):
    @web.authenticated
    def get(self, slug: str):
        index = self.loaded_index()
        entry = index.by_slug(slug)
        if entry is None:
            raise web.HTTPError(404, f"No published notebook called {slug!r}.")
        user = self.get_current_user()["name"]
        self.finish(render_detail(entry, user=user, launch_base=self.launch_base, asset_base=self.prefix,
                                  index=index, catalogue_url=self.prefix))


class AssetHandler(SecurityHeadersMixin, HubOAuthenticated, web.StaticFileHandler):
    @web.authenticated
    def get(self, path: str, include_body: bool = True):
        return super().get(path, include_body)

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)


def make_app(site_dir: Path, prefix: str, hub_base: str) -> web.Application:
    catalogue = Catalogue(site_dir)
    pages = {"catalogue": catalogue, "prefix": prefix,
             "launch_base": url_path_join(hub_base, DEFAULT_LAUNCH_BASE)}
    # The pages' own script and styles come from this package, not the site: a page renders
    # before anything is published, and always matches the templates it was rendered from.
    ours = "|".join(re.escape(path.name) for path in static_files())
    return web.Application(
        [
            (prefix, CatalogueHandler, pages),
            (url_path_join(prefix, "index.html"), CatalogueHandler, pages),
            (url_path_join(prefix, STATUS_PATH), StatusHandler, pages),
            (url_path_join(prefix, r"notebooks/([A-Za-z0-9][A-Za-z0-9._-]*)\.html"), DetailHandler, pages),
            (url_path_join(prefix, rf"static/({ours})"), AssetHandler, {"path": str(STATIC_DIR)}),
            (url_path_join(prefix, r"((?:thumbnails|previews|static)/.+|index\.json)"), AssetHandler,
             {"path": str(site_dir)}),
            (url_path_join(prefix, "oauth_callback"), OAuthCallbackHandler),
        ],
        default_handler_class=NotFoundHandler,
        cookie_secret=os.urandom(32),
    )


def main() -> None:
    site_dir = Path(os.environ.get(SITE_DIR_ENV, "."))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/marketplace/")
    hub_base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
    address, port = listen_address("http://127.0.0.1:8020")
    app = make_app(site_dir, prefix, hub_base)
    serve_until_stopped(lambda: app.listen(port, address))


if __name__ == "__main__":
    main()
