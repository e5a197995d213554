"""The marketplace's Launch button, on the user's own Jupyter server.

The marketplace links to ``/hub/user-redirect/gemhub/launch/<slug>``; JupyterHub
sends the logged-in user to ``<base_url>gemhub/launch/<slug>`` on their own
server, where this handler:

1. finds the curated notebook whose file stem is ``<slug>`` in the read-only
   curated folder (``GEMHUB_NOTEBOOKS_DIR``, or ``GemhubLaunch.notebooks_dir``);
2. copies it to ``marketplace/<slug>/<file>.ipynb`` under the server's root dir,
   never overwriting: an existing copy is simply reopened (the user's edits are
   kept). ``?fresh=1`` writes ``<stem>-fresh.ipynb`` (then ``-fresh-2``, ...)
   beside it instead;
3. redirects to that file in JupyterLab.

Status codes: 302 to the notebook; 400 for anything that is not a plain slug
(traversal, encoded separators, backslashes, absolute paths) or a bad ``fresh``
value; 404 for an unknown slug (or no curated folder configured); 403 when the
user may not write contents or the destination would leave the root dir; 409
when something that is not a notebook file is in the way.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.escape import xhtml_escape
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

NOTEBOOKS_ENV = "GEMHUB_NOTEBOOKS_DIR"
WORKSPACE_FOLDER = "marketplace"
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_SLUG_LENGTH = 200
FRESH_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


class GemhubLaunch(LoggingConfigurable):
    """Configuration of the gemhub Launch endpoint (``<base_url>gemhub/launch/<slug>``)."""

    notebooks_dir = Unicode(
        "",
        config=True,
        help=f"Folder of curated notebooks. Empty: use ${NOTEBOOKS_ENV} from the environment.",
    )

    def curated_root(self) -> Path | None:
        raw = self.notebooks_dir or os.environ.get(NOTEBOOKS_ENV, "")
        if not raw:
            return None
        root = Path(raw).expanduser()
        try:
            root = root.resolve(strict=True)
        except OSError:
            return None
        return root if root.is_dir() else None


def is_plain_slug(slug: str) -> bool:
    return (
        0 < len(slug) <= MAX_SLUG_LENGTH
        and SLUG_RE.fullmatch(slug) is not None
        and ".." not in slug
    )


def find_curated(root: Path, slug: str) -> Path | None:
    """The curated ``<slug>.ipynb`` anywhere under root (checkpoints skipped, symlinks kept inside)."""
    matches = []
    for path in root.rglob("*.ipynb"):
        rel = path.relative_to(root)
        if ".ipynb_checkpoints" in rel.parts or path.stem != slug:
            continue
        try:
            real = path.resolve(strict=True)
        except OSError:
            continue
        if real.is_relative_to(root) and real.is_file():
            matches.append((len(rel.parts), str(rel), real))
    if not matches:
        return None
    # Slugs are meant to be unique; if not, prefer the shallowest, then alphabetical.
    return sorted(matches)[0][2]


def fresh_names(stem: str):
    yield f"{stem}-fresh.ipynb"
    n = 2
    while True:
        yield f"{stem}-fresh-{n}.ipynb"
        n += 1


class LaunchHandler(JupyterHandler):
    """GET ``<base_url>gemhub/launch/<slug>[?fresh=1]``: copy a curated notebook and open it."""

    auth_resource = "contents"

    @property
    def launch_config(self) -> GemhubLaunch:
        return self.settings["gemhub_launch"]

    def write_error(self, status_code, **kwargs):
        """A page (or JSON, if asked for) that says what went wrong, also for 404s."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        message = ""
        if isinstance(exc, web.HTTPError) and exc.log_message:
            try:
                message = exc.log_message % exc.args
            except Exception:
                message = exc.log_message
        accept = self.request.headers.get("Accept", "")
        if "application/json" in accept and "text/html" not in accept:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": status_code, "message": message or self._reason}))
            return
        self.set_header("Content-Type", "text/html")
        ns = {"status_code": status_code, "status_message": self._reason, "message": message, "exception": exc}
        try:
            # error.html, not 404.html: the stock 404 page hides the message.
            html = self.render_template("error.html", **ns)
        except Exception:
            html = f"<h1>{status_code}: {xhtml_escape(self._reason)}</h1><p>{xhtml_escape(message)}</p>"
        self.finish(html)

    # -- helpers ---------------------------------------------------------

    def _workspace_root(self) -> Path:
        root = getattr(self.contents_manager, "root_dir", None) or self.settings.get("server_root_dir")
        return Path(os.path.expanduser(root)).resolve()

    def _fresh(self) -> bool:
        value = self.get_query_argument("fresh", "0").strip().lower()
        if value not in FRESH_VALUES:
            raise web.HTTPError(400, "fresh must be 1 or 0")
        return FRESH_VALUES[value]

    def _resolve(self, slug: str) -> tuple[Path, Path]:
        """(source notebook, destination folder), both checked; raises HTTPError otherwise."""
        if not is_plain_slug(slug):
            self.log.info("gemhub launch: rejected a malformed slug")
            raise web.HTTPError(400, "Not a notebook name: launch links look like gemhub/launch/<name>")
        curated = self.launch_config.curated_root()
        if curated is None:
            self.log.warning("gemhub launch: no curated notebooks folder (%s unset or missing)", NOTEBOOKS_ENV)
            raise web.HTTPError(404, "No curated notebook called '%s' (no curated notebooks on this server)", slug)
        source = find_curated(curated, slug)
        if source is None:
            self.log.info("gemhub launch: unknown slug %s", slug)
            raise web.HTTPError(404, "No curated notebook called '%s'", slug)

        root = self._workspace_root()
        folder = root / WORKSPACE_FOLDER / slug
        # Resolve whatever already exists (a user could have made marketplace/ a symlink).
        real_folder = folder.resolve()
        if not real_folder.is_relative_to(root):
            raise web.HTTPError(403, "The workspace folder for '%s' is outside your workspace (root folder)", slug)
        return source, folder

    def _target(self, folder: Path, source: Path, fresh: bool) -> tuple[Path, str]:
        """Where the copy is or would go, without writing anything."""
        primary = folder / source.name
        if not fresh:
            return primary, ("reuse" if os.path.lexists(primary) else "copy")
        for name in fresh_names(source.stem):
            if not os.path.lexists(folder / name):
                return folder / name, "fresh"
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy(self, source: Path, folder: Path, fresh: bool) -> tuple[Path, str]:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise web.HTTPError(409, "Something that is not a folder is in the way of %s", f"{WORKSPACE_FOLDER}/{folder.name}") from None
        root = self._workspace_root()
        if not folder.resolve().is_relative_to(root):
            raise web.HTTPError(403, "The workspace folder is outside your workspace (root folder)")
        content = source.read_bytes()
        candidates = fresh_names(source.stem) if fresh else iter([source.name])
        for name in candidates:
            dest = folder / name
            try:
                # O_EXCL: never overwrite, never follow a planted symlink. Mode from umask, not the source.
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                if fresh:
                    continue
                if dest.is_symlink() or not dest.is_file():
                    raise web.HTTPError(409, "Something that is not a notebook is in the way of %s", f"{WORKSPACE_FOLDER}/{folder.name}/{name}")
                return dest, "reuse"
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            return dest, ("fresh" if fresh else "copy")
        raise AssertionError("unreachable")  # pragma: no cover

    def _redirect_to(self, dest: Path, slug: str) -> None:
        parts = [WORKSPACE_FOLDER, slug, dest.name]
        url = url_path_join(self.base_url, "lab", "tree", *(quote(p, safe="") for p in parts))
        self.redirect(url, status=302)

    # -- verbs -----------------------------------------------------------

    @web.authenticated
    @authorized("write")
    def get(self, slug: str):
        fresh = self._fresh()
        source, folder = self._resolve(slug)
        dest, action = self._copy(source, folder, fresh)
        self.log.info("gemhub launch: slug=%s action=%s path=%s/%s/%s", slug, action, WORKSPACE_FOLDER, slug, dest.name)
        self._redirect_to(dest, slug)

    @web.authenticated
    @authorized("read")
    def head(self, slug: str):
        """Same answer as GET, but writes nothing: 302 to where the copy is or would be."""
        fresh = self._fresh()
        source, folder = self._resolve(slug)
        dest, _ = self._target(folder, source, fresh)
        self._redirect_to(dest, slug)


def _load_jupyter_server_extension(serverapp) -> None:
    config = GemhubLaunch(parent=serverapp)
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["gemhub_launch"] = config
    # Capture everything after launch/ (slashes included) so malformed names get a clear 400.
    route = url_path_join(base_url, "gemhub", "launch", "(.*)")
    web_app.add_handlers(".*$", [(route, LaunchHandler)])
    serverapp.log.info("gemhub launch: serving %s", url_path_join(base_url, "gemhub/launch/<slug>"))


# Also loadable directly as `gemhub_workspace.launch`.
def _jupyter_server_extension_points():
    return [{"module": "gemhub_workspace.launch"}]
