"""Which Sentinel Hub this user's code talks to, decided in one place.

The `[gemhub]` profile a server writes at start (`shprofile`), `sh_config()` in a
kernel (`sentinelhub`), the in-server sandbox's decision to start
(`binder`) and the "you are on sandbox data" notice (`notice`) all ask
`decide()`, so they cannot disagree. The rule:

1. the user's own credentials (`SH_CLIENT_ID`, set by the hub at spawn or by the
   user): the real service, at `GEMHUB_SH_BASE_URL`/`GEMHUB_SH_TOKEN_URL` when the
   deployment is not sentinelhub-py's default (e.g. Copernicus Data Space);
2. otherwise the sandbox named in the environment (`GEMHUB_SANDBOX_URL` and its
   throwaway client): put there by the hub at spawn, by the notebook runner, or by
   the user's own Jupyter server that runs one itself (Binder, `binder.py`);
3. otherwise, when asked to look (`discover=True`, for a kernel that server did not
   start), the sandbox a running Jupyter server of this user announced in the
   Jupyter runtime folder;
4. otherwise none: sentinelhub-py keeps its defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gemhub_sandbox.contract import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    IN_SERVER_ENV,
    TOKEN_PATH,
    URL_ENV,
    environment,
    insecure_transport,
)

USER, SANDBOX, NONE = "user", "sandbox", "none"
BASE_URL_ENV = "GEMHUB_SH_BASE_URL"
TOKEN_URL_ENV = "GEMHUB_SH_TOKEN_URL"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Endpoint:
    kind: str  # USER, SANDBOX or NONE
    base_url: str = ""  # "" keeps sentinelhub-py's default
    token_url: str = ""
    # Only the sandbox's throwaway client: the user's own stay in the environment, never here.
    client_id: str = ""
    client_secret: str = ""
    # Run by a Jupyter server of this user, which may still be starting it.
    in_server: bool = False

    def profile(self) -> dict[str, str]:
        """The SHConfig values that differ from sentinelhub-py's defaults (the [gemhub] profile)."""
        values = {"sh_base_url": self.base_url, "sh_token_url": self.token_url}
        if self.kind == SANDBOX:
            values.update(sh_client_id=self.client_id, sh_client_secret=self.client_secret)
        return {key: value for key, value in values.items() if value or self.kind == SANDBOX}

    def environment(self) -> dict[str, str]:
        """What a process must have in its environment to use this endpoint (and what its kernels inherit)."""
        if self.kind == SANDBOX:
            return environment(self.base_url, self.client_id, self.client_secret)
        return insecure_transport(self.token_url)


def decide(environ=None, *, discover: bool = False) -> Endpoint:
    """The endpoint for a process with `environ` (default: this one's); see the module's rule."""
    env = os.environ if environ is None else environ
    if env.get("SH_CLIENT_ID"):
        return Endpoint(USER, env.get(BASE_URL_ENV, "").rstrip("/"), env.get(TOKEN_URL_ENV, ""))
    sandbox, in_server = env, opted_in(env)
    if not env.get(URL_ENV) and discover:
        sandbox, in_server = _server_sandbox() or {}, True
    url = sandbox.get(URL_ENV, "").rstrip("/")
    if not url:
        return Endpoint(NONE)
    return Endpoint(SANDBOX, url, url + TOKEN_PATH, sandbox.get(CLIENT_ID_ENV, ""),
                    sandbox.get(CLIENT_SECRET_ENV, ""), in_server)


def opted_in(environ=None) -> bool:
    """Whether this user's Jupyter server runs a sandbox of its own when there is no other endpoint."""
    env = os.environ if environ is None else environ
    return env.get(IN_SERVER_ENV, "").strip().lower() in _TRUE


def _server_sandbox() -> dict[str, str] | None:
    """The sandbox a Jupyter server of this user started itself (Binder), if any."""
    from .binder import discovered_sandbox

    try:
        return discovered_sandbox()
    except (ImportError, OSError):
        return None
