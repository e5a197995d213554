"""Where a hub-managed service listens, and the URL others reach it at.

JupyterHub gives a managed service one address, JUPYTERHUB_SERVICE_URL: the URL
the proxy and the hub connect to. On one machine that is a loopback address the
service can also bind. When the proxy and user servers run elsewhere (the Helm
chart: other pods), the URL names the hub's Service (`http://gemhub-hub:8020`),
which a process cannot bind; the hub then tells the service what to bind in
BIND_IP_ENV, and the service takes only the port from the URL.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlparse

# The address a managed service binds, set by the hub (gemhub.hub.services) from hub.services_bind_ip.
BIND_IP_ENV = "GEMHUB_SERVICE_BIND_IP"
SERVICE_URL_ENV = "JUPYTERHUB_SERVICE_URL"


def http_url(host: str, port: int) -> str:
    """http://host:port, with an IPv6 address in brackets as URLs need it."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:  # a host name
        pass
    return f"http://{host}:{port}"


def listen_address(default_url: str) -> tuple[str, int]:
    """(address, port) this service binds: the port of its URL, the address of BIND_IP_ENV when set.

    Without BIND_IP_ENV (a service started by hand, an older hub) the URL's own host
    is bound, as before."""
    url = urlparse(os.environ.get(SERVICE_URL_ENV) or default_url)
    return os.environ.get(BIND_IP_ENV) or url.hostname or "127.0.0.1", url.port
