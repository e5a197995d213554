"""The sandbox started by a user's own Jupyter server through jupyter-server-proxy (Binder's way)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests
from gemhub_sandbox.contract import CLIENT_ID_ENV, CLIENT_SECRET_ENV, HEALTH_PATH, TOKEN_PATH
from gemhub_sandbox.serverproxy import PROXY_NAME
from support.processes import stop_with_children

PROXIED = f"/{PROXY_NAME}"

TOKEN = "test-server-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_server(tmp_path):
    port = _free_port()
    env = {
        "PATH": f"{sys.prefix}/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        CLIENT_ID_ENV: "binder-user",
        CLIENT_SECRET_ENV: "binder-secret",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status", headers={"Authorization": f"token {TOKEN}"}, timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError((tmp_path / "server.log").read_text())
    yield url
    stop_with_children(process)


def test_user_server_starts_and_proxies_the_sandbox(jupyter_server):
    auth = {"Authorization": f"token {TOKEN}"}
    health = requests.get(f"{jupyter_server}{PROXIED}{HEALTH_PATH}", headers=auth, timeout=90)
    assert health.status_code == 200 and health.json()["status"] == "ok"

    token_path = PROXIED + TOKEN_PATH
    good = requests.post(
        jupyter_server + token_path,
        data={"grant_type": "client_credentials", "client_id": "binder-user", "client_secret": "binder-secret"},
        headers=auth, timeout=30,
    )
    assert good.status_code == 200 and good.json()["token_type"].lower() == "bearer"
    bad = requests.post(
        jupyter_server + token_path,
        data={"grant_type": "client_credentials", "client_id": "binder-user", "client_secret": "wrong"},
        headers=auth, timeout=30,
    )
    assert bad.status_code == 401


def test_the_proxy_needs_the_users_login(jupyter_server):
    anonymous = requests.get(f"{jupyter_server}{PROXIED}{HEALTH_PATH}", timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 403)
