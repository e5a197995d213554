"""Start the sandbox as a child process and wait until it listens.

The runner, the embedded hub, the tests of both environments and the
benchmarks all need "a sandbox on a free loopback port, with these clients,
and its URL": this is that, once, in the package both environments have.
The sandbox prints one line when it is ready (`gemhub sandbox listening on
URL`); its stdout is drained afterwards so a chatty child never blocks.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from .contract import clients_environment

READY_PREFIX = "gemhub sandbox listening on "


class SandboxDidNotStart(RuntimeError):
    pass


@dataclass
class SandboxProcess:
    url: str
    process: subprocess.Popen

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 10) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "SandboxProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _ready_line(process: subprocess.Popen, timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline, line = time.monotonic() + timeout, ""
    try:
        while time.monotonic() < deadline and not line.endswith("\n") and process.poll() is None:
            if selector.select(timeout=0.5):
                chunk = process.stdout.readline()
                if not chunk:
                    break
                line += chunk
    finally:
        selector.close()
    return line.strip()


def start(
    clients: dict[str, str],
    *,
    python: str = sys.executable,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    cwd=None,
    stderr=subprocess.DEVNULL,
    timeout: float = 60,
) -> SandboxProcess:
    """A sandbox on 127.0.0.1 (free port) accepting `clients` ({client id: secret})."""
    environment = dict(os.environ if env is None else env)
    environment.update(clients_environment(clients))
    process = subprocess.Popen(
        [python, "-m", "gemhub_sandbox", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env=environment, cwd=cwd,
    )
    line = _ready_line(process, timeout)
    if not line.startswith(READY_PREFIX):
        process.kill()
        process.wait()
        raise SandboxDidNotStart(f"the sandbox did not start (exit code {process.returncode}): {line!r}")
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return SandboxProcess(line[len(READY_PREFIX):].rstrip("/"), process)
