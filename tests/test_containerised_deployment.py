"""The single-server deployment from images only: proxy, hub and user containers.

What `examples/docker.yaml` plus three images give an operator with nothing
installed but Docker: the gemhub/proxy container serves the public port, the
gemhub/hub container runs JupyterHub (`gemhub up`, external proxy) and spawns
users' gemhub/user containers through the mounted Docker socket. All on the
host network, every port on 127.0.0.1. A person logs in through the proxy
container, their server starts as a container, and a kernel there gets
imagery from the sandbox the hub container runs.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest
import yaml

from gemhub.images.docker import run as docker
from support.hub import UserSession, free_port, hub_answers
from support.images import built_image
from support.kernel import execute

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]
PASSWORD_LINE = re.compile(r"user: (\S+)\s+password: (\S+)")

PROBE = """
import json, os
from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog
from gemhub_workspace import sh_config
config = sh_config(quiet=True)
items = list(SentinelHubCatalog(config=config).search(
    DataCollection.SENTINEL2_L2A, bbox=BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84),
    time=("2023-07-01", "2023-07-31")))
print(json.dumps({"uid": os.getuid(), "items": len(items), "base_url": config.sh_base_url,
                  "in_container": os.path.exists("/.dockerenv")}))
"""


@pytest.fixture
def names():
    """Container and volume names for this test; everything named so is removed at the end."""
    prefix = f"gemhub-deploy-{secrets.token_hex(4)}"
    yield prefix
    for kind, listing, remove in (("container", ["ps", "--all"], ["rm", "--force"]),
                                  ("volume", ["volume", "ls"], ["volume", "rm", "--force"])):
        found = docker([*listing, "--quiet", "--filter", f"name={prefix}"], check=False).stdout.split()
        if found:
            docker([*remove, *found], check=False)


def docker_logs(name: str) -> str:
    done = docker(["logs", name], check=False)
    return done.stdout + done.stderr


def test_proxy_hub_and_user_containers_serve_a_user(tmp_path, names, monkeypatch):
    user_image, hub_image, proxy_image = built_image("user"), built_image("hub"), built_image("proxy")
    port, api_port, proxy_api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(32)
    # `docker run --env NAME` passes the value from the client's environment, never the command line.
    monkeypatch.setenv("CONFIGPROXY_AUTH_TOKEN", token)
    config = {
        "hub": {"port": port, "api_port": api_port, "proxy_api_port": proxy_api_port,
                "credentials_port": free_port(), "external_proxy": True, "data_dir": "/srv/gemhub/state"},
        "auth": {"type": "demo", "demo": {"users": ["alice"]}},
        "spawner": {"type": "docker", "image": user_image, "mem_limit": "2G",
                    "docker": {"volume_name_template": f"{names}-home-{{username}}"}},
        "sentinelhub": {"sandbox": {"port": free_port()}},
        "marketplace": {"enabled": False},
    }
    (tmp_path / "gemhub.yaml").write_text(yaml.safe_dump(config))
    state = tmp_path / "state"
    state.mkdir()

    docker(["run", "--detach", "--name", f"{names}-proxy", "--network", "host",
            "--env", "CONFIGPROXY_AUTH_TOKEN", proxy_image,
            "--ip", "127.0.0.1", "--port", str(port), "--api-ip", "127.0.0.1", "--api-port", str(proxy_api_port),
            "--default-target", f"http://127.0.0.1:{api_port}",
            "--error-target", f"http://127.0.0.1:{api_port}/hub/error"])
    docker(["run", "--detach", "--name", f"{names}-hub", "--network", "host",
            "--env", "CONFIGPROXY_AUTH_TOKEN",
            "--volume", f"{tmp_path / 'gemhub.yaml'}:/etc/gemhub/gemhub.yaml:ro",
            "--volume", f"{state}:/srv/gemhub/state",
            "--volume", "/var/run/docker.sock:/var/run/docker.sock", hub_image])

    url = f"http://127.0.0.1:{port}"
    if not hub_answers(url, 120):
        pytest.fail("hub not reachable through the proxy container:\n" + docker_logs(f"{names}-hub")[-3000:])

    passwords = dict(PASSWORD_LINE.findall(docker_logs(f"{names}-hub")))
    alice = UserSession(url, "alice", passwords["alice"])
    assert alice.login().status_code == 302
    alice.start_server(timeout=180)

    # alice's server is a container of the user image, started by the hub container.
    spawned = docker(["ps", "--quiet", "--filter", f"volume={names}-home-alice"]).stdout.split()
    assert len(spawned) == 1, docker_logs(f"{names}-hub")[-3000:]
    inspected = json.loads(docker(["inspect", spawned[0]]).stdout)[0]
    assert inspected["Config"]["Image"] == user_image
    assert inspected["HostConfig"]["Memory"] == 2 * 1024**3

    got = json.loads(execute(f"{url}/user/alice", alice.token(), PROBE).strip().splitlines()[-1])
    assert got["uid"] == 1000 and got["in_container"] and got["items"] > 0, got
    assert got["base_url"] == f"http://127.0.0.1:{config['sentinelhub']['sandbox']['port']}", got

    alice.stop_server()
    hub_log = docker_logs(f"{names}-hub")
    assert token not in hub_log and "Traceback" not in hub_log, hub_log[-3000:]
    # The hub's state lives in the mounted folder, so it survives the hub container.
    assert (state / "jupyterhub.sqlite").exists()


def test_external_proxy_without_its_token_is_refused_in_one_line(tmp_path):
    import os
    import subprocess

    from support.hub import GEMHUB

    (tmp_path / "gemhub.yaml").write_text(yaml.safe_dump({"hub": {"external_proxy": True, "data_dir": "state"}}))
    env = {k: v for k, v in os.environ.items() if k != "CONFIGPROXY_AUTH_TOKEN"}
    done = subprocess.run([str(GEMHUB), "up", "--config", str(tmp_path / "gemhub.yaml")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "hub.external_proxy: set CONFIGPROXY_AUTH_TOKEN" in done.stderr and "Traceback" not in done.stderr
