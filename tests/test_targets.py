"""One gemhub.yaml drives all three targets: check what JupyterHub is given.

The local target is exercised for real in test_embedded_hub.py; here the
docker and kubernetes examples are loaded through the very
hub_config/jupyterhub_config.py the images and chart use, and the classes
JupyterHub would instantiate are resolved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gemhub_sandbox.contract import CLIENT_ID_ENV, INSECURE_TRANSPORT_ENV, URL_ENV
from traitlets.config import Config

from support.hub_config import hub_config

CHECKOUT = Path(__file__).resolve().parents[1]


def test_docker_target(monkeypatch, tmp_path):
    c, app = hub_config(monkeypatch, tmp_path, "docker.yaml")
    from dockerspawner import DockerSpawner

    assert issubclass(app.spawner_class, DockerSpawner) and app.spawner_class.__name__ == "HostNetworkDockerSpawner"
    assert c.DockerSpawner.cmd == ["jupyterhub-singleuser"] and c.DockerSpawner.remove is True
    assert c.JupyterHub.hub_bind_url.startswith("http://127.0.0.1:")
    from nativeauthenticator import NativeAuthenticator

    # NativeAuthenticator with gemhub's JupyterHub 6 login handler (gemhub/hub/native_auth.py)
    assert issubclass(app.authenticator_class, NativeAuthenticator)
    assert app.authenticator_class.__name__ == "GemhubNativeAuthenticator"
    assert c.DockerSpawner.image == "gemhub/user:latest"
    assert c.DockerSpawner.network_name == "host"
    assert c.DockerSpawner.volumes == {"gemhub-home-{username}": "/home/jovyan"}
    assert c.Spawner.mem_limit == "4G" and c.Spawner.cpu_limit == 2
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'data' / 'jupyterhub.sqlite'}"
    assert c.JupyterHub.bind_url == "http://0.0.0.0:8000/"


def test_kubernetes_target_with_profiles_and_oauth(monkeypatch, tmp_path):
    c, app = hub_config(
        monkeypatch, tmp_path, "kubernetes.yaml", env={"GEMHUB_OAUTH_CLIENT_SECRET": "s3cr3t-from-env"}
    )
    assert app.spawner_class.__name__ == "KubeSpawner"
    assert app.authenticator_class.__name__ == "GenericOAuthenticator"
    assert c.GenericOAuthenticator.client_secret == "s3cr3t-from-env"
    assert c.GenericOAuthenticator.enable_auth_state is True
    assert c.KubeSpawner.namespace == "gemhub"
    assert c.KubeSpawner.storage_capacity == "10G"
    assert [p["slug"] for p in c.KubeSpawner.profile_list] == ["standard", "large"]
    assert c.KubeSpawner.profile_list[1]["kubespawner_override"] == {"cpu_limit": 4, "mem_limit": "16G"}
    assert c.KubeSpawner.profile_list[0]["kubespawner_override"] == {}
    assert c.Spawner.environment["GEMHUB_SH_BASE_URL"] == "https://sh.dataspace.copernicus.eu"
    assert "curation" not in {s["name"] for s in c.JupyterHub.services}, "the hub image ships its catalogue"


def test_local_target(monkeypatch, tmp_path):
    c, app = hub_config(monkeypatch, tmp_path, "local.yaml")
    assert app.spawner_class.__name__ == "SimpleLocalProcessSpawner"
    assert app.authenticator_class.__name__ == "DemoAuthenticator"
    assert c.Authenticator.allowed_users == {"alice", "bob", "admin"}
    assert c.Spawner.cmd == [str(tmp_path / "envs" / "user" / "bin" / "jupyterhub-singleuser")]
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(tmp_path / "data" / "homes" / "{username}")
    assert c.Spawner.environment[URL_ENV] == "http://127.0.0.1:8010"
    assert (tmp_path / "data" / "demo-passwords.json").stat().st_mode & 0o077 == 0, "passwords file is private"
    assert (tmp_path / "data" / "sandbox-client.json").stat().st_mode & 0o077 == 0
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"idle-culler", "sandbox", "marketplace", "credentials", "curation"}
    assert services["curation"]["command"][-3:] == ["marketplace", "curate", "--keep-running"]
    assert "url" not in services["curation"], "the curation serves nothing: not proxied"
    assert services["credentials"]["url"] == "http://127.0.0.1:8030" and services["credentials"]["display"]
    assert services["marketplace"]["url"] == "http://127.0.0.1:8020" and services["marketplace"]["display"]
    assert services["sandbox"]["command"][-2:] == ["--port", "8010"] and "url" not in services["sandbox"]
    roles = {r["name"]: r["scopes"] for r in c.JupyterHub.load_roles}
    assert roles["marketplace"] == roles["sandbox"] == roles["credentials"] == roles["curation"] == [], (
        "services hold no hub API scopes they do not use")
    assert roles["user"] == ["self", "access:services!service=marketplace", "access:services!service=credentials"]
    env = c.Spawner.environment
    assert env[CLIENT_ID_ENV].startswith("sandbox-") and env[INSECURE_TRANSPORT_ENV] == "1"


@pytest.mark.parametrize("users, scopes_extra", [(False, []), (True, ["admin:users"])])
def test_idle_culler_is_a_managed_service_with_least_scopes(monkeypatch, tmp_path, users, scopes_extra):
    from gemhub.config import validate_data
    from gemhub.hub import services
    from gemhub.paths import Paths

    monkeypatch.setenv("GEMHUB_HOME", str(tmp_path))
    cfg = validate_data({"culling": {"timeout": 600, "every": 60, "users": users}})
    c = Config()
    services.apply(c, cfg, Paths.of(cfg, None))
    service, role = c.JupyterHub.services[0], c.JupyterHub.load_roles[0]
    assert service["command"][1:5] == ["-m", "jupyterhub_idle_culler", "--timeout=600", "--cull-every=60"]
    assert ("--cull-users" in service["command"]) is users
    assert role["scopes"] == ["list:users", "read:users:activity", "read:servers", "delete:servers", *scopes_extra]
