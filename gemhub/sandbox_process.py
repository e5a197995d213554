"""Run the Sentinel Hub sandbox as a child process with throwaway credentials.

Used wherever gemhub needs imagery without the internet: the notebook runner,
tests and benchmarks. The credentials exist only for the child's lifetime.
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass

from gemhub_sandbox.child import SandboxProcess, start


@dataclass
class Sandbox:
    url: str
    client_id: str
    client_secret: str
    child: SandboxProcess

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
        self.child.stop()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(python: str = sys.executable, timeout: float = 30, extra_args: tuple = ()) -> Sandbox:
    client_id = "runner-" + secrets.token_hex(4)
    client_secret = secrets.token_urlsafe(24)
    child = start({client_id: client_secret}, python=python, args=tuple(extra_args), timeout=timeout)
    return Sandbox(child.url, client_id, client_secret, child)
