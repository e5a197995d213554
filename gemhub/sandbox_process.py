"""Run the Sentinel Hub sandbox as a child process with throwaway credentials.

Used wherever gemhub needs imagery without the internet: the notebook runner,
tests and benchmarks. The credentials exist only for the child's lifetime.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

READY = re.compile(r"listening on (http://\S+)")


@dataclass
class Sandbox:
    url: str
    client_id: str
    client_secret: str
    process: subprocess.Popen

    @property
    def token_url(self) -> str:
        return self.url + "/auth/realms/main/protocol/openid-connect/token"

    def environment(self) -> dict[str, str]:
        """What a kernel needs to use this sandbox through gemhub_workspace.sh_config()."""
        return {
            "GEMHUB_SANDBOX_URL": self.url,
            "GEMHUB_SANDBOX_CLIENT_ID": self.client_id,
            "GEMHUB_SANDBOX_CLIENT_SECRET": self.client_secret,
            # plain-HTTP token endpoint on loopback: let oauthlib (sentinelhub-py) use it
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(python: str = sys.executable, timeout: float = 30, extra_args: tuple = ()) -> Sandbox:
    client_id = "runner-" + secrets.token_hex(4)
    client_secret = secrets.token_urlsafe(24)
    env = dict(os.environ, GEMHUB_SANDBOX_CLIENTS=json.dumps({client_id: client_secret}))
    process = subprocess.Popen(
        [python, "-m", "gemhub_sandbox", "serve", "--host", "127.0.0.1", "--port", "0", *extra_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = READY.search(line)
        if match:
            # Keep draining stdout so a chatty sandbox can never block on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return Sandbox(match.group(1).rstrip("/"), client_id, client_secret, process)
    process.kill()
    raise RuntimeError(f"the sandbox did not start (exit code {process.poll()})")
