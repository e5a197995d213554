"""Running the sandbox inside a user's Jupyter server, via jupyter-server-proxy.

On Binder there is no hub and no separate service: the user's own server
starts the sandbox (entry point `jupyter_serverproxy_servers`) and proxies it
at `<server>/gemhub-sandbox/`. jupyter-server-proxy launches it on the first
request through that URL; `gemhub_workspace.binder` makes that request at
server start so kernels find it running.

Kernels cannot use the proxied URL (it needs the server's login), so they talk
to the sandbox directly on loopback. That is why the port is fixed for the
server's lifetime: `GEMHUB_SANDBOX_PORT`, or a free port chosen once and put
into this server's environment, where the workspace extension and every kernel
read it.

Clients come from the server's environment at launch time (not at import, so
whatever the workspace extension exported counts): `GEMHUB_SANDBOX_CLIENTS`
(JSON), or the single pair `GEMHUB_SANDBOX_CLIENT_ID`/`_SECRET` that kernels use.
"""

from __future__ import annotations

import os
import socket
import sys

from .contract import CLIENT_ID_ENV, CLIENT_SECRET_ENV, CLIENTS_ENV, PORT_ENV, clients_environment

PROXY_NAME = "gemhub-sandbox"


def sandbox_port() -> int:
    """The port the in-server sandbox listens on; chosen once per server process."""
    raw = os.environ.get(PORT_ENV, "").strip()
    if raw:
        try:
            port = int(raw)
        except ValueError:
            raise ValueError(f"{PORT_ENV}={raw!r} is not a port number") from None
        if not 0 < port < 65536:
            raise ValueError(f"{PORT_ENV}={raw!r} is not a port number (1-65535)")
        return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ[PORT_ENV] = str(port)
    return port


def _clients_environment() -> dict[str, str]:
    if os.environ.get(CLIENTS_ENV):
        return {}
    client_id = os.environ.get(CLIENT_ID_ENV)
    secret = os.environ.get(CLIENT_SECRET_ENV)
    if client_id and secret:
        # jupyter-server-proxy str.format()s environment values ({port}): escape the JSON braces
        return {name: value.replace("{", "{{").replace("}", "}}")
                for name, value in clients_environment({client_id: secret}).items()}
    return {}


def setup_sandbox() -> dict:
    return {
        "command": [sys.executable, "-m", "gemhub_sandbox", "serve", "--host", "127.0.0.1", "--port", "{port}"],
        "port": sandbox_port(),
        # A callable: evaluated when the process is launched, after every extension has loaded.
        "environment": _clients_environment,
        "timeout": 60,
        "absolute_url": False,
        "launcher_entry": {"enabled": False},
    }
