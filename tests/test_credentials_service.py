"""The credentials service at /services/credentials/: the settings page and the admin API, over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from traitlets.config import Config

from support.hub import RunningHub, write_config

GEMHUB = os.path.join(os.path.dirname(sys.executable), "gemhub")
ALICE_SECRET = "alice-Secret-0f9e8d7c6b5a"
BOB_SECRET = "bob-Secret-1a2b3c4d5e6f"
ADMIN_SECRET_FOR_ALICE = "alice-via-api-Secret-99887766"
SAVED = "Saved. Restart your server to use them (Hub Control Panel → Stop My Server → Start)."


def test_one_user_role_grants_both_services_and_the_service_holds_no_scopes(monkeypatch, tmp_path):
    from gemhub.config import validate_data
    from gemhub.hub import services
    from gemhub.paths import Paths

    monkeypatch.setenv("GEMHUB_HOME", str(tmp_path))
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    cfg = validate_data({"hub": {"credentials_port": 8031}})
    c = Config()
    services.apply(c, cfg, Paths.of(cfg, None))
    service = {s["name"]: s for s in c.JupyterHub.services}["credentials"]
    assert service["url"] == "http://127.0.0.1:8031" and service["display"] and service["oauth_no_confirm"]
    assert service["command"][1:] == ["-m", "gemhub.credentials.service"]
    assert service["environment"]["GEMHUB_CREDENTIALS_DB_URL"].startswith("sqlite:///")
    assert service["environment"]["JUPYTERHUB_CRYPT_KEY"] == (tmp_path / "data" / "crypt-key").read_text().strip()
    roles = c.JupyterHub.load_roles
    assert [r["name"] for r in roles].count("user") == 1
    user = next(r for r in roles if r["name"] == "user")
    assert user["scopes"] == ["self", "access:services!service=marketplace", "access:services!service=credentials"]
    assert next(r for r in roles if r["name"] == "credentials")["scopes"] == []

    cfg = validate_data({"hub": {"credentials_service": False}, "marketplace": {"enabled": False}})
    c = Config()
    services.apply(c, cfg, Paths.of(cfg, None))
    assert "credentials" not in {s["name"] for s in c.JupyterHub.services}
    assert "user" not in {r["name"] for r in c.JupyterHub.load_roles}



def page(session, path: str = ""):
    return session.http.get(f"{session.url}/services/credentials/{path}", timeout=30)


def post(session, path: str, data: dict, xsrf: bool = True):
    if xsrf:
        data = {**data, "_xsrf": session.http.cookies.get("_xsrf", path="/services/credentials/")}
    return session.http.post(f"{session.url}/services/credentials/{path}", data=data, timeout=30)


def api(hub, token: str | None, method: str, path: str, **kwargs):
    import requests

    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.request(method, f"{hub.url}/services/credentials/api/{path}", headers=headers, timeout=30,
                            **kwargs)


def logged_in(hub, user: str):
    session = hub.session(user)
    assert session.login().status_code == 302
    return session


@pytest.fixture
def hub(hub_factory):
    return hub_factory(["alice", "bob"])


@pytest.mark.slow
def test_page_needs_login_and_keeps_each_users_credentials_to_themselves(hub):
    stranger = hub.session("alice")
    assert "/hub/login" in page(stranger).url

    alice = logged_in(hub, "alice")
    responses = [page(alice)]
    first = responses[0]
    assert first.status_code == 200 and first.url == f"{hub.url}/services/credentials/"
    assert first.text.count("Not set") == 3 and 'type="password"' in first.text
    assert "Sentinel Hub" in first.text and "meteoblue" in first.text

    # Without the xsrf field the POST is refused, and nothing is stored.
    refused = post(alice, "", {"provider": "sentinelhub", "client_id": "alice-client-4f2a",
                               "client_secret": ALICE_SECRET}, xsrf=False)
    responses.append(refused)
    assert refused.status_code == 403

    # Invalid input: 400 with the store's message, the client id kept, the secret not echoed.
    bad = post(alice, "", {"provider": "sentinelhub", "client_id": "alice-client-4f2a", "client_secret": "short"})
    responses.append(bad)
    assert bad.status_code == 400 and "sentinelhub client_secret must be 8 to 512 characters long" in bad.text
    assert 'value="alice-client-4f2a"' in bad.text and 'value="short"' not in bad.text
    unknown = post(alice, "", {"provider": "dropbox"})
    responses.append(unknown)
    assert unknown.status_code == 400 and "dropbox" in unknown.text

    saved = post(alice, "", {"provider": "sentinelhub", "client_id": "alice-client-4f2a",
                             "client_secret": ALICE_SECRET})
    responses.append(saved)
    assert saved.status_code == 200 and saved.url.startswith(f"{hub.url}/services/credentials/?")
    assert SAVED in saved.text
    assert "Set on " in saved.text and "by alice" in saved.text and "…4f2a" in saved.text
    assert "sha256:" in saved.text and saved.text.count("Not set") == 2

    bob = logged_in(hub, "bob")
    bobs = page(bob)
    responses.append(bobs)
    assert bobs.text.count("Not set") == 3 and "4f2a" not in bobs.text

    removed = post(alice, "remove", {"provider": "sentinelhub"})
    responses.append(removed)
    assert removed.status_code == 200 and removed.text.count("Not set") == 3 and "Removed." in removed.text
    post(alice, "", {"provider": "sentinelhub", "client_id": "alice-client-4f2a", "client_secret": ALICE_SECRET})

    for response in responses:
        assert ALICE_SECRET not in response.text
    log = hub.log_file.read_text(errors="replace")
    assert ALICE_SECRET not in log and "credentials set for alice/sentinelhub by alice" in log


@pytest.mark.slow
def test_api_lets_admins_act_on_anyone_and_users_only_on_themselves(hub):
    admin, alice = logged_in(hub, "admin").token(), logged_in(hub, "alice").token()
    bob_values = {"client_id": "bob-client-77aa", "client_secret": BOB_SECRET}
    seen = []

    assert api(hub, None, "GET", "users/bob/sentinelhub").status_code in (401, 403)

    created = api(hub, admin, "PUT", "users/bob/sentinelhub", json=bob_values)
    seen.append(created)
    assert created.status_code == 201, created.text
    assert created.json()["set_by"] == "admin" and created.json()["id_hint"] == "…77aa"
    replaced = api(hub, admin, "PUT", "users/bob/sentinelhub", json=bob_values)
    seen.append(replaced)
    assert replaced.status_code == 200

    got = api(hub, admin, "GET", "users/bob/sentinelhub")
    seen.append(got)
    assert got.status_code == 200
    body = got.json()
    assert body["user"] == "bob" and body["provider"] == "sentinelhub" and body["status"] == "ok"
    assert body["fingerprint"].startswith("sha256:") and body["fields"] == ["client_id", "client_secret"]

    # Alice may not read, replace, remove or list anyone else's.
    for method, kwargs in (("GET", {}), ("PUT", {"json": bob_values}), ("DELETE", {})):
        refused = api(hub, alice, method, "users/bob/sentinelhub", **kwargs)
        assert refused.status_code == 403, (method, refused.text)
        assert refused.json()["status"] == 403 and "alice" in refused.json()["message"]
    assert api(hub, alice, "GET", "users").status_code == 403

    mine = api(hub, alice, "PUT", "users/alice/meteoblue", json={"api_key": ALICE_SECRET})
    seen.append(mine)
    assert mine.status_code == 201 and mine.json()["set_by"] == "alice"
    seen.append(api(hub, alice, "GET", "users/alice/meteoblue"))
    assert seen[-1].status_code == 200
    for_alice = api(hub, admin, "PUT", "users/alice/sentinelhub",
                    json={"client_id": "alice-client-0001", "client_secret": ADMIN_SECRET_FOR_ALICE})
    assert for_alice.status_code == 201 and for_alice.json()["set_by"] == "admin"

    unknown = api(hub, alice, "PUT", "users/alice/dropbox", json={"token": "x" * 10})
    assert unknown.status_code == 400 and "dropbox" in unknown.json()["message"]
    invalid = api(hub, alice, "PUT", "users/alice/sentinelhub", json={"client_id": "abcd", "client_secret": "no"})
    assert invalid.status_code == 400 and "client_secret" in invalid.json()["message"]
    assert api(hub, alice, "PUT", "users/alice/sentinelhub", data="{not json").status_code == 400
    nobody = api(hub, admin, "PUT", "users/nobody-here/meteoblue", json={"api_key": "k" * 12})
    assert nobody.status_code == 404 and "nobody-here" in nobody.json()["message"]

    listing = api(hub, admin, "GET", "users")
    seen.append(listing)
    assert listing.status_code == 200
    assert {(c["user"], c["provider"]) for c in listing.json()["credentials"]} == {
        ("bob", "sentinelhub"), ("alice", "meteoblue"), ("alice", "sentinelhub")}

    # The CLI reads what the service stored: same database, same key.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
    cli = subprocess.run([GEMHUB, "credentials", "list", "--config", str(hub.config_file)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert cli.returncode == 0, cli.stderr
    rows = [line.split() for line in cli.stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("alice", "meteoblue", "—"), ("alice", "sentinelhub", "…0001"), ("bob", "sentinelhub", "…77aa")]
    assert all(r[-1] == "ok" for r in rows) and rows[2][-2] == "admin"

    assert api(hub, admin, "DELETE", "users/bob/sentinelhub").status_code == 204
    gone = api(hub, admin, "GET", "users/bob/sentinelhub")
    assert gone.status_code == 404 and gone.json()["status"] == 404
    assert api(hub, admin, "DELETE", "users/bob/sentinelhub").status_code == 404
    assert api(hub, alice, "DELETE", "users/alice/meteoblue").status_code == 204

    for response in seen:
        for secret in (BOB_SECRET, ALICE_SECRET, ADMIN_SECRET_FOR_ALICE):
            assert secret not in response.text
    log = hub.log_file.read_text(errors="replace")
    for secret in (BOB_SECRET, ALICE_SECRET, ADMIN_SECRET_FOR_ALICE):
        assert secret not in log
    assert "credentials set for bob/sentinelhub by admin" in log


@pytest.mark.slow
def test_without_a_usable_key_the_page_says_so_and_saving_is_refused(tmp_path):
    folder = tmp_path / "hub"
    (folder / "state").mkdir(parents=True)
    # A damaged key file: the service must start, explain, and refuse to save.
    (folder / "state" / "crypt-key").write_text("not-a-valid-key\n")
    hub = RunningHub(write_config(folder, ["alice"]), folder / "gemhub-up.log")
    hub.start()
    try:
        alice = logged_in(hub, "alice")
        shown = page(alice)
        assert shown.status_code == 200 and "Credentials are unavailable on this hub right now" in shown.text
        refused = post(alice, "", {"provider": "meteoblue", "api_key": ALICE_SECRET})
        assert refused.status_code == 503 and "Credentials are unavailable" in refused.text
        assert ALICE_SECRET not in refused.text
        token = alice.token()
        put = api(hub, token, "PUT", "users/alice/meteoblue", json={"api_key": ALICE_SECRET})
        assert put.status_code == 503 and put.json()["status"] == 503
        assert api(hub, token, "GET", "users/alice/meteoblue").status_code == 404
    finally:
        hub.stop()
    assert ALICE_SECRET not in hub.log_file.read_text(errors="replace")
