"""Running the sandbox inside a user's Jupyter server, via jupyter-server-proxy.

On Binder there is no hub and no separate service: the user's own server
starts the sandbox on demand (entry point `jupyter_serverproxy_servers`) and
proxies it at `<server>/gemhub-sandbox/`. Clients come from the server's
environment: `GEMHUB_SANDBOX_CLIENTS` (JSON), or the single pair
`GEMHUB_SANDBOX_CLIENT_ID`/`GEMHUB_SANDBOX_CLIENT_SECRET` that kernels use.
"""

from __future__ import annotations

import json
import os
import sys


def _clients_environment() -> dict[str, str]:
    if os.environ.get("GEMHUB_SANDBOX_CLIENTS"):
        return {}
    client_id = os.environ.get("GEMHUB_SANDBOX_CLIENT_ID")
    secret = os.environ.get("GEMHUB_SANDBOX_CLIENT_SECRET")
    if client_id and secret:
        # jupyter-server-proxy str.format()s environment values ({port}): escape the JSON braces
        clients = json.dumps({client_id: secret}).replace("{", "{{").replace("}", "}}")
        return {"GEMHUB_SANDBOX_CLIENTS": clients}
    return {}


def setup_sandbox() -> dict:
    return {
        "command": [sys.executable, "-m", "gemhub_sandbox", "serve", "--host", "127.0.0.1", "--port", "{port}"],
        "environment": _clients_environment(),
        "timeout": 60,
        "absolute_url": False,
        "launcher_entry": {"enabled": False},
    }
