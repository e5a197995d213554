"""The hubs benchmarks/load.py measures: gemhub, stock JupyterHub, or one already running.

Each target gives the harness the same things: a URL, how each simulated user
authenticates (the real login form with a password, or an API token), the pid
whose process tree is sampled, and which steps exist there (stock has no
marketplace and no Launch). gemhub and stock get the same spawner
(SimpleLocalProcessSpawner), the same user environment and the same single-user
arguments, so the difference between their figures is gemhub's hooks, services
and configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import requests
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.hub import RunningHub, free_port, hub_answers, write_config  # noqa: E402

from gemhub.config.model import SpawnerSection  # noqa: E402
from gemhub.paths import proxy_command, state_home  # noqa: E402

USER_ENV = state_home() / "envs" / "user"
HUB_BIN = Path(sys.executable).parent
PROBE_SLUG = "load-probe"
# gemhub's start/http timeouts, given to stock too: JupyterHub's own (60/30 s) would fail spawns
# that gemhub waits for under load, and the comparison would measure the timeouts.
SPAWNER_DEFAULTS = SpawnerSection()
# What the user env enables besides the single-user server itself (`jupyter server extension
# list`): all off in lightweight mode, so a server is jupyter_server + the kernel machinery.
SERVER_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "jupyter_server_proxy", "jupyter_server_terminals",
                     "notebook_shim", "gemhub_workspace")


def singleuser_args(lightweight: bool) -> list[str]:
    """Spawner.args for both hubs; replaces gemhub's own, so --allow-root is repeated here."""
    args = ["--allow-root"] if os.geteuid() == 0 else []
    if lightweight:
        # traitlets' command-line form of a Dict trait: one key=value per flag
        args += [f"--ServerApp.jpserver_extensions={name}=False" for name in SERVER_EXTENSIONS]
    return args


def default_url(lightweight: bool) -> str:
    """Lab's page does not exist without jupyterlab; the hub's redirect then lands on the server's API."""
    return "/api/status" if lightweight else "/lab"


@dataclass
class Target:
    name: str
    url: str
    auth: str  # "login form" or "API token"
    root_pid: int | None
    credentials: dict[str, str]  # user → password (login form) or token (API token)
    skip: dict[str, str] = field(default_factory=dict)  # step → why it does not exist here
    notes: list[str] = field(default_factory=list)
    launch_slug: str = PROBE_SLUG


def probe_site(folder: Path) -> tuple[Path, Path]:
    """A one-notebook catalogue (the marketplace page and Launch's source), built without running
    the curated notebooks: a tiny notebook and a hand-made runner report, then `build_site`."""
    from gemhub.marketplace.build import build_site
    from gemhub.notebooks.report import Environment, NotebookResult, Report, Summary

    books, runs = folder / "notebooks", folder / "runs"
    books.mkdir(parents=True)
    runs.mkdir()
    meta = {"title": "Load probe", "description": "A one-cell notebook that benchmarks/load.py launches.",
            "tags": ["benchmark"], "level": "beginner", "collections": ["sentinel-2-l2a"],
            "needs_credentials": False, "authors": ["gemhub benchmarks"], "licence": "MIT"}
    notebook = new_notebook(cells=[new_markdown_cell("# Load probe"), new_code_cell("x = 1")],
                            metadata={"gemhub": meta})
    nbformat.write(notebook, books / f"{PROBE_SLUG}.ipynb")
    nbformat.write(notebook, runs / f"{PROBE_SLUG}.ipynb")
    now = datetime.now(timezone.utc)
    report = Report(
        generated_at=now, environment=Environment(user_lock_sha256="0" * 64, kernel="gemhub-user", python="3"),
        summary=Summary(total=1, passed=1, failed=0, timeout=0, cached=0, wall_s=0.0),
        notebooks=[NotebookResult(path=str(books / f"{PROBE_SLUG}.ipynb"), slug=PROBE_SLUG, status="passed",
                                  cached=False, duration_s=0.1, finished_at=now,
                                  output_notebook=str(runs / f"{PROBE_SLUG}.ipynb"), cache_key="0" * 64,
                                  parameters={})],
    )
    report.write(runs / "report.json")
    site = folder / "site"
    build_site(runs / "report.json", site, books)
    return site, books


class GemhubHub:
    """`gemhub up` on free loopback ports (tests/support/hub.py), its demo users' passwords from its log."""

    def __init__(self, folder: Path, users: list[str], lightweight: bool, extra: dict | None = None):
        site, books = probe_site(folder / "probe")
        config = {
            "hub": {"extra_config": {"Spawner": {"args": singleuser_args(lightweight),
                                                 "default_url": default_url(lightweight)}}},
            "marketplace": {"site_dir": str(site), "notebooks_dir": str(books)},
        }
        for section, values in (extra or {}).items():
            config.setdefault(section, {}).update(values)
        self.lightweight = lightweight
        self.hub = RunningHub(write_config(folder, users, config), folder / "gemhub-up.log")

    def start(self) -> Target:
        self.hub.start()
        skip = {"launch": "skipped: lightweight"} if self.lightweight else {}
        return Target("gemhub", self.hub.url, "login form", self.hub.process.pid, dict(self.hub.passwords), skip)

    def stop(self) -> None:
        self.hub.stop(timeout=120)

    def log_tail(self) -> str:
        return self.hub.log_tail(60)


STOCK_CONFIG = """\
# Stock JupyterHub for benchmarks/load.py: nothing of gemhub's, only what a comparison needs.
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = set({users!r})
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/homes/{{username}}"
c.Spawner.ip = "127.0.0.1"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = {default_url!r}
c.Spawner.start_timeout = {start_timeout!r}
c.Spawner.http_timeout = {http_timeout!r}
c.Spawner.environment = {{"PATH": {path!r}}}
"""


class StockHub:
    """JupyterHub 6 from the hub env with a generated jupyterhub_config.py, its own proxy, DummyAuthenticator."""

    def __init__(self, folder: Path, users: list[str], lightweight: bool):
        import secrets

        self.folder, self.users, self.lightweight = folder, users, lightweight
        self.password = secrets.token_urlsafe(12)
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "homes").mkdir(exist_ok=True)
        bin_dir = USER_ENV / "bin"
        (folder / "jupyterhub_config.py").write_text(STOCK_CONFIG.format(
            port=self.port, api_port=free_port(), proxy_api_port=free_port(), proxy=proxy_command(),
            folder=folder, password=self.password, users=sorted(users),
            singleuser=str(bin_dir / "jupyterhub-singleuser"), args=singleuser_args(lightweight),
            default_url=default_url(lightweight), start_timeout=SPAWNER_DEFAULTS.start_timeout,
            http_timeout=SPAWNER_DEFAULTS.http_timeout, path=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"))
        self.log_file = folder / "jupyterhub.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Target:
        url = f"http://127.0.0.1:{self.port}"
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [str(HUB_BIN / "jupyterhub"), "-f", str(self.folder / "jupyterhub_config.py")],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder,
                env={k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "CONFIGPROXY_"))},
            )
        if not hub_answers(url, 150, still_running=lambda: self.process.poll() is None):
            raise RuntimeError(f"stock jupyterhub did not come up:\n{self.log_tail()}")
        skip = {"marketplace": "skipped: stock has no marketplace", "launch": "skipped: stock has no Launch"}
        return Target("stock", url, "login form", self.process.pid, {u: self.password for u in self.users}, skip)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-60:])


class RemoteHub:
    """A hub already running elsewhere: users made and given tokens through its admin API, removed after."""

    def __init__(self, url: str, admin_token: str, users: list[str], launch_slug: str):
        self.url, self.users, self.launch_slug = url.rstrip("/"), users, launch_slug
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {admin_token}"

    def _api(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, f"{self.url}/hub/api{path}", timeout=60, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /hub/api{path}: {response.status_code} {response.text[:200]}")
        return response

    def start(self) -> Target:
        existing = {u["name"] for u in self._api("GET", "/users").json()}
        new = [u for u in self.users if u not in existing]
        if new:
            self._api("POST", "/users", json={"usernames": new})
        tokens = {u: self._api("POST", f"/users/{u}/tokens", json={"note": "benchmarks/load.py", "expires_in": 7200})
                  .json()["token"] for u in self.users}
        skip = {"login": "skipped: API token (no login form)", "token": "skipped: made by the admin beforehand",
                "server_auth": "skipped: API token (no OAuth round trip)"}
        return Target("remote", self.url, "API token", None, tokens, skip,
                      notes=["users authenticate with API tokens made through the admin API, not the login form; "
                             "the hub's processes are not on this machine, so no resource samples"],
                      launch_slug=self.launch_slug)

    def stop(self) -> None:
        for user in self.users:
            try:
                self._api("DELETE", f"/users/{user}/server")
            except RuntimeError:
                pass
        for user in self.users:
            try:
                self._api("DELETE", f"/users/{user}")
            except RuntimeError as error:
                print(f"could not remove {user}: {error}", file=sys.stderr)

    def log_tail(self) -> str:
        return "(remote hub: no log here)"


def describe_stock() -> str:
    return textwrap.dedent("""\
        stock: `jupyterhub -f jupyterhub_config.py` (the hub env's JupyterHub) in a temporary folder with only
        bind/API/proxy ports on 127.0.0.1, sqlite, DummyAuthenticator with one shared password, the same
        SimpleLocalProcessSpawner, single-user command, arguments, default URL and start/http timeouts as
        gemhub, and
        configurable-http-proxy from images/proxy/node_modules; no gemhub hooks, services or config.""")
