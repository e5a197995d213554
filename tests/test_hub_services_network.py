"""Where the hub's own services listen, and the URLs the proxy and user servers get for them.

On one machine (local, docker on the host network) everything stays on loopback, as before.
In the Helm chart the proxy and user servers are other pods: the services bind every address
of the hub pod (hub.services_bind_ip) and are reached through the hub Service
(hub.services_host). JupyterHub hands a managed service only one URL, the one others connect
to, so the address to bind travels separately (gemhub.service_address.BIND_IP_ENV).

The process tests start the real services from the entries the hub would run, on 127.0.0.2
(still loopback, never 0.0.0.0), with a JUPYTERHUB_SERVICE_URL naming another host, and look
at the sockets they actually listen on.
"""

from __future__ import annotations

import os
import socket
import subprocess

import psutil
import pytest
from gemhub_sandbox.contract import URL_ENV
from traitlets.config import Config

from gemhub.config import ConfigError, validate_data
from gemhub.hub import services, spawners
from gemhub.paths import Paths
from gemhub.service_address import BIND_IP_ENV, SERVICE_URL_ENV, http_url, listen_address
from gemhub.waiting import wait_until
from support.processes import stop_with_children

CHART = {"hub": {"services_bind_ip": "0.0.0.0", "services_host": "gemhub-hub"}}


@pytest.fixture
def state(monkeypatch, tmp_path):
    monkeypatch.setenv("GEMHUB_HOME", str(tmp_path))
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    monkeypatch.delenv(BIND_IP_ENV, raising=False)
    return tmp_path


def configured(data: dict) -> tuple[dict[str, dict], dict[str, str]]:
    """(the hub's services by name, every user server's environment) for a gemhub.yaml."""
    cfg = validate_data(data)
    paths = Paths.of(cfg, None)
    c = Config()
    services.apply(c, cfg, paths)
    return {s["name"]: s for s in c.JupyterHub.services}, spawners.user_environment(cfg, paths)


def host_arg(service: dict) -> str:
    command = service["command"]
    return command[command.index("--host") + 1]


def test_defaults_stay_on_loopback(state):
    found, env = configured({})
    assert found["marketplace"]["url"] == "http://127.0.0.1:8020"
    assert found["credentials"]["url"] == "http://127.0.0.1:8030"
    assert found["marketplace"]["environment"][BIND_IP_ENV] == "127.0.0.1"
    assert found["credentials"]["environment"][BIND_IP_ENV] == "127.0.0.1"
    assert host_arg(found["sandbox"]) == "127.0.0.1"
    assert env[URL_ENV] == "http://127.0.0.1:8010"


def test_chart_binds_every_address_and_hands_out_the_hub_service(state):
    found, env = configured({**CHART, "marketplace": {"port": 8021}, "sentinelhub": {"sandbox": {"port": 8011}}})
    assert found["marketplace"]["url"] == "http://gemhub-hub:8021"
    assert found["credentials"]["url"] == "http://gemhub-hub:8030"
    for name in ("marketplace", "credentials"):
        assert found[name]["environment"][BIND_IP_ENV] == "0.0.0.0"
    assert host_arg(found["sandbox"]) == "0.0.0.0"
    assert found["sandbox"]["command"][-2:] == ["--port", "8011"]
    assert env[URL_ENV] == "http://gemhub-hub:8011"


def test_a_sandbox_elsewhere_wins_and_the_hub_runs_none(state):
    found, env = configured({**CHART, "sentinelhub": {"sandbox": {"url": "https://sandbox.example/"}}})
    assert "sandbox" not in found
    assert env[URL_ENV] == "https://sandbox.example"


def test_an_ipv6_host_is_bracketed(state):
    found, env = configured({"hub": {"services_bind_ip": "::1"}})
    assert found["marketplace"]["url"] == "http://[::1]:8020"
    assert env[URL_ENV] == "http://[::1]:8010"
    assert http_url("gemhub-hub", 1) == "http://gemhub-hub:1" and http_url("10.0.0.5", 2) == "http://10.0.0.5:2"


@pytest.mark.parametrize("hub, field, message", [
    ({"services_bind_ip": "0.0.0.0"}, "hub", "hub.services_host is required when hub.services_bind_ip is 0.0.0.0"),
    ({"services_bind_ip": "::", "services_host": None}, "hub", "hub.services_host is required"),
    ({"services_bind_ip": "gemhub-hub"}, "hub.services_bind_ip", "must be an IP address"),
    ({"services_host": "http://gemhub-hub:8020"}, "hub.services_host", "without scheme or port"),
    ({"services_host": "gemhub_hub"}, "hub.services_host", "must be a host name"),
    ({"services_bind_ip": "0.0.0.0", "services_host": "0.0.0.0"}, "hub.services_host", "nothing can connect to"),
])
def test_bad_values_name_the_key(hub, field, message):
    with pytest.raises(ConfigError) as error:
        validate_data({"hub": hub})
    assert f"{field}: " in str(error.value) and message in str(error.value), str(error.value)


def test_a_service_binds_the_override_not_its_url(monkeypatch):
    monkeypatch.setenv(SERVICE_URL_ENV, "http://gemhub-hub:8020")
    monkeypatch.setenv(BIND_IP_ENV, "0.0.0.0")
    assert listen_address("http://127.0.0.1:1") == ("0.0.0.0", 8020)
    monkeypatch.delenv(BIND_IP_ENV)  # a service started by hand, or by an older hub: the URL's host
    assert listen_address("http://127.0.0.1:1") == ("gemhub-hub", 8020)
    monkeypatch.delenv(SERVICE_URL_ENV)
    assert listen_address("http://127.0.0.1:1") == ("127.0.0.1", 1)


# -- the real processes ---------------------------------------------------------------------


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def listening(process: subprocess.Popen) -> set[tuple[str, int]]:
    """The TCP addresses `process` listens on; raises if it has exited (no point waiting)."""
    if process.poll() is not None:
        raise RuntimeError(f"exited with {process.returncode}:\n{process.stdout.read()}")
    return {c.laddr[:2] for c in psutil.Process(process.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


def run_entry(service: dict, extra_env: dict[str, str], tmp_path) -> subprocess.Popen:
    """Start a hub service entry as JupyterHub would: its command, its environment plus JupyterHub's."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **service.get("environment", {}), **extra_env}
    return subprocess.Popen(service["command"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("name, port_key", [("marketplace", "marketplace"), ("credentials", "hub")])
def test_service_listens_on_the_bind_address_not_on_its_url_host(state, tmp_path, name, port_key):
    """127.0.0.2 stands for the pod's address, `localhost` for the hub Service's name: the
    service must bind the first, though JupyterHub's URL names the second."""
    port = free_port("127.0.0.2")
    ports = {"marketplace": {"marketplace": {"port": port}}, "hub": {"hub": {"credentials_port": port}}}[port_key]
    data = {**ports}
    data.setdefault("hub", {}).update({"services_bind_ip": "127.0.0.2", "services_host": "localhost"})
    found, _ = configured(data)
    service = found[name]
    assert service["url"] == f"http://localhost:{port}"
    process = run_entry(service, {SERVICE_URL_ENV: service["url"],
                                  "JUPYTERHUB_SERVICE_PREFIX": f"/services/{name}/"}, tmp_path)
    try:
        bound = wait_until(lambda: listening(process), 30, f"the {name} service listening")
        assert bound == {("127.0.0.2", port)}
        with socket.create_connection(("127.0.0.2", port), timeout=5):
            pass
    finally:
        stop_with_children(process, wait=20)


def test_sandbox_listens_on_the_bind_address(state, tmp_path):
    port = free_port("127.0.0.2")
    found, env = configured({"hub": {"services_bind_ip": "127.0.0.2"}, "sentinelhub": {"sandbox": {"port": port}}})
    assert env[URL_ENV] == f"http://127.0.0.2:{port}"
    process = run_entry(found["sandbox"], {}, tmp_path)
    try:
        assert wait_until(lambda: listening(process), 30, "the sandbox listening") == {("127.0.0.2", port)}
        import requests
        from gemhub_sandbox.contract import HEALTH_PATH

        assert requests.get(env[URL_ENV] + HEALTH_PATH, timeout=10).status_code == 200
    finally:
        stop_with_children(process, wait=20)
