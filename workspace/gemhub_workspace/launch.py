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
3. redirects to that file in JupyterLab; or, asked with ``Accept: application/json``
   (the gemhub Lab extension, opening the copy in the Lab tab already open),
   answers 200 with ``{"path": <path under the root dir>, "action": "copy" | "reuse" |
   "fresh", "url": <the Lab URL the redirect would go to>}``.

The copy is saved through the server's ContentsManager, as an upload or a
"Duplicate" in JupyterLab is: the configured pre/post-save hooks run, the file
gets the server's permissions and a first checkpoint, and the notebook is
written the way Jupyter writes notebooks.

Status codes: 302 to the notebook (200 JSON, see above); 400 for anything that is not a plain slug
(traversal, encoded separators, backslashes, absolute paths, NUL bytes, names
over 200 characters) or a bad ``fresh`` value; 404 for an unknown slug (or no
curated folder configured; a curated file or folder that is a symlink leading
out of the curated folder is not curated); 403 when the user may not write
contents or the destination would leave the root dir; 409 when something that
is not a notebook file is in the way; 422 when the curated notebook itself is
unusable (larger than ``GemhubLaunch.max_notebook_bytes``, not JSON, not
nbformat 3/4, or failing nbformat's schema). Every refusal writes nothing: the
source is read and checked before the destination folder is made.

Launches are serialised within the server (one asyncio lock): picking a free
name and saving there is one step, so two clicks at the same moment never
write the same file, whatever the ContentsManager (one whose calls really
await, such as a remote store, would otherwise interleave them).

Responses carry gemhub's security headers (``gemhub_sandbox.contract``), as
the hub services' pages do.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import nbformat
from gemhub_sandbox.contract import LAUNCH_PATH, SECURITY_HEADERS, content_security_policy
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.security import csp_report_uri
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web
from tornado.escape import xhtml_escape
from traitlets import Int, Unicode
from traitlets.config import LoggingConfigurable

NOTEBOOKS_ENV = "GEMHUB_NOTEBOOKS_DIR"
WORKSPACE_FOLDER = "marketplace"
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_SLUG_LENGTH = 200
FRESH_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}
# nbformat majors that read as version 4 without surprises (nbformat would "convert" a JSON
# object with no version at all, as if it were an nbformat 1 notebook).
NBFORMAT_MAJORS = (3, 4)
NOT_A_NAME = "Not a notebook name: launch links look like gemhub/launch/<name>"


class GemhubLaunch(LoggingConfigurable):
    """Configuration of the gemhub Launch endpoint (``<base_url>gemhub/launch/<slug>``)."""

    notebooks_dir = Unicode(
        "",
        config=True,
        help=f"Folder of curated notebooks. Empty: use ${NOTEBOOKS_ENV} from the environment.",
    )

    max_notebook_bytes = Int(
        32 * 1024 * 1024,
        config=True,
        help="Largest curated notebook Launch copies (bytes); a larger one is refused unread (422).",
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


class UnusableNotebook(ValueError):
    """The curated file cannot be copied as a notebook; the message says why (no content)."""


def load_curated(source: Path, slug: str, max_bytes: int) -> nbformat.NotebookNode:
    """The curated notebook, checked before anything is written: size first (never read a
    huge file), then UTF-8 JSON, an nbformat version nbformat reads as 4, and the schema."""
    size = source.stat().st_size
    if size > max_bytes:
        raise UnusableNotebook(f"The curated notebook '{slug}' is too large to copy "
                               f"({size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB)")
    bad = f"The curated notebook '{slug}' is not a valid notebook"
    try:
        raw = json.loads(source.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise UnusableNotebook(f"{bad}: it is not UTF-8 text") from None
    except ValueError as error:
        raise UnusableNotebook(f"{bad}: not JSON ({error})") from None
    version = raw.get("nbformat") if isinstance(raw, dict) else None
    if type(version) is not int or version not in NBFORMAT_MAJORS:
        raise UnusableNotebook(f"{bad}: nbformat {version!r} is not one of {NBFORMAT_MAJORS}")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat's ValidationError and its conversion errors
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise UnusableNotebook(f"{bad}: {reason}") from None
    return notebook


class LaunchHandler(JupyterHandler):
    """GET ``<base_url>gemhub/launch/<slug>[?fresh=1]``: copy a curated notebook and open it
    (a redirect), or say where the copy is (JSON, for the Lab extension)."""

    auth_resource = "contents"

    @property
    def launch_config(self) -> GemhubLaunch:
        return self.settings["gemhub_launch"]

    @property
    def launch_lock(self) -> asyncio.Lock:
        return self.settings["gemhub_launch_lock"]

    @property
    def content_security_policy(self) -> str:
        """gemhub's policy with jupyter_server's report sink, unless the operator configured one."""
        if "Content-Security-Policy" in self.settings.get("headers", {}):
            return super().content_security_policy
        return content_security_policy(self.settings.get("csp_report_uri",
                                                         url_path_join(self.base_url, csp_report_uri)))

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """As tornado's, but the 400 names the problem, not the bytes (tornado's shows their repr)."""
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            if name is None:  # the slug, from the path
                raise web.HTTPError(400, NOT_A_NAME) from None
            raise web.HTTPError(400, "%s is not valid UTF-8", name) from None

    def set_default_headers(self) -> None:
        super().set_default_headers()
        configured = self.settings.get("headers", {})
        for name, value in SECURITY_HEADERS.items():
            if name not in configured:
                self.set_header(name, value)

    def write_error(self, status_code, **kwargs):
        """A page (or JSON, if asked for) that says what went wrong, also for 404s."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        message = ""
        if isinstance(exc, web.HTTPError) and exc.log_message:
            try:
                message = exc.log_message % exc.args
            except Exception:
                message = exc.log_message
        if self._wants_json():
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

    def _wants_json(self) -> bool:
        """A script's request (the Lab extension's fetch), not a browser following a link."""
        accept = self.request.headers.get("Accept", "")
        return "application/json" in accept and "text/html" not in accept

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
            raise web.HTTPError(400, NOT_A_NAME)
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

    async def _target(self, folder: Path, source: Path, fresh: bool) -> tuple[Path, str]:
        """Where the copy is or would go, and what launching does there, without writing anything.

        Not `increment_filename`: launch links promise ``<stem>-fresh.ipynb``,
        ``<stem>-fresh-2.ipynb``, ..., names that Jupyter's ``-Copy1`` scheme does not give.
        """
        if not fresh:
            primary = folder / source.name
            return primary, ("reuse" if await self._taken(primary) else "copy")
        for name in fresh_names(source.stem):
            if not await self._taken(folder / name):
                return folder / name, "fresh"
        raise AssertionError("unreachable")  # pragma: no cover

    async def _taken(self, path: Path) -> bool:
        """Whether anything is at `path`. The file ContentsManager's `exists` counts a dangling
        symlink too (it lstat()s): saving there would write through the link, out of the root dir."""
        return await ensure_async(self.contents_manager.exists(self._api_path(path)))

    def _api_path(self, path: Path) -> str:
        """The ContentsManager's name for a path under the root dir: '/'-separated, relative."""
        return path.relative_to(self._workspace_root()).as_posix()

    async def _make_folder(self, folder: Path) -> None:
        """marketplace/ and marketplace/<slug>/, made by the ContentsManager where missing."""
        manager = self.contents_manager
        for each in (folder.parent, folder):
            path = self._api_path(each)
            if await ensure_async(manager.dir_exists(path)):
                continue
            if await self._taken(each):
                raise web.HTTPError(409, "Something that is not a folder is in the way of %s", path)
            await ensure_async(manager.save({"type": "directory"}, path))
        # Checked again once it exists: it must not have become a way out of the root dir.
        if not folder.resolve().is_relative_to(self._workspace_root()):
            raise web.HTTPError(403, "The workspace folder is outside your workspace (root folder)")

    async def _copy(self, source: Path, folder: Path, fresh: bool, slug: str) -> tuple[Path, str]:
        """The copy to open, saved first if it is new.

        The ContentsManager has no exclusive create, so looking up a free name and
        saving there happen under the server's launch lock: no other Launch can
        take the same name in between. An existing file is never written.
        """
        async with self.launch_lock:
            dest, action = await self._target(folder, source, fresh)
            if action == "reuse":
                # An existing copy is the user's: opened, never written. A link or a folder by that name is not one.
                if dest.is_symlink() or not await ensure_async(
                        self.contents_manager.file_exists(self._api_path(dest))):
                    raise web.HTTPError(409, "Something that is not a notebook is in the way of %s",
                                        self._api_path(dest))
                return dest, action
            try:
                notebook = load_curated(source, slug, self.launch_config.max_notebook_bytes)
            except UnusableNotebook as error:
                self.log.warning("gemhub launch: slug=%s refused: %s", slug, error)
                raise web.HTTPError(422, "%s", str(error)) from None
            await self._make_folder(folder)
            model = {"type": "notebook", "format": "json", "content": notebook}
            await ensure_async(self.contents_manager.save(model, self._api_path(dest)))
            return dest, action

    def _lab_url(self, dest: Path, slug: str) -> str:
        parts = [WORKSPACE_FOLDER, slug, dest.name]
        return url_path_join(self.base_url, "lab", "tree", *(quote(p, safe="") for p in parts))

    def _redirect_to(self, dest: Path, slug: str) -> None:
        self.redirect(self._lab_url(dest, slug), status=302)

    def _answer(self, dest: Path, slug: str, action: str) -> None:
        """The redirect a link follows, or the copy's path for a script that opens it itself."""
        if not self._wants_json():
            self._redirect_to(dest, slug)
            return
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"path": self._api_path(dest), "action": action,
                                "url": self._lab_url(dest, slug)}))

    # -- verbs -----------------------------------------------------------

    @web.authenticated
    @authorized("write")
    async def get(self, slug: str):
        fresh = self._fresh()
        source, folder = self._resolve(slug)
        dest, action = await self._copy(source, folder, fresh, slug)
        self.log.info("gemhub launch: slug=%s action=%s path=%s/%s/%s", slug, action, WORKSPACE_FOLDER, slug, dest.name)
        self._answer(dest, slug, action)

    @web.authenticated
    @authorized("read")
    async def head(self, slug: str):
        """Same answer as GET, but writes nothing: 302 to where the copy is or would be."""
        fresh = self._fresh()
        source, folder = self._resolve(slug)
        dest, _ = await self._target(folder, source, fresh)
        self._redirect_to(dest, slug)


def _load_jupyter_server_extension(serverapp) -> None:
    config = GemhubLaunch(parent=serverapp)
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["gemhub_launch"] = config
    web_app.settings["gemhub_launch_lock"] = asyncio.Lock()
    # Capture everything after launch/ (slashes included) so malformed names get a clear 400.
    route = url_path_join(base_url, LAUNCH_PATH, "(.*)")
    web_app.add_handlers(".*$", [(route, LaunchHandler)])
    serverapp.log.info("gemhub launch: serving %s", url_path_join(base_url, LAUNCH_PATH, "<slug>"))


# Also loadable directly as `gemhub_workspace.launch`.
def _jupyter_server_extension_points():
    return [{"module": "gemhub_workspace.launch"}]
