"""Running images the way the checks need: detached containers on the host
network (loopback only), a real JupyterHub API for jupyterhub-singleuser to
report to, and code executed in a real kernel over the kernel websocket."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import requests
from jupyterhub.utils import random_port as free_port

from ..paths import proxy_command
from ..waiting import wait_until
from . import docker


class Container:
    """`docker run -d --network host`; removed (with its anonymous volumes) on exit."""

    def __init__(self, reference: str, args: list[str] = (), *, env: dict[str, str] | None = None,
                 entrypoint: str | None = None, name_hint: str = "check"):
        self.name = f"gemhub-{name_hint}-{uuid.uuid4().hex[:8]}"
        self.argv = ["run", "-d", "--name", self.name, "--network", "host"]
        for key, value in (env or {}).items():
            self.argv += ["-e", f"{key}={value}"]
        if entrypoint:
            self.argv += ["--entrypoint", entrypoint]
        self.argv += [reference, *args]

    def __enter__(self) -> Self:
        docker.run(self.argv)
        return self

    def __exit__(self, *exc) -> None:
        docker.run(["rm", "-f", "-v", self.name], check=False)

    def logs(self, lines: int = 20) -> str:
        done = docker.run(["logs", "--tail", str(lines), self.name], check=False)
        return (done.stdout + done.stderr).strip()

    def running(self) -> bool:
        return docker.container_inspect(self.name)["State"]["Running"]

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until the image's HEALTHCHECK reported healthy; raises with the logs otherwise."""
        started = time.monotonic()

        def healthy() -> bool:
            state = docker.container_inspect(self.name)["State"]
            if not state["Running"]:
                raise RuntimeError(f"container exited ({state['ExitCode']}): {self.logs()}")
            return (state.get("Health") or {}).get("Status") == "healthy"

        try:
            wait_until(healthy, timeout)
        except TimeoutError:
            raise RuntimeError(f"not healthy after {timeout:.0f}s: {self.logs()}") from None
        return time.monotonic() - started


def wait_http(url: str, timeout: float, headers: dict | None = None, container: Container | None = None,
              interval: float = 1.0) -> requests.Response:
    """First response with status < 500 from `url`; raises after `timeout` s or when `container` exits.

    Not `jupyterhub.utils.wait_for_http_server`: the caller needs the response
    itself, sent with its headers, and to stop waiting for a container that died.
    `interval` is the longest pause between tries.
    """
    last = "no answer"

    def answer() -> requests.Response | None:
        nonlocal last
        try:
            response = requests.get(url, headers=headers, timeout=5)
            if response.status_code < 500:
                return response
            last = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last = type(error).__name__
        if container is not None and not container.running():
            raise RuntimeError(f"container exited before {url} answered: {container.logs()}")
        return None

    try:
        return wait_until(answer, timeout, max_wait=interval)
    except TimeoutError:
        detail = f"; logs: {container.logs()}" if container else ""
        raise RuntimeError(f"{url}: {last} after {timeout:.0f}s{detail}") from None


@contextmanager
def jupyterhub_api():
    """A real JupyterHub (this environment's) on loopback ports; yields its API URL.

    jupyterhub-singleuser refuses to start unless its hub's API answers, so the
    user image's own command can only be checked against a running hub.
    """
    with tempfile.TemporaryDirectory(prefix="gemhub-check-hub-") as folder:
        hub_port, proxy_port, proxy_api_port = free_port(), free_port(), free_port()
        config = Path(folder) / "jupyterhub_config.py"
        config.write_text("\n".join([
            f"c.JupyterHub.ip = '127.0.0.1'; c.JupyterHub.port = {proxy_port}",
            f"c.JupyterHub.hub_ip = '127.0.0.1'; c.JupyterHub.hub_port = {hub_port}",
            f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{proxy_api_port}'",
            f"c.ConfigurableHTTPProxy.command = [{proxy_command()!r}]",
            f"c.ConfigurableHTTPProxy.pid_file = {str(Path(folder) / 'proxy.pid')!r}",
            f"c.JupyterHub.db_url = 'sqlite:///{folder}/jupyterhub.sqlite'",
            f"c.JupyterHub.cookie_secret_file = {str(Path(folder) / 'cookie_secret')!r}",
            "c.JupyterHub.authenticator_class = 'null'",
        ]))
        log = (Path(folder) / "hub.log").open("w")
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=folder,
                                   stdout=log, stderr=subprocess.STDOUT)
        api_url = f"http://127.0.0.1:{hub_port}/hub/api"

        def did_not_start() -> RuntimeError:
            tail = (Path(folder) / "hub.log").read_text(errors="replace").strip().splitlines()[-5:]
            return RuntimeError("JupyterHub for the singleuser check did not start: " + " | ".join(tail))

        def answers() -> bool:
            if process.poll() is not None:
                raise did_not_start()
            try:
                return requests.get(api_url, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        try:
            try:
                wait_until(answers, 60)
            except TimeoutError:
                raise did_not_start() from None
            yield api_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def singleuser_environment(port: int, hub_api_url: str, user: str = "imagecheck") -> dict[str, str]:
    """What JupyterHub's spawner gives a user server, for a server at 127.0.0.1:`port`."""
    prefix = f"/user/{user}/"
    return {
        "JUPYTERHUB_API_URL": hub_api_url,
        "JUPYTERHUB_API_TOKEN": secrets.token_hex(16),
        "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{user}",
        "JUPYTERHUB_USER": user,
        "JUPYTERHUB_SERVER_NAME": "",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_PREFIX": prefix,
        "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}{prefix}",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
    }


def _execute_request(code: str, session: str) -> dict:
    return {
        "header": {"msg_id": uuid.uuid4().hex, "username": "imagecheck", "session": session,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "allow_stdin": False},
    }


async def _run_in_kernel(ws_url: str, token: str, code: str, timeout: float) -> str:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}, request_timeout=timeout)
    connection = await websocket_connect(request)
    message = _execute_request(code, uuid.uuid4().hex)
    await connection.write_message(json.dumps(message))
    output: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw = await asyncio.wait_for(connection.read_message(), max(deadline - time.monotonic(), 0.1))
            if raw is None:
                raise RuntimeError("kernel websocket closed before the code finished")
            reply = json.loads(raw)
            if reply.get("parent_header", {}).get("msg_id") != message["header"]["msg_id"]:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                raise RuntimeError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(output)
    finally:
        connection.close()


def run_in_kernel(server_url: str, token: str, code: str, timeout: float = 180) -> str:
    """Start a python3 kernel on a Jupyter server, run `code`, return its stdout; the kernel is deleted."""
    headers = {"Authorization": f"token {token}"}
    response = requests.post(f"{server_url}api/kernels", headers=headers, json={"name": "python3"}, timeout=60)
    response.raise_for_status()
    kernel_id = response.json()["id"]
    try:
        ws_url = server_url.replace("http://", "ws://", 1) + f"api/kernels/{kernel_id}/channels"
        return asyncio.run(_run_in_kernel(ws_url, token, code, timeout))
    finally:
        requests.delete(f"{server_url}api/kernels/{kernel_id}", headers=headers, timeout=30)
