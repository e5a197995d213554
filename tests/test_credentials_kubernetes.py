"""On Kubernetes, credentials live in a per-user Secret; the pod only references it.

The hub's half is real: the configuration hub_config/jupyterhub_config.py
renders for examples/kubernetes.yaml, the KubeSpawner it configures, our
pre_spawn_hook run by KubeSpawner's own `run_pre_spawn_hook`, KubeSpawner's
kubernetes_asyncio client reading a kubeconfig and sending HTTP to an API
server, and the pod manifest KubeSpawner would submit (`get_pod_manifest`).
The API server is a loopback stand-in for Secrets (tests/support/kube_api.py):
no cluster can run here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from types import SimpleNamespace

import pytest
from support.credentials import cli_environment, gemhub_credentials, set_credentials
from support.hub_config import CHECKOUT, hub_config
from support.kube_api import KubeApiStandIn

from gemhub.hub import log_redaction


def kube_spawner(config, username: str):
    from kubespawner import KubeSpawner

    user = SimpleNamespace(name=username, id=7, url=f"/user/{username}/", escaped_name=username,
                           get_auth_state=lambda: asyncio.sleep(0, result=None))
    spawner = KubeSpawner(config=config, user=user, _mock=True, api_token="not-a-real-token",
                          oauth_client_id=f"jupyterhub-user-{username}")
    return spawner


@pytest.fixture(scope="module")
def kube_api(tmp_path_factory):
    """One API server for the module: kubespawner caches its client per event loop."""
    with KubeApiStandIn(token=secrets.token_hex(16)) as api:
        kubeconfig = api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("KUBECONFIG", str(kubeconfig))
            yield api


@pytest.fixture(autouse=True)
def fresh_crypt_keeper():
    """The hub's CryptKeeper is a process singleton; each test here is a new hub with a new key."""
    from jupyterhub.crypto import CryptKeeper

    CryptKeeper.clear_instance()
    yield
    CryptKeeper.clear_instance()


def test_secret_per_user_and_secret_key_refs_in_the_pod(monkeypatch, tmp_path, kube_api, caplog):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    env = {"GEMHUB_OAUTH_CLIENT_SECRET": "oauth-" + secrets.token_hex(8), "JUPYTERHUB_CRYPT_KEY": key}
    c, app = hub_config(monkeypatch, tmp_path, "kubernetes.yaml", env=env)
    assert app.spawner_class.__name__ == "KubeSpawner"

    secret = "alice-secret-" + secrets.token_hex(12)
    cli_env = cli_environment(**env, GEMHUB_HOME=str(tmp_path))
    config_file = CHECKOUT / "examples" / "kubernetes.yaml"
    set_credentials(config_file, "alice", "alice-id", secret, env=cli_env)

    async def spawn_and_render(username):
        spawner = kube_spawner(c, username)
        await spawner.run_pre_spawn_hook()
        pod = await spawner.get_pod_manifest()
        return spawner, spawner.api.api_client.sanitize_for_serialization(pod)

    spawner, pod = asyncio.run(spawn_and_render("alice"))

    # The Secret: in the user's namespace, labelled, holding exactly the two variables.
    name = "gemhub-credentials-alice"
    stored = kube_api.secrets[("gemhub", name)]
    assert stored["type"] == "Opaque"
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "gemhub"
    decoded = {k: base64.b64decode(v).decode() for k, v in stored["data"].items()}
    assert decoded == {"SH_CLIENT_ID": "alice-id", "SH_CLIENT_SECRET": secret}

    # The pod: references, never values.
    container = pod["spec"]["containers"][0]
    by_name = {e["name"]: e for e in container["env"]}
    for variable in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        assert by_name[variable] == {"name": variable,
                                     "valueFrom": {"secretKeyRef": {"name": name, "key": variable}}}
    rendered = json.dumps(pod)
    assert secret not in rendered and "alice-id" not in rendered
    # The value passed through the hub's memory on its way to the Secret: the hub's logs redact it.
    hub_log = logging.getLogger("JupyterHub")  # the hub app made above stops it propagating: listen directly
    log_redaction.install()
    hub_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="JupyterHub"):
            hub_log.info("writing %s", secret)
    finally:
        hub_log.removeHandler(caplog.handler)
    assert secret not in caplog.text and "writing [secret]" in caplog.text
    assert by_name["GEMHUB_SH_BASE_URL"]["value"] == "https://sh.dataspace.copernicus.eu"

    # A second start replaces the Secret (409 then PUT) with the new values.
    set_credentials(config_file, "alice", "alice-id2", secret + "-rotated", env=cli_env)
    spawner2, pod2 = asyncio.run(spawn_and_render("alice"))
    methods = [(m, p.split("?")[0]) for m, p, _ in kube_api.requests]
    assert ("PUT", f"/api/v1/namespaces/gemhub/secrets/{name}") in methods
    decoded = {k: base64.b64decode(v).decode() for k, v in kube_api.secrets[("gemhub", name)]["data"].items()}
    assert decoded["SH_CLIENT_ID"] == "alice-id2"

    # Credentials removed: the Secret goes at the next start, and so do the references.
    gemhub_credentials(config_file, "unset", "alice", env=cli_env)
    _, pod3 = asyncio.run(spawn_and_render("alice"))
    assert ("gemhub", name) not in kube_api.secrets
    names = {e["name"] for e in pod3["spec"]["containers"][0]["env"]}
    assert not names & {"SH_CLIENT_ID", "SH_CLIENT_SECRET"}

    # A user without credentials: no Secret written, no references, the sandbox variables only.
    _, bob_pod = asyncio.run(spawn_and_render("bob"))
    assert ("gemhub", "gemhub-credentials-bob") not in kube_api.secrets
    assert "secretKeyRef" not in json.dumps(bob_pod)


def test_api_server_refusing_the_secret_does_not_stop_the_spawn(monkeypatch, tmp_path, kube_api, caplog):
    """A hub without RBAC for secrets (or a wrong token) starts the server without credentials."""
    from cryptography.fernet import Fernet

    env = {"GEMHUB_OAUTH_CLIENT_SECRET": "x" * 12, "JUPYTERHUB_CRYPT_KEY": Fernet.generate_key().decode()}
    c, _ = hub_config(monkeypatch, tmp_path, "kubernetes.yaml", env=env)
    cli_env = cli_environment(**env, GEMHUB_HOME=str(tmp_path))
    secret = "carol-secret-" + secrets.token_hex(12)
    set_credentials(CHECKOUT / "examples" / "kubernetes.yaml", "carol", "carol-id", secret, env=cli_env)
    async def spawn():
        spawner = kube_spawner(c, "carol")
        await spawner.run_pre_spawn_hook()
        return spawner.api.api_client.sanitize_for_serialization(await spawner.get_pod_manifest())

    token, kube_api.token = kube_api.token, "rotated-elsewhere"  # the hub's token is now refused: 401
    try:
        pod = asyncio.run(spawn())
    finally:
        kube_api.token = token
    assert "secretKeyRef" not in json.dumps(pod) and secret not in json.dumps(pod)
    assert "could not write the credentials Secret for carol (ApiException 401)" in caplog.text
    assert secret not in caplog.text
