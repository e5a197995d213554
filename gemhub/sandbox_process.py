"""Run the Sentinel Hub sandbox as a supervised child process with throwaway credentials.

Used wherever gemhub needs imagery without the internet: the notebook runner,
tests and benchmarks. The credentials exist only for the child's lifetime.

The runner's sandbox is watched: if it dies, the death is recorded (with how
it ended; its stderr is in a log file), whoever asked is told at once (the
runner stops the notebooks that were using it rather than let sentinelhub-py
retry a closed port for minutes), and a new sandbox starts on the same port
with the same clients, so kernels' environments stay valid.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gemhub_sandbox.child import SandboxDidNotStart, SandboxProcess, start
from gemhub_sandbox.contract import HEALTH_PATH, TOKEN_PATH, environment
from gemhub_sandbox.workers import describe_exit


@dataclass
class Death:
    at: float
    how: str


@dataclass
class Sandbox:
    url: str
    client_id: str
    client_secret: str
    child: SandboxProcess
    log_path: Path | None = None
    deaths: list[Death] = field(default_factory=list)

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def environment(self) -> dict[str, str]:
        """What a kernel needs to use this sandbox through gemhub_workspace.sh_config()."""
        return environment(self.url, self.client_id, self.client_secret)

    def stop(self) -> None:
        self.child.stop()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class SupervisedSandbox(Sandbox):
    """A sandbox that is restarted on the same port when it dies; `on_death` callbacks hear of it first."""

    def __init__(self, child: SandboxProcess, client_id: str, client_secret: str, python: str,
                 extra_args: tuple, log_path: Path | None, timeout: float):
        super().__init__(child.url, client_id, client_secret, child, log_path)
        self._python, self._extra_args, self._timeout = python, extra_args, timeout
        self._on_death: list[Callable[[Death], None]] = []
        self._lock = threading.Lock()
        self._restarted = threading.Condition(self._lock)
        self._stopping = False
        self._watcher = threading.Thread(target=self._watch, name="sandbox-watchdog", daemon=True)
        self._watcher.start()

    def on_death(self, callback: Callable[[Death], None]) -> None:
        self._on_death.append(callback)

    def died_since(self, moment: float) -> list[Death]:
        with self._lock:
            return [d for d in self.deaths if d.at >= moment]

    def healthy(self, timeout: float = 5) -> bool:
        try:
            with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=timeout) as answer:
                return answer.status == 200
        except OSError:
            return False

    def ensure_alive(self, wait: float = 90) -> None:
        """Before a notebook: a sandbox that answers. One that hangs is killed (the watchdog restarts it)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                process = self.child.process
            if process.poll() is None and self.healthy():
                return
            if process.poll() is None:
                process.kill()
            with self._lock:
                self._restarted.wait(timeout=1)
        raise SandboxDidNotStart(f"the sandbox at {self.url} did not come back within {wait:.0f} s; "
                                 f"see {self.log_path}")

    def _watch(self) -> None:
        while not self._stopping:
            code = self.child.process.wait()  # returns the moment the sandbox ends, however it ends
            death = Death(at=time.time(), how=describe_exit(code))
            with self._lock:
                if self._stopping:
                    return
                self.deaths.append(death)
            _log_line(self.log_path, f"gemhub: the sandbox (pid {self.child.process.pid}) died ({death.how}); "
                                     f"restarting it on {self.url}")
            for callback in self._on_death:
                callback(death)
            self._restart()

    def _restart(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        for _ in range(20):
            if self._stopping:
                return
            try:
                child = _start_child({self.client_id: self.client_secret}, self._python,
                                     (*self._extra_args, "--port", port), self.log_path, self._timeout)
            except SandboxDidNotStart:
                time.sleep(0.5)  # the port may still be held for a moment
                continue
            with self._lock:
                self.child = child
                self._restarted.notify_all()
            return
        _log_line(self.log_path, "gemhub: could not restart the sandbox")

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self.child.stop()


def _log_line(log_path: Path | None, line: str) -> None:
    if log_path is not None:
        with log_path.open("a") as log:
            log.write(line + "\n")


def _start_child(clients: dict, python: str, args: tuple, log_path: Path | None, timeout: float) -> SandboxProcess:
    if log_path is None:
        return start(clients, python=python, args=args, timeout=timeout)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as stderr:
        return start(clients, python=python, args=args, stderr=stderr, timeout=timeout)


def start_sandbox(python: str = sys.executable, timeout: float = 60, extra_args: tuple = (),
                  log_path: Path | None = None, supervised: bool = False) -> Sandbox:
    """A sandbox on a free loopback port; its stderr goes to `log_path` (else nowhere)."""
    client_id = "runner-" + secrets.token_hex(4)
    client_secret = secrets.token_urlsafe(24)
    child = _start_child({client_id: client_secret}, python, tuple(extra_args), log_path, timeout)
    if supervised:
        return SupervisedSandbox(child, client_id, client_secret, python, tuple(extra_args), log_path, timeout)
    return Sandbox(child.url, client_id, client_secret, child, log_path)
