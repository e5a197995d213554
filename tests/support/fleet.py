"""Users at work on one real hub, and what shows they still are after a fault.

Shared by tests/test_faults_processes.py (which asserts) and benchmarks/restart.py (which
counts and times), so the benchmark measures exactly what the tests check. "At work" means
what a workshop participant has when the hub dies under them: logged in, their server
running, a file saved in their home, and a kernel holding state in memory.

Everything is seen from outside, as a user or an operator would: the hub's REST API, the
public proxy port, the Jupyter contents and kernel APIs, and the process table (psutil).
"""

from __future__ import annotations

import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests
import websocket

from gemhub.waiting import wait_until

from .hub import RunningHub, UserSession, hub_answers, write_config
from .kernel import KernelError, execute_in

FILE = "fleet-note.txt"
VARIABLE = "fleet_marker"  # set in each user's kernel; reading it back proves the same kernel lives on

# How each process a hub starts is recognised in the process table (a fragment of its command line).
PROXY = "configurable-http-proxy"
HUB = "gemhub.hub.app"
SERVICES = {
    "idle-culler": "-m jupyterhub_idle_culler",
    "sandbox": "-m gemhub_sandbox serve",
    "marketplace": "-m gemhub.marketplace.service",
    "credentials": "-m gemhub.credentials.service",
}
SERVER = "jupyterhub-singleuser"
KERNEL = "ipykernel_launcher"


def users(count: int) -> list[str]:
    return [f"u{i}" for i in range(count)]


# Many servers starting at once on a loaded two-core machine: a spawn must not be given up on
# (JupyterHub's "never showed up after 60 seconds") while the machine is merely busy.
PATIENT_SPAWNER = {"start_timeout": 600, "http_timeout": 600}


def fleet_hub(folder: Path, count: int, extra: dict | None = None, environment: dict | None = None) -> RunningHub:
    """A not yet started hub in `folder` for demo users u0..u<count-1>."""
    sections = {"spawner": dict(PATIENT_SPAWNER)}
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    config = write_config(folder, users(count), sections)
    return RunningHub(config, folder / "gemhub-up.log", environment=dict(environment or {}))


@dataclass
class Worker:
    """One user at work, and what was true of their work before the fault."""

    session: UserSession
    token: str = ""
    content: str = ""
    kernel_id: str = ""
    marker: str = ""
    started: str = ""  # the hub API's `started` for the server: a new spawn changes it
    server_pid: int = 0
    kernel_pid: int = 0

    @property
    def user(self) -> str:
        return self.session.user

    @property
    def server_url(self) -> str:
        """The server through the public port, i.e. through the proxy."""
        return f"{self.session.url}/user/{self.user}"

    @property
    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def answers(self) -> bool:
        """Whether the server answers through the proxy, as the user's browser would reach it."""
        try:
            return requests.get(f"{self.server_url}/api/status", headers=self.headers, timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def file_content(self) -> str | None:
        response = requests.get(f"{self.server_url}/api/contents/{FILE}", headers=self.headers, timeout=30)
        return response.json()["content"] if response.status_code == 200 else None

    def kernel_marker(self) -> str | None:
        """The variable set in the kernel before the fault, read back from the same kernel."""
        try:
            return execute_in(self.server_url, self.token, self.kernel_id, f"print({VARIABLE})").strip()
        except (requests.RequestException, websocket.WebSocketException, OSError, KernelError):
            return None

    def start_work(self, spawn_timeout: float) -> None:
        """Log in, start the server from the spawn URL, save a file, start a kernel holding a value."""
        login = self.session.login()
        if login.status_code != 302:
            raise RuntimeError(f"{self.user}: login answered {login.status_code}")
        self.session.start_server(spawn_timeout)
        self.token = self.session.token("fleet")
        self.content = f"{self.user} was here {secrets.token_hex(8)}"
        saved = requests.put(f"{self.server_url}/api/contents/{FILE}", headers=self.headers, timeout=60,
                             json={"type": "file", "format": "text", "content": self.content})
        saved.raise_for_status()
        kernel = requests.post(f"{self.server_url}/api/kernels", headers=self.headers, json={}, timeout=120)
        kernel.raise_for_status()
        self.kernel_id = kernel.json()["id"]
        self.marker = f"{self.user}-{secrets.token_hex(6)}"
        execute_in(self.server_url, self.token, self.kernel_id, f"{VARIABLE} = {self.marker!r}", timeout=180)
        self.started = self.session.server_status()["started"]


@dataclass
class Census:
    """The processes a hub started, by role: "hub", "proxy", a service's name, "server <user>",
    "kernel <user>". Each role maps to {pid: parent pid}."""

    roles: dict[str, dict[int, int]] = field(default_factory=dict)

    def pids(self, role: str) -> set[int]:
        return set(self.roles.get(role, {}))

    def parents(self, role: str) -> set[int]:
        return set(self.roles.get(role, {}).values())

    def all_pids(self) -> set[int]:
        return {pid for members in self.roles.values() for pid in members}


def census(folder: Path) -> Census:
    """Every process whose working directory is inside `folder` (a hub's folder: the hub, proxy
    and services run in its data dir, each user server and kernel in the user's home)."""
    folder = folder.resolve()
    found = Census()
    for proc in psutil.process_iter(["pid", "ppid", "cwd", "cmdline", "status"]):
        cwd, cmdline = proc.info["cwd"], proc.info["cmdline"]
        if not cwd or not cmdline or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cwd = Path(cwd)
        if cwd != folder and folder not in cwd.parents:
            continue
        found.roles.setdefault(_role(" ".join(cmdline), cwd), {})[proc.info["pid"]] = proc.info["ppid"]
    return found


def _role(command: str, cwd: Path) -> str:
    if HUB in command:
        return "hub"
    if PROXY in command:
        return "proxy"
    for name, fragment in SERVICES.items():
        if fragment in command:
            return name
    if SERVER in command:
        return f"server {cwd.name}"
    if KERNEL in command:
        return f"kernel {cwd.name}"
    return "other"


def set_to_work(hub: RunningHub, count: int, spawn_timeout: float = 300) -> list[Worker]:
    """`count` users at work at once (logins and spawns concurrent, as at a workshop's start);
    then each one's server and kernel pid is noted."""
    workers = [Worker(hub.session(user)) for user in users(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda w: w.start_work(spawn_timeout), workers))
    seen = census(hub.config_file.parent)
    for w in workers:
        (w.server_pid,) = seen.pids(f"server {w.user}")
        (w.kernel_pid,) = seen.pids(f"kernel {w.user}")
    return workers


def sigkill(process) -> None:
    """SIGKILL a Popen and reap it (the hub is our child; a zombie would still count as alive)."""
    process.send_signal(signal.SIGKILL)
    process.wait()


def all_reconnected(workers: list[Worker], gone_proxy: int | None = None) -> bool:
    """Every user's server answers through the public port, and (when given) the old proxy is gone,
    so the answers come through the restarted hub's proxy, not a leftover one."""
    if gone_proxy is not None and psutil.pid_exists(gone_proxy):
        return False
    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        return all(pool.map(Worker.answers, workers))


def restart_until_reconnected(hub: RunningHub, workers: list[Worker], old_proxy: int, timeout: float,
                              wait_for_hub_api: bool = True) -> float:
    """Start `gemhub up` again on the same config; seconds from the start until every user's
    server answers through the new proxy (TimeoutError after `timeout`).

    Users are routed before the services start (gemhub/hub/app.py); the hub's own route comes once
    they answer. The checks that usually follow ask the hub API through the proxy, so by default
    this also waits for it; a test looking at the moment users reconnect passes False."""
    began = time.monotonic()
    hub.launch()
    wait_until(lambda: all_reconnected(workers, gone_proxy=old_proxy), timeout,
               "every user's server answering through the restarted hub's proxy")
    reconnected = time.monotonic() - began
    if wait_for_hub_api:
        wait_for_hub_through_proxy(hub, timeout)
    return reconnected


def wait_for_hub_through_proxy(hub: RunningHub, timeout: float) -> None:
    if not hub_answers(hub.url, timeout, still_running=lambda: hub.process.poll() is None):
        raise TimeoutError(f"the restarted hub's API not answering through the proxy:\n{hub.log_tail()}")


def lost_servers(workers: list[Worker]) -> list[str]:
    """Users whose server is not the same one as before: not ready per the hub API, a new spawn
    (another `started`), or its process gone."""
    lost = []
    for w in workers:
        status = w.session.server_status() or {}
        if not status.get("ready") or status.get("started") != w.started or not psutil.pid_exists(w.server_pid):
            lost.append(w.user)
    return lost


def lost_files(workers: list[Worker]) -> list[str]:
    return [w.user for w in workers if w.file_content() != w.content]


def lost_kernels(workers: list[Worker]) -> list[str]:
    return [w.user for w in workers if not psutil.pid_exists(w.kernel_pid) or w.kernel_marker() != w.marker]


def services_not_replaced(folder: Path, hub_pid: int, old: dict[str, set[int]]) -> dict[str, str]:
    """What is wrong with the managed services now: each should be exactly one process, started
    by the running hub, and none of the killed hub's still alive. Empty when all is well."""
    now = census(folder)
    wrong = {}
    for name in SERVICES:
        leftovers = sorted(pid for pid in old[name] if psutil.pid_exists(pid))
        if leftovers:
            wrong[name] = f"left running by the killed hub: pids {leftovers}"
        elif len(now.pids(name)) != 1 or now.parents(name) != {hub_pid}:
            wrong[name] = f"pids {sorted(now.pids(name))} with parents {sorted(now.parents(name))} (hub {hub_pid})"
    return wrong


def service_pages(session: UserSession) -> dict[str, tuple[int, str]]:
    """What the user gets opening the marketplace and credentials pages through the proxy (OAuth
    round trip included): status and final path, to compare before and after a fault."""
    pages = {}
    for name in ("marketplace", "credentials"):
        page = session.http.get(f"{session.url}/services/{name}/", timeout=60)
        pages[name] = (page.status_code, urlsplit(page.url).path)
    return pages


def kill_everything_in(folder: Path) -> None:
    """A teardown: SIGKILL whatever still runs from `folder`, whatever the test left."""
    for pid in census(folder).all_pids():
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
