"""The marketplace as a JupyterHub service at /services/marketplace/.

The hub starts this process (see gemhub.hub.services) and proxies it; every
page needs a hub login (HubOAuth), so the catalogue can greet the user and its
Launch buttons go through /hub/user-redirect/ to the user's own server. The
pages are the static site's, rendered per request with the user's name from
the index built by `gemhub marketplace build`.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyterhub.services.auth import HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web

from ..service_address import listen_address
from ..signals import serve_until_stopped
from ..web_security import NotFoundHandler, OAuthCallbackHandler, SecurityHeadersMixin, plain_error
from .index import Index, IndexValidationError, load_index
from .site import DEFAULT_LAUNCH_BASE, render_catalogue, render_detail

SITE_DIR_ENV = "GEMHUB_MARKETPLACE_DIR"


class Catalogue:
    """index.json, re-read when `gemhub marketplace build` replaces it."""

    def __init__(self, site_dir: Path):
        self.site_dir = site_dir
        self._index: Index | None = None
        self._mtime = 0.0

    def index(self) -> Index | None:
        path = self.site_dir / "index.json"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime != self._mtime:
            self._index, self._mtime = load_index(path), mtime
        return self._index


class PageHandler(SecurityHeadersMixin, HubOAuthenticated, web.RequestHandler):
    def initialize(self, catalogue: Catalogue, prefix: str, launch_base: str):
        self.catalogue, self.prefix, self.launch_base = catalogue, prefix, launch_base

    def loaded_index(self) -> Index:
        try:
            index = self.catalogue.index()
        except IndexValidationError as error:
            self.log.error("marketplace index unusable: %s", error)
            raise web.HTTPError(503, "The catalogue is being rebuilt or is damaged; try again shortly.") from None
        if index is None:
            raise web.HTTPError(503, "No catalogue has been built yet (make marketplace).")
        return index

    def write_error(self, status_code: int, **kwargs) -> None:
        plain_error(self, status_code, **kwargs)


class CatalogueHandler(PageHandler):
    @web.authenticated
    def get(self):
        user = self.get_current_user()["name"]
        self.finish(render_catalogue(self.loaded_index(), user=user, launch_base=self.launch_base,
                                     asset_base=self.prefix))


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
    return web.Application(
        [
            (prefix, CatalogueHandler, pages),
            (url_path_join(prefix, "index.html"), CatalogueHandler, pages),
            (url_path_join(prefix, r"notebooks/([A-Za-z0-9][A-Za-z0-9._-]*)\.html"), DetailHandler, pages),
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
