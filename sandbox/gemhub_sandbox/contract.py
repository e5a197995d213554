"""What the hub, the user servers, their kernels and the sandbox agree on.

Paths, environment variable names and the environment a client needs, defined
once here and imported everywhere else: the sandbox package is the one package
installed in both environments (the hub's and the users'), so the server, the
runner, the hub's spawner and services, and the workspace extensions all read
the same names.
"""

from __future__ import annotations

import json

# --- the sandbox's HTTP API (the paths Sentinel Hub uses) --------------------------------------
TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
PROCESS_PATH = "/api/v1/process"
CATALOG_PREFIX = "/api/v1/catalog/1.0.0"
HEALTH_PATH = "/sandbox/health"

# --- the environment ------------------------------------------------------------------------
ENV_PREFIX = "GEMHUB_SANDBOX_"
# Where a client finds the sandbox and which throwaway client it uses there.
URL_ENV = ENV_PREFIX + "URL"
CLIENT_ID_ENV = ENV_PREFIX + "CLIENT_ID"
CLIENT_SECRET_ENV = ENV_PREFIX + "CLIENT_SECRET"
# The clients a sandbox accepts: JSON {client id: secret}.
CLIENTS_ENV = ENV_PREFIX + "CLIENTS"
# The in-server sandbox (Binder): its fixed loopback port, and the switch that asks for it.
PORT_ENV = ENV_PREFIX + "PORT"
IN_SERVER_ENV = ENV_PREFIX + "IN_SERVER"
# requests-oauthlib refuses a plain-http token endpoint unless this says it is intended.
INSECURE_TRANSPORT_ENV = "OAUTHLIB_INSECURE_TRANSPORT"
# An in-server sandbox's environment, for processes its server did not start (kernels, the
# notebook runner): `<prefix><server pid>.json` in the Jupyter runtime folder.
DISCOVERY_PREFIX = "gemhub-sandbox-"
DISCOVERY_GLOB = DISCOVERY_PREFIX + "*.json"

# --- routes of a user's Jupyter server that the hub links to ---------------------------------
# Here rather than in gemhub_workspace because the hub environment does not install that:
# the marketplace (hub side) links to it, the Launch extension (user side) serves it.
LAUNCH_PATH = "gemhub/launch/"

# --- security headers on gemhub's own pages ---------------------------------------------------
# The hub services (marketplace, credentials) and the Launch endpoint send these. Framing is
# allowed from the hub's own origin only ('self', as jupyter_server does): the marketplace's
# detail page frames its preview. JupyterHub's own pages use 'none'; nothing of ours needs more.
CSP_DIRECTIVES = (
    "frame-ancestors 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Full URLs (which carry slugs and query strings) stay on the hub's origin.
    "Referrer-Policy": "same-origin",
}


def content_security_policy(report_uri: str | None = None) -> str:
    """The Content-Security-Policy value; `report_uri` is the server's CSP report sink, as
    JupyterHub (``hub/security/csp-report``) and jupyter_server (``api/security/csp-report``) name it."""
    return "; ".join(CSP_DIRECTIVES + ((f"report-uri {report_uri}",) if report_uri else ()))


def insecure_transport(token_url: str) -> dict[str, str]:
    """What lets oauthlib (sentinelhub-py) fetch a token from `token_url`: empty for https."""
    return {INSECURE_TRANSPORT_ENV: "1"} if token_url.startswith("http://") else {}


def environment(url: str, client_id: str, secret: str) -> dict[str, str]:
    """What a client process (a kernel, a user server) needs to use the sandbox at `url`."""
    url = url.rstrip("/")
    return {
        URL_ENV: url,
        CLIENT_ID_ENV: client_id,
        CLIENT_SECRET_ENV: secret,
        **insecure_transport(url + TOKEN_PATH),
    }


def clients_environment(clients: dict[str, str]) -> dict[str, str]:
    """What a sandbox process needs to accept `clients` ({client id: secret})."""
    return {CLIENTS_ENV: json.dumps(clients)}
