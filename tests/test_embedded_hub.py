"""The embedded default, end to end: what a person does after `make up`."""

from __future__ import annotations

import os
import signal

import pytest
import requests
import yaml

from gemhub.waiting import eventually
from support.hub import processes_in
from support.kernel import execute

pytestmark = pytest.mark.slow

STACK_PROBE = (
    "import eolearn.core, eogrow, sentinelhub, sys\n"
    "print('stack', eolearn.core.EOPatch.__name__, eogrow.__version__, sentinelhub.__version__, sys.prefix)"
)


def test_login_spawn_run_stack_and_state_survives_a_hub_restart(hub_factory):
    hub = hub_factory(["alice"])
    alice = hub.session("alice")
    assert set(hub.passwords) == {"alice", "admin"}, "gemhub up prints one password per demo user"

    login = alice.login()
    assert login.status_code == 302, login.text
    alice.start_server()
    lab = alice.open_lab()
    assert lab.status_code == 200 and lab.url.endswith("/user/alice/lab"), lab.url
    assert "JupyterLab" in lab.text

    token = alice.token()
    server = f"{hub.url}/user/alice"
    out = execute(server, token, STACK_PROBE)
    words = out.split()
    assert words[:2] == ["stack", "EOPatch"], out
    assert words[4].endswith("envs/user"), f"kernel must run from the user environment, ran from {words[4]}"

    saved = alice.http.put(
        f"{server}/api/contents/notes.txt",
        headers={"Authorization": f"token {token}"},
        json={"type": "file", "format": "text", "content": "ndvi looks good"},
        timeout=30,
    )
    assert saved.status_code in (200, 201), saved.text
    created = alice.api("GET", "/users/alice").json()["created"]
    alice.stop_server()

    assert hub.stop() == 0
    hub.start()
    assert hub.passwords["alice"], "the password still works after a restart"
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    assert alice.api("GET", "/users/alice").json()["created"] == created, "same user record after restart"
    alice.start_server()
    token = alice.token()
    note = alice.http.get(
        f"{server}/api/contents/notes.txt", headers={"Authorization": f"token {token}"}, timeout=30
    )
    assert note.status_code == 200 and note.json()["content"] == "ndvi looks good"


def test_wrong_password_is_refused_and_user_pages_need_login(hub_factory):
    hub = hub_factory(["alice"])
    alice = hub.session("alice")

    refused = alice.login(password="not-" + hub.passwords["alice"])
    assert refused.status_code == 403
    assert "Invalid username or password" in refused.text

    stranger = hub.session("alice")
    page = stranger.http.get(f"{hub.url}/user/alice/lab", allow_redirects=True, timeout=30)
    assert "/hub/login" in page.url, page.url
    assert page.history and page.history[0].status_code == 302

    unknown = hub.session("alice")
    unknown.user = "mallory"
    assert unknown.login(password=hub.passwords["alice"]).status_code == 403


def test_idle_servers_are_culled_but_users_and_files_stay(hub_factory):
    hub = hub_factory(["alice"], extra={"culling": {"enabled": True, "timeout": 10, "every": 5}})
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    alice.start_server()
    token = alice.token()
    server = f"{hub.url}/user/alice"
    alice.http.put(
        f"{server}/api/contents/kept.txt",
        headers={"Authorization": f"token {token}"},
        json={"type": "file", "format": "text", "content": "still here"},
        timeout=30,
    ).raise_for_status()

    alice._wait(lambda status: not status, timeout=90, what="culled")
    assert alice.api("GET", "/users/alice").status_code == 200, "culling.users is off: the user stays"
    assert "Culling server alice" in hub.log_file.read_text(), "stopped by the culler, not by anything else"

    alice.start_server()
    kept = alice.http.get(f"{server}/api/contents/kept.txt", headers={"Authorization": f"token {token}"}, timeout=30)
    assert kept.json()["content"] == "still here"


def test_ctrl_c_stops_the_hub_and_everything_it_started(hub_factory):
    hub = hub_factory(["alice"])
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    alice.start_server()
    started = processes_in(hub.config_file.parent)
    commands = " | ".join(started.values())
    for part in ("jupyterhub", "configurable-http-proxy", "jupyterhub_idle_culler", "jupyterhub-singleuser"):
        assert part in commands, f"{part} not running under the hub folder: {commands}"

    assert hub.stop() == 0
    assert processes_in(hub.config_file.parent) == {}, "every process the hub started has ended"


def test_the_hubs_sandbox_service_comes_back_by_itself(hub_factory):
    """The sandbox is one service for every user: if it dies, JupyterHub restarts it (it polls
    managed services) and its log says how it ended."""
    hub = hub_factory(["alice"])
    port = yaml.safe_load(hub.config_file.read_text())["sentinelhub"]["sandbox"]["port"]
    health = f"http://127.0.0.1:{port}/sandbox/health"

    def sandbox_pid() -> int | None:
        return next((pid for pid, cmd in processes_in(hub.config_file.parent).items()
                     if "gemhub_sandbox serve" in cmd and f"--port {port}" in cmd), None)

    def serving_sandbox() -> int | None:
        """The sandbox's pid, once it answers its health check."""
        pid = sandbox_pid()
        return pid if pid and _answers(health) else None

    victim = eventually(serving_sandbox, 60)
    assert victim, hub.log_tail()
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: serving_sandbox() not in (None, victim), 90), hub.log_tail()
    assert "Service sandbox exited with status -9" in hub.log_file.read_text(errors="replace")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).ok
    except requests.ConnectionError:
        return False
