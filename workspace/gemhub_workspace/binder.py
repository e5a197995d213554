"""The offline sandbox inside the user's own Jupyter server, for Binder.

On mybinder.org there is no hub to run a sandbox service or to hand a server
its endpoint, and a workshop participant has no Sentinel Hub account. So a
server started with ``GEMHUB_SANDBOX_IN_SERVER=1`` (``binder/start`` sets it)
and without the user's credentials (``SH_CLIENT_ID``) or a sandbox given by a
hub (``GEMHUB_SANDBOX_URL``), i.e. with no endpoint by ``endpoint.decide()``,
provides one itself:

1. at load, it chooses the sandbox's loopback port (shared with the
   jupyter-server-proxy entry ``gemhub-sandbox``, see
   ``gemhub_sandbox.serverproxy``) and a throwaway client, and puts the
   sandbox's environment (``gemhub_sandbox.contract.environment``) into the server's
   environment, which every kernel and terminal it starts inherits (and which
   ``shprofile`` turns into the ``[gemhub]`` profile, so a bare ``SHConfig()``
   works too). It must therefore load before ``shprofile``;
2. it writes the same values to ``gemhub-sandbox-<pid>.json`` (mode 0600) in
   the Jupyter runtime folder, beside the server's own ``jpserver-<pid>.json``,
   for kernels this server did not start (``endpoint.decide(discover=True)`` looks there);
3. once the server listens, it asks its own ``<base_url>gemhub-sandbox/sandbox/health``
   with its own token, which makes jupyter-server-proxy launch and supervise
   the sandbox. The launch stays jupyter-server-proxy's: this module only
   knocks on the door early, so the first notebook cell does not wait;
4. then it keeps watching: jupyter-server-proxy relaunches a dead process only
   when a request comes through the proxy, and kernels never go through it, so
   every few seconds this server checks the sandbox directly and, if it does
   not answer, knocks again (and says so in the server's log, where the
   sandbox's own stderr also goes).

Kernels talk to the sandbox directly on loopback: the proxied URL needs the
server's login, which sentinelhub-py cannot present.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import tempfile
from pathlib import Path

from gemhub_sandbox.contract import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    DISCOVERY_GLOB,
    DISCOVERY_PREFIX,
    HEALTH_PATH,
    URL_ENV,
    environment,
)
from gemhub_sandbox.serverproxy import PROXY_NAME

# At import, while the server loads: importing it takes a moment, which must not stall the
# running event loop when the sandbox is first asked for.
from jupyterhub.utils import exponential_backoff

from .endpoint import NONE, decide, opted_in

LAUNCH_TIMEOUT = 90.0
WATCH_EVERY = 3.0
_tasks: set[asyncio.Task] = set()
_started_here: list[str] = []  # the sandbox URL, once this process has set one up


def wanted(environ=None) -> bool:
    """Whether this server should run its own sandbox: asked to, and nothing else to use."""
    env = os.environ if environ is None else environ
    return opted_in(env) and decide(env).kind == NONE


def sandbox_environment(port: int, environ=None) -> dict[str, str]:
    """What kernels need to reach the sandbox on `port`; keeps a client the caller already chose."""
    env = os.environ if environ is None else environ
    return environment(f"http://127.0.0.1:{port}",
                       env.get(CLIENT_ID_ENV) or "binder-" + secrets.token_hex(4),
                       env.get(CLIENT_SECRET_ENV) or secrets.token_urlsafe(24))


def write_discovery(runtime_dir: str | Path, values: dict[str, str], pid: int | None = None) -> Path:
    """Atomically write `values` for kernels of other origins; 0600 like Jupyter's own runtime files."""
    folder = Path(runtime_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    pid = os.getpid() if pid is None else pid
    path = folder / f"{DISCOVERY_PREFIX}{pid}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"pid": pid, **values}, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discovered_sandbox(runtime_dir: str | Path | None = None) -> dict[str, str] | None:
    """The sandbox a running Jupyter server of this user started, newest first; None if there is none."""
    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    candidates = []
    for path in Path(runtime_dir).glob(DISCOVERY_GLOB):
        try:
            found = json.loads(path.read_text())
            if _alive(int(found["pid"])) and found.get(URL_ENV):
                candidates.append((path.stat().st_mtime, found))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not candidates:
        return None
    found = max(candidates, key=lambda item: item[0])[1]
    return {key: str(value) for key, value in found.items() if key != "pid"}


def _own_url(serverapp, path: str) -> str:
    """`path` under this server's base_url, on an address the server listens on."""
    from jupyter_server.utils import url_path_join

    ip = serverapp.ip or "localhost"
    if ip in ("0.0.0.0", "*", "localhost"):
        ip = "127.0.0.1"
    elif ip == "::":
        ip = "::1"
    host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if serverapp.certfile else "http"
    return f"{scheme}://{host}:{serverapp.port}" + url_path_join(serverapp.base_url, path)


async def knock(serverapp, timeout: float = LAUNCH_TIMEOUT) -> bool:
    """Ask this server's proxy for the sandbox's health, which launches it; True once it answers 200."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    url = _own_url(serverapp, f"{PROXY_NAME}{HEALTH_PATH}")
    token = getattr(serverapp.identity_provider, "token", "") or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    headers = {"Authorization": f"token {token}"} if token else {}
    client = AsyncHTTPClient()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def answer():
        try:
            # The proxy answers once the sandbox does: one request may take most of the timeout.
            return await client.fetch(url, headers=headers, request_timeout=max(1.0, deadline - loop.time()),
                                      validate_cert=False)
        except OSError:
            return None  # not listening yet (the server binds after extensions load)

    try:
        response = await exponential_backoff(answer, f"this server did not answer at {url}", timeout=timeout)
    except HTTPClientError as error:
        serverapp.log.warning("gemhub binder: starting the sandbox through %s gave HTTP %s", url, error.code)
        return False
    except TimeoutError:
        serverapp.log.warning("gemhub binder: this server did not answer at %s", url)
        return False
    return response.code == 200


async def _sandbox_pid(url: str) -> int | None:
    """The pid the sandbox at `url` reports, or None if it does not answer."""
    from tornado.httpclient import AsyncHTTPClient

    try:
        response = await AsyncHTTPClient().fetch(url + HEALTH_PATH, request_timeout=10, raise_error=False)
        return int(json.loads(response.body)["pid"]) if response.code == 200 else None
    except Exception:  # refused, timed out, not JSON: it does not answer
        return None


async def keep_alive(serverapp, sandbox_url: str) -> None:
    """Bring the sandbox back whenever it stops answering (kernels talk to it directly), and
    leave a line in the server's log whenever it was replaced."""
    known = await _sandbox_pid(sandbox_url)
    while True:
        await asyncio.sleep(WATCH_EVERY)
        pid = await _sandbox_pid(sandbox_url)
        if pid is None:
            serverapp.log.warning("gemhub binder: the sandbox at %s (pid %s) stopped answering; "
                                  "asking jupyter-server-proxy to start it again", sandbox_url, known)
            await knock(serverapp)
            pid = await _sandbox_pid(sandbox_url)
        if pid is not None and pid != known:
            serverapp.log.warning("gemhub binder: sandbox running again at %s (pid %s replaced pid %s, which died; "
                                  "its own output above says why when it could)", sandbox_url, pid, known)
            known = pid


def _load_jupyter_server_extension(serverapp) -> None:
    if not wanted():
        return
    try:
        from gemhub_sandbox.serverproxy import sandbox_port

        port = sandbox_port()
    except (ImportError, ValueError) as error:
        serverapp.log.warning("gemhub binder: no in-server sandbox (%s)", error)
        return
    values = sandbox_environment(port)
    os.environ.update(values)
    _started_here.append(values[URL_ENV])
    try:
        path = write_discovery(serverapp.runtime_dir, values)
    except OSError as error:
        serverapp.log.warning("gemhub binder: could not write the sandbox's runtime file (%s)", type(error).__name__)
    else:
        import atexit

        atexit.register(path.unlink, missing_ok=True)
    serverapp.log.info(
        "gemhub binder: no Sentinel Hub credentials; kernels use the sandbox this server starts at %s",
        values[URL_ENV],
    )


async def _start_jupyter_server_extension(serverapp) -> None:
    if not _started_here:
        return  # not ours to start: the user's credentials, a hub's sandbox, or not opted in

    async def launch() -> None:
        if await knock(serverapp):
            serverapp.log.info("gemhub binder: sandbox running at %s", _started_here[-1])
        await keep_alive(serverapp, _started_here[-1])

    task = asyncio.ensure_future(launch())
    _tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_tasks.discard)


def _jupyter_server_extension_points():
    return [{"module": "gemhub_workspace.binder"}]
