"""Users' stored credentials reach their own server, and nobody else's, at spawn.

A real hub (`gemhub up`), real spawns and real kernels; a second sandbox with two
OAuth clients (alice's and bob's) plays "the real Sentinel Hub", so a kernel's
catalog search succeeds only with the right user's secret. Credentials are set
with the real CLI, encrypted with the key `gemhub up` made and exported.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from gemhub_sandbox.contract import TOKEN_PATH, URL_ENV

from support.credentials import set_credentials
from support.hub import free_port
from support.kernel import execute

PROBE = """
import json, os
from gemhub_sandbox.contract import CLIENT_ID_ENV, URL_ENV
from sentinelhub import CRS, BBox, DataCollection, SentinelHubCatalog, SHConfig
c = SHConfig()
items = list(SentinelHubCatalog(config=c).search(
    DataCollection.SENTINEL2_L2A, bbox=BBox((15.17, 45.78, 15.23, 45.82), CRS.WGS84),
    time=("2023-07-01", "2023-07-31")))
print(json.dumps({"client_id": c.sh_client_id, "base_url": c.sh_base_url, "items": len(items),
                  "profile": os.environ.get("SH_PROFILE"), "sandbox_url": os.environ.get(URL_ENV),
                  "sandbox_client": os.environ.get(CLIENT_ID_ENV)}))
"""


@pytest.fixture
def two_client_sandbox():
    """A sandbox knowing alice-id and bob-id, each with a random secret."""
    from gemhub_sandbox.child import start

    clients = {"alice-id": "alice-secret-" + secrets.token_hex(12), "bob-id": "bob-secret-" + secrets.token_hex(12)}
    with start(clients, timeout=30) as child:
        yield SimpleNamespace(url=child.url, clients=clients)


def start_all(sessions) -> None:
    """Ask for every server at once (as several people would), then wait for each."""
    for s in sessions:
        assert s.login().status_code == 302
        s.http.get(f"{s.url}/hub/spawn/{s.user}", timeout=30, allow_redirects=False)
    for s in sessions:
        s._wait(lambda status: status and status.get("ready"), 120, "ready")


def probe(hub, session) -> dict:
    out = execute(f"{hub.url}/user/{session.user}", session.token(), PROBE)
    return json.loads(out.strip().splitlines()[-1])


def files_under(folder: Path):
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path


@pytest.mark.slow
def test_each_user_gets_only_their_own_credentials(hub_factory, two_client_sandbox):
    box = two_client_sandbox
    secret = {"alice": box.clients["alice-id"], "bob": box.clients["bob-id"]}
    hub = hub_factory(["alice", "bob", "carol"], extra={"sentinelhub": {
        "base_url": box.url, "token_url": box.url + TOKEN_PATH, "sandbox": {"enabled": True, "port": free_port()},
    }})
    data_dir = hub.config_file.parent / yaml.safe_load(hub.config_file.read_text())["hub"]["data_dir"]
    assert (data_dir / "crypt-key").exists(), "gemhub up made the embedded hub's key"
    gemhub_sandbox_url = f"http://127.0.0.1:{yaml.safe_load(hub.config_file.read_text())['sentinelhub']['sandbox']['port']}"

    set_credentials(hub.config_file, "alice", "alice-id", secret["alice"])
    set_credentials(hub.config_file, "bob", "bob-id", secret["bob"])

    alice, bob, carol = (hub.session(u) for u in ("alice", "bob", "carol"))
    start_all([alice, bob, carol])

    # A bare SHConfig() works for everyone, each with their own client.
    for session, client_id in ((alice, "alice-id"), (bob, "bob-id")):
        got = probe(hub, session)
        assert got["client_id"] == client_id and got["base_url"] == box.url, got
        assert got["items"] > 0 and got["profile"] == "gemhub", got
    got = probe(hub, carol)
    assert got["base_url"] == gemhub_sandbox_url == got["sandbox_url"], got
    assert got["client_id"] == got["sandbox_client"] and got["items"] > 0, got

    # The notice: only the sandbox user has it, as a JupyterLab notification and a file.
    def lab_notification(session):
        response = session.http.get(f"{hub.url}/user/{session.user}/lab/api/update",
                                    headers={"Authorization": f"token {session.token()}"}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["notification"]

    shown = lab_notification(carol)
    assert "You are on sandbox data" in shown["message"] and shown["type"] == "info", shown
    assert shown["link"] == ["Set credentials", "/services/credentials/"], shown
    assert lab_notification(alice) is None
    notice = data_dir / "homes" / "carol" / "README-gemhub.md"
    assert "sandbox data" in notice.read_text() and "/services/credentials/" in notice.read_text()
    assert not (data_dir / "homes" / "alice" / "README-gemhub.md").exists()

    # Bob's kernel environment: his own secret, never alice's.
    bob_token = bob.token()
    env_dump = execute(f"{hub.url}/user/bob", bob_token, "import os; print(dict(os.environ))")
    assert secret["alice"] not in env_dump and "alice-id" not in env_dump
    assert execute(f"{hub.url}/user/bob", bob_token,
                   f"import os; print(os.environ['SH_CLIENT_SECRET'] == {secret['bob']!r})").strip() == "True"

    # Everything bob can get from the hub API.
    for path in ("/user", "/users/bob", "/users/bob/tokens"):
        response = bob.api("GET", path)
        assert response.status_code == 200, (path, response.status_code)
        assert secret["alice"] not in response.text and secret["bob"] not in response.text, path

    # The user's sentinelhub config keeps URLs only when the credentials are the user's own.
    config_toml = data_dir / "homes" / "bob" / ".config" / "sentinelhub" / "config.toml"
    assert config_toml.stat().st_mode & 0o777 == 0o600
    assert f'sh_base_url = "{box.url}"' in config_toml.read_text()

    alice.stop_server()
    assert hub.stop() == 0

    # Key gone (no file, nothing in the environment): the hub starts, alice works on the sandbox.
    (data_dir / "crypt-key").unlink()
    hub.start()
    alice = hub.session("alice")
    start_all([alice])
    got = probe(hub, alice)
    assert got["base_url"] == gemhub_sandbox_url and got["client_id"] == got["sandbox_client"], got
    assert (data_dir / "homes" / "alice" / "README-gemhub.md").exists()
    log = hub.log_file.read_text(errors="replace")
    assert "credentials unavailable for alice" in log, hub.log_tail()
    assert hub.stop() == 0

    # No secret anywhere on disk in clear (database, homes, logs) nor in the hub's log.
    for user, value in secret.items():
        assert value not in log, f"{user}'s secret in the hub log"
        for path in [*files_under(data_dir), hub.log_file]:
            assert value.encode() not in path.read_bytes(), f"{user}'s secret in {path}"
    assert (data_dir / "jupyterhub.sqlite").exists()


# -- the hook itself, without a hub ----------------------------------------------


def fake_spawner(name: str, environment: dict):
    return SimpleNamespace(user=SimpleNamespace(name=name), environment=environment, log=None)


def run_hook(hook, spawner):
    import asyncio

    asyncio.run(hook(spawner))


def test_hook_copies_the_shared_environment_and_forgets_removed_credentials(caplog):
    from gemhub.hub.credentials_hook import make_pre_spawn_hook

    stored = {"alice": {"SH_CLIENT_ID": "alice-id", "SH_CLIENT_SECRET": "s3cret-alice"}}
    hook = make_pre_spawn_hook(None, None, lookup=lambda paths, user: dict(stored.get(user, {})))
    shared = {URL_ENV: "http://sandbox", "SH_CLIENT_ID": "org-wide"}
    alice, bob = fake_spawner("alice", shared), fake_spawner("bob", shared)

    run_hook(hook, alice)
    run_hook(hook, bob)
    assert shared == {URL_ENV: "http://sandbox", "SH_CLIENT_ID": "org-wide"}, "shared dict untouched"
    assert alice.environment["SH_CLIENT_SECRET"] == "s3cret-alice" and alice.environment["SH_CLIENT_ID"] == "alice-id"
    assert bob.environment == shared and bob.environment is not shared

    # Removed between two starts of the same (reused) spawner: gone, and the admin's value is back.
    del stored["alice"]
    run_hook(hook, alice)
    assert alice.environment == shared
    assert "s3cret-alice" not in caplog.text


def test_hook_spawns_anyway_when_credentials_are_unavailable(caplog):
    from gemhub.credentials.store import CredentialsUnavailable
    from gemhub.hub.credentials_hook import make_pre_spawn_hook

    def broken(paths, user):
        raise CredentialsUnavailable("credentials are unavailable: JUPYTERHUB_CRYPT_KEY is not set")

    calls = []
    hook = make_pre_spawn_hook(None, None, previous=lambda spawner: calls.append(spawner.user.name), lookup=broken)
    spawner = fake_spawner("alice", {URL_ENV: "http://sandbox"})
    with caplog.at_level("WARNING", logger="gemhub.credentials"):
        run_hook(hook, spawner)
    assert calls == ["alice"], "a hook configured before ours still runs"
    assert spawner.environment == {URL_ENV: "http://sandbox"}
    assert "credentials unavailable for alice: JUPYTERHUB_CRYPT_KEY is not set" in caplog.text


# -- credentials from the identity provider (GenericOAuthenticator auth_state) --


@pytest.mark.slow
def test_credentials_from_the_identity_providers_claims(hub_factory, two_client_sandbox, monkeypatch):
    """Log in through an OpenID Connect provider whose userinfo carries the user's
    Sentinel Hub client (Keycloak user attributes mapped to claims): the kernel's
    bare SHConfig() uses it, with nothing stored in gemhub's credentials store."""
    from support.hub import UserSession
    from support.oidc_provider import OidcProviderStandIn

    box = two_client_sandbox
    hub_secret = "hub-oauth-" + secrets.token_hex(12)
    monkeypatch.setenv("GEMHUB_OAUTH_CLIENT_SECRET", hub_secret)
    users = {
        "alice": {"preferred_username": "alice", "sh_client_id": "alice-id",
                  "sh_client_secret": box.clients["alice-id"]},
        "erin": {"preferred_username": "erin", "sh_client_id": "erin-id", "sh_client_secret": "short"},
    }
    with OidcProviderStandIn("gemhub-hub", hub_secret, users) as idp:
        hub = hub_factory([], extra={
            "auth": {"type": "oauth", "oauth": {
                "client_id": "gemhub-hub", **idp.endpoints(),
                "credentials_from_auth_state": {"sentinelhub": {
                    "client_id": "oauth_user.sh_client_id", "client_secret": "oauth_user.sh_client_secret"}},
            }},
            "sentinelhub": {"base_url": box.url, "token_url": box.url + TOKEN_PATH,
                            "sandbox": {"enabled": True, "port": free_port()}},
        })
        sessions = {}
        for name in ("alice", "erin"):
            idp.next_user = name
            session = UserSession(hub.url, name, "")
            landed = session.http.get(f"{hub.url}/hub/oauth_login", timeout=30)
            assert landed.status_code == 200 and "/hub/" in landed.url, (landed.status_code, landed.url)
            session.http.get(f"{hub.url}/hub/spawn/{name}", timeout=30, allow_redirects=False)
            session._wait(lambda status: status and status.get("ready"), 120, "ready")
            sessions[name] = session

        got = probe(hub, sessions["alice"])
        assert got["client_id"] == "alice-id" and got["base_url"] == box.url and got["items"] > 0, got

        # erin's claim is not a plausible secret: refused by name, erin works on the sandbox.
        got = probe(hub, sessions["erin"])
        assert got["client_id"] == got["sandbox_client"] and got["items"] > 0, got
        log = hub.log_file.read_text(errors="replace")
        assert "erin: sentinelhub from auth_state: sentinelhub client_secret must be 8 to 512" in log, hub.log_tail()
        assert box.clients["alice-id"] not in log and hub_secret not in log
        assert hub.stop() == 0


def test_stored_credentials_win_over_the_identity_providers():
    from gemhub.hub.credentials_hook import merge

    stored = {"SH_CLIENT_ID": "mine", "SH_CLIENT_SECRET": "my-secret-1"}
    from_idp = {"sentinelhub": {"SH_CLIENT_ID": "idp", "SH_CLIENT_SECRET": "idp-secret"},
                "meteoblue": {"METEOBLUE_API_KEY": "idp-meteoblue"}}
    assert merge(stored, from_idp) == {**stored, "METEOBLUE_API_KEY": "idp-meteoblue"}
    assert merge({}, from_idp)["SH_CLIENT_ID"] == "idp"
