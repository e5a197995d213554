"""Start `gemhub up` as a real process and talk to it as a user would.

Used by the tests and by benchmarks/, so both measure the same thing the
README's first command starts.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import yaml

from gemhub.waiting import wait_until

CHECKOUT = Path(__file__).resolve().parents[2]
GEMHUB = Path(sys.executable).parent / "gemhub"
PASSWORD_LINE = re.compile(r"user: (\S+)\s+password: (\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, users: list[str], extra: dict | None = None) -> Path:
    """A gemhub.yaml on free loopback ports, its state inside `folder`."""
    config = {
        "hub": {
            "port": free_port(),
            "api_port": free_port(),
            "proxy_api_port": free_port(),
            "credentials_port": free_port(),
            "data_dir": "state",
        },
        "auth": {"type": "demo", "demo": {"users": users}},
        "culling": {"enabled": True},
        "sentinelhub": {"sandbox": {"port": free_port()}},
        # No background curation unless a test asks: it runs every curated notebook, and the
        # hubs of most tests share the checkout's catalogue folder.
        "marketplace": {"port": free_port(), "curate": False},
    }
    for section, values in (extra or {}).items():
        config.setdefault(section, {}).update(values)
    path = folder / "gemhub.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def hub_answers(url: str, timeout: float, still_running=lambda: True) -> bool:
    """Whether the hub's API at `url` answers within `timeout` (False at once if its process ended)."""

    def answers() -> bool:
        if not still_running():
            raise ProcessLookupError("the hub's process ended")
        try:
            return requests.get(f"{url}/hub/api/", timeout=2).ok
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or too busy to answer yet
            return False

    try:
        return wait_until(answers, timeout)
    except (ProcessLookupError, TimeoutError):
        return False


@dataclass
class RunningHub:
    """One `gemhub up` process; `passwords` accumulates across restarts."""

    config_file: Path
    log_file: Path
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    # signals the hub starts with ignored, as under nohup or a script's `&`
    ignored_signals: tuple[int, ...] = ()
    # added to the hub's environment (e.g. PGPASSWORD for a PostgreSQL hub.db_url)
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        port = yaml.safe_load(self.config_file.read_text())["hub"]["port"]
        return f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 150) -> "RunningHub":
        """A guard against a hub that never comes up, not a speed check: on a loaded two-core
        machine importing JupyterHub alone has taken ~45 s."""
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self.launch()
        if not hub_answers(self.url, timeout, still_running=lambda: self.process.poll() is None):
            if self.process.poll() is not None:
                raise RuntimeError(f"gemhub up exited {self.process.returncode}:\n{self.log_tail()}")
            raise RuntimeError(f"hub not up after {timeout}s:\n{self.log_tail()}")
        new_output = self.log_file.read_bytes()[offset:].decode(errors="replace")
        self.passwords.update(PASSWORD_LINE.findall(new_output))
        return self

    def launch(self) -> None:
        """Start `gemhub up` without waiting for it."""
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(GEMHUB), "up", "--config", str(self.config_file)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.config_file.parent,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}, **self.environment},
            preexec_fn=self._ignore_signals if self.ignored_signals else None,
        )

    def _ignore_signals(self) -> None:
        for sig in self.ignored_signals:
            signal.signal(sig, signal.SIG_IGN)

    def stop(self, timeout: float = 30) -> int:
        """Ctrl-C, as a person at the terminal would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def session(self, user: str) -> "UserSession":
        return UserSession(self.url, user, self.passwords[user])


class UserSession:
    """A logged-in person: cookies from the real login form, then the hub API."""

    def __init__(self, url: str, user: str, password: str):
        self.url, self.user, self.password = url, user, password
        self.http = requests.Session()

    def login(self, password: str | None = None) -> requests.Response:
        self.http.get(f"{self.url}/hub/login", timeout=10)
        return self.http.post(
            f"{self.url}/hub/login",
            data={
                "username": self.user,
                "password": password if password is not None else self.password,
                "_xsrf": self.http.cookies.get("_xsrf", path="/hub/"),
            },
            allow_redirects=False,
            timeout=30,
        )

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-XSRFToken": self.http.cookies.get("_xsrf", path="/hub/") or ""}
        return self.http.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs)

    def server_status(self) -> dict | None:
        user = self.api("GET", f"/users/{self.user}").json()
        return user.get("servers", {}).get("")

    def start_server(self, timeout: float = 120) -> None:
        """Spawn through the same URL the home page's Start button uses, wait until ready."""
        self.http.get(f"{self.url}/hub/spawn/{self.user}", timeout=30, allow_redirects=False)
        self._wait(lambda s: s and s.get("ready"), timeout, "ready")

    def stop_server(self, timeout: float = 60) -> None:
        response = self.api("DELETE", f"/users/{self.user}/server")
        assert response.status_code in (202, 204), response.text
        self._wait(lambda s: not s, timeout, "stopped")

    def _wait(self, done, timeout: float, what: str) -> None:
        wait_until(lambda: done(self.server_status()), timeout, f"{self.user}'s server {what}")

    def token(self, note: str = "test") -> str:
        response = self.api("POST", f"/users/{self.user}/tokens", json={"note": note, "expires_in": 3600})
        response.raise_for_status()
        return response.json()["token"]

    def open_lab(self) -> requests.Response:
        """GET JupyterLab through the proxy, following the hub's OAuth redirects."""
        return self.http.get(f"{self.url}/user/{self.user}/lab", timeout=60)


def processes_in(folder: Path) -> dict[int, str]:
    """Processes whose working directory is inside `folder`, with their command lines.

    `gemhub up` runs the hub, proxy and culler in the data dir and each user
    server in its home, so this finds everything a hub started."""
    found = {}
    folder = folder.resolve()
    for proc in psutil.process_iter(["cwd", "cmdline"]):
        cwd, cmdline = proc.info["cwd"], proc.info["cmdline"]
        if cwd is None or cmdline is None:  # exited (a zombie), or not ours to look at
            continue
        if Path(cwd) == folder or folder in Path(cwd).parents:
            found[proc.pid] = " ".join(cmdline).strip()
    return found
