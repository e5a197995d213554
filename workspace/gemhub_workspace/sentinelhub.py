"""One place that decides which Sentinel Hub a notebook talks to.

Curated notebooks call `sh_config()` instead of building an SHConfig with
hard-coded URLs or credentials, so the same notebook runs unchanged on a gemhub
hub with the user's own credentials, in CI and on Binder against the sandbox,
and on a laptop with `SH_CLIENT_ID`/`SH_CLIENT_SECRET` exported.

Environment, as set by the hub at spawn (or by the notebook runner):
- `SH_CLIENT_ID`, `SH_CLIENT_SECRET`: the user's own OAuth client (read by
  sentinelhub-py itself); with `GEMHUB_SH_BASE_URL`/`GEMHUB_SH_TOKEN_URL` for
  a non-default deployment (e.g. Copernicus Data Space).
- `GEMHUB_SANDBOX_URL`, `GEMHUB_SANDBOX_CLIENT_ID`, `GEMHUB_SANDBOX_CLIENT_SECRET`:
  the offline sandbox, used only when the user has no credentials.

On Binder nobody sets these for a kernel the server did not start (the
notebook runner's, a console's): such a kernel finds the sandbox its user's
Jupyter server started (`binder.py`) through the Jupyter runtime folder. A
sandbox started by the server may still be starting when the first cell runs,
so sh_config() waits for it to answer.
"""

from __future__ import annotations

import hashlib
import os
import time

from sentinelhub import DataCollection, SHConfig

TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
SANDBOX_NOTICE = (
    "gemhub: no Sentinel Hub credentials found, using the offline sandbox at {url} "
    "(synthetic imagery, not real data). Set SH_CLIENT_ID and SH_CLIENT_SECRET for real data."
)


class NoEndpointError(RuntimeError):
    """Neither the user's credentials nor a sandbox are available."""


SANDBOX_WAIT_S = 60.0


def using_sandbox() -> bool:
    return not os.environ.get("SH_CLIENT_ID") and bool(os.environ.get("GEMHUB_SANDBOX_URL") or _server_sandbox())


def _server_sandbox() -> dict[str, str] | None:
    """The sandbox a Jupyter server of this user started itself (Binder), if any."""
    from .binder import discovered_sandbox

    try:
        return discovered_sandbox()
    except (ImportError, OSError):
        return None


def _wait_until_answering(url: str, timeout: float = SANDBOX_WAIT_S) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url + "/sandbox/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise NoEndpointError(
                f"The sandbox your Jupyter server starts did not answer at {url} within {timeout:.0f}s; "
                "see the server's log (jupyter-server-proxy entry gemhub-sandbox)."
            )
        time.sleep(0.5)


def sh_config(quiet: bool = False) -> SHConfig:
    """The SHConfig for this user: their own credentials if set, otherwise the sandbox."""
    env = os.environ
    if env.get("SH_CLIENT_ID"):
        config = SHConfig()
        sandbox_url = env.get("GEMHUB_SANDBOX_URL", "").rstrip("/")
        if sandbox_url and config.sh_base_url.rstrip("/") == sandbox_url:
            # Credentials set in the kernel after the server started (the workshop's way):
            # the server's [gemhub] profile still names the sandbox, which cannot serve them.
            config = SHConfig(use_defaults=True, sh_client_id=env["SH_CLIENT_ID"],
                              sh_client_secret=env.get("SH_CLIENT_SECRET", ""))
        if env.get("GEMHUB_SH_BASE_URL"):
            config.sh_base_url = env["GEMHUB_SH_BASE_URL"].rstrip("/")
        if env.get("GEMHUB_SH_TOKEN_URL"):
            config.sh_token_url = env["GEMHUB_SH_TOKEN_URL"]
        return config
    from .binder import opted_in

    in_server = opted_in(env)  # a sandbox the server starts may not be up yet
    if not env.get("GEMHUB_SANDBOX_URL"):
        found = _server_sandbox()
        if found:
            # Only for this process: what a kernel started by that server inherits anyway.
            env.update(found)
            in_server = True
    if env.get("GEMHUB_SANDBOX_URL"):  # using_sandbox(), with the server's sandbox already looked for
        url = env["GEMHUB_SANDBOX_URL"].rstrip("/")
        if in_server:
            _wait_until_answering(url)
        if url.startswith("http://"):
            # The sandbox runs beside the kernel over plain HTTP; oauthlib refuses
            # http token endpoints unless told this is intended.
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        config = SHConfig(use_defaults=True)
        config.sh_base_url = url
        config.sh_token_url = url + TOKEN_PATH
        config.sh_client_id = env.get("GEMHUB_SANDBOX_CLIENT_ID", "")
        config.sh_client_secret = env.get("GEMHUB_SANDBOX_CLIENT_SECRET", "")
        if not quiet:
            print(SANDBOX_NOTICE.format(url=url))
        return config
    raise NoEndpointError(
        "No Sentinel Hub credentials (SH_CLIENT_ID, SH_CLIENT_SECRET) and no sandbox "
        "(GEMHUB_SANDBOX_URL, or one started by your Jupyter server) in this environment."
    )


def data_collection(collection: DataCollection, config: SHConfig | None = None) -> DataCollection:
    """`collection` as served by `config`'s endpoint.

    sentinelhub-py's built-in collections name services.sentinel-hub.com as their
    service URL, which wins over `sh_base_url`; other deployments (Copernicus Data
    Space, the sandbox) need the collection redefined with their URL, as their
    own documentation shows."""
    config = config or sh_config(quiet=True)
    base_url = config.sh_base_url.rstrip("/")
    if not collection.service_url or collection.service_url.rstrip("/") == base_url:
        return collection
    name = f"{collection.name}_{hashlib.sha1(base_url.encode()).hexdigest()[:8]}"
    moved = collection.value.derive(service_url=base_url, _name=name)
    if moved in DataCollection._value2member_map_:
        # Someone (another helper, the user) already defined this exact collection.
        return DataCollection(moved)
    return collection.define_from(name, service_url=base_url)
