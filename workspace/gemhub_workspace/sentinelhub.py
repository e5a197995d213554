"""What curated notebooks call to get an SHConfig: `sh_config()`.

Curated notebooks call `sh_config()` instead of building an SHConfig with
hard-coded URLs or credentials, so the same notebook runs unchanged on a gemhub
hub with the user's own credentials, in CI and on Binder against the sandbox,
and on a laptop with `SH_CLIENT_ID`/`SH_CLIENT_SECRET` exported. Which endpoint
that is, `endpoint.decide()` says (the same answer the server's `[gemhub]`
profile and the sandbox notice use); this module only turns it into an SHConfig.

On Binder nobody sets the sandbox's variables for a kernel the server did not
start (the notebook runner's, a console's): `decide(discover=True)` finds the
sandbox its user's Jupyter server started (`binder.py`) through the Jupyter
runtime folder. A sandbox started by the server may still be starting when the
first cell runs, so sh_config() waits for it to answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

from gemhub_sandbox.contract import HEALTH_PATH, URL_ENV
from sentinelhub import DataCollection, SHConfig

from .endpoint import SANDBOX, USER, decide
from .notice import kernel_notice

SANDBOX_WAIT_S = 60.0


class NoEndpointError(RuntimeError):
    """Neither the user's credentials nor a sandbox are available."""


def using_sandbox() -> bool:
    return decide(discover=True).kind == SANDBOX


def _wait_until_answering(url: str, timeout: float = SANDBOX_WAIT_S) -> None:
    """Wait for the sandbox a Jupyter server is starting. In a kernel this thread already runs
    ipykernel's event loop, so jupyterhub's async wait runs in a thread of its own."""
    from jupyterhub.utils import wait_for_http_server

    with ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(asyncio.run, wait_for_http_server(url + HEALTH_PATH, timeout=timeout)).result()
        except TimeoutError:
            raise NoEndpointError(
                f"The sandbox your Jupyter server starts did not answer at {url} within {timeout:.0f}s; "
                "see the server's log (jupyter-server-proxy entry gemhub-sandbox)."
            ) from None


def sh_config(quiet: bool = False) -> SHConfig:
    """The SHConfig for this user: their own credentials if set, otherwise the sandbox."""
    env = os.environ
    endpoint = decide(env, discover=True)
    if endpoint.kind == USER:
        config = SHConfig()
        sandbox_url = env.get(URL_ENV, "").rstrip("/")
        if sandbox_url and config.sh_base_url.rstrip("/") == sandbox_url:
            # Credentials set in the kernel after the server started (the workshop's way):
            # the server's [gemhub] profile still names the sandbox, which cannot serve them.
            config = SHConfig(use_defaults=True, sh_client_id=env["SH_CLIENT_ID"],
                              sh_client_secret=env.get("SH_CLIENT_SECRET", ""))
        for key, value in endpoint.profile().items():
            setattr(config, key, value)
        return config
    if endpoint.kind == SANDBOX:
        if endpoint.in_server:
            _wait_until_answering(endpoint.base_url)
        # Only for this process, what a kernel started by the sandbox's server inherits anyway:
        # its variables (for what this kernel starts) and oauthlib's leave for its plain-HTTP token URL.
        env.update(endpoint.environment())
        config = SHConfig(use_defaults=True)
        for key, value in endpoint.profile().items():
            setattr(config, key, value)
        if not quiet:
            print(kernel_notice(endpoint.base_url))
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
