"""The hub database on PostgreSQL (the chart's hub.db.type postgres), against a real server.

The password is never in the URL (gemhub.yaml, the chart's ConfigMap): the chart gives the hub
PGPASSWORD from its Secret, libpq reads it, and the hub must hand it on to the credentials
service, which opens the same database but gets only the environment its entry lists.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess

import pytest
import sqlalchemy as sa
from traitlets.config import Config

from gemhub.config import validate_data
from gemhub.credentials.store import CredentialStore
from gemhub.hub import services
from gemhub.paths import Paths
from gemhub.service_address import SERVICE_URL_ENV
from gemhub.waiting import wait_until
from support.loopback_http import JsonHandler, LoopbackServer
from support.postgres import postgres  # noqa: F401  (the fixture)
from support.processes import stop_with_children

KEY = secrets.token_hex(32)
SH = {"client_id": "0c4f1a2b-3d4e-4f5a-8b9c-0d1e2f3a4b5c", "client_secret": secrets.token_urlsafe(32)}


@pytest.fixture
def libpq_env(monkeypatch, tmp_path):
    """No libpq setting of the machine running the tests: no PG* variable, no ~/.pgpass."""
    for name in [n for n in os.environ if n.startswith("PG")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    monkeypatch.delenv("JUPYTERHUB_CRYPT_KEY", raising=False)
    return monkeypatch


def credentials_entry(db_url: str, home, monkeypatch) -> dict:
    monkeypatch.setenv("GEMHUB_HOME", str(home))
    cfg = validate_data({"hub": {"db_url": db_url}})
    c = Config()
    services.apply(c, cfg, Paths.of(cfg, None))
    return {s["name"]: s for s in c.JupyterHub.services}["credentials"]


def test_hub_hands_the_database_password_to_the_credentials_service(libpq_env, tmp_path):
    url = "postgresql://gemhub@db.example:5432/gemhub"
    entry = credentials_entry(url, tmp_path, libpq_env)
    assert entry["environment"]["GEMHUB_CREDENTIALS_DB_URL"] == url
    assert not {"PGPASSWORD", "PGSSLMODE"} & set(entry["environment"])  # none set, none passed
    libpq_env.setenv("PGPASSWORD", "from-the-hub-secret")
    libpq_env.setenv("PGSSLMODE", "require")
    libpq_env.setenv("PGHOST", "elsewhere.example")  # not one of services.DB_ENV_PASSED: the URL names the host
    entry = credentials_entry(url, tmp_path, libpq_env)
    assert entry["environment"]["PGPASSWORD"] == "from-the-hub-secret"
    assert entry["environment"]["PGSSLMODE"] == "require"
    assert "PGHOST" not in entry["environment"]


def test_credential_store_on_postgres_with_pgpassword_only(postgres, libpq_env):
    assert postgres.password not in postgres.url
    with pytest.raises(sa.exc.OperationalError, match="password"):
        CredentialStore(postgres.url, keys=KEY)
    libpq_env.setenv("PGPASSWORD", postgres.password)
    with CredentialStore(postgres.url, keys=KEY) as store:
        assert store.engine.dialect.name == "postgresql"
        store.set("alice", "sentinelhub", SH, by="admin")
        assert store.get("alice", "sentinelhub") == SH
        assert [s.user for s in store.describe()] == ["alice"]
    with postgres.connect() as conn:  # what the table holds: no secret, no client id
        rows = conn.execute("SELECT ciphertext, meta::text FROM gemhub_credentials").fetchall()
        assert len(rows) == 1 and SH["client_secret"] not in str(rows) and SH["client_id"] not in str(rows)
        conn.execute("DELETE FROM gemhub_credentials")


class HubApiStandIn(JsonHandler):
    """Just /hub/api/user of a hub: the admin `root` for the one token the test hands out."""

    token = secrets.token_hex(16)

    def do_GET(self):
        if self.path.startswith("/hub/api/user") and self.headers.get("Authorization") == f"token {self.token}":
            self.reply_json(200, {"kind": "user", "name": "root", "admin": True, "scopes": ["admin:users"]})
        else:
            self.reply_json(403, {"status": 403, "message": "bad token"})


def test_credentials_service_process_reads_postgres_with_the_password_the_hub_passed(postgres, libpq_env, tmp_path):
    """The service started from the hub's own entry (environment as listed there, nothing of the
    test's) lists from PostgreSQL what was stored there."""
    libpq_env.setenv("PGPASSWORD", postgres.password)
    with CredentialStore(postgres.url, keys=KEY) as store:
        store.set("bob", "sentinelhub", SH, by="admin")
    libpq_env.setenv("JUPYTERHUB_CRYPT_KEY", KEY)
    entry = credentials_entry(postgres.url, tmp_path, libpq_env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LoopbackServer(HubApiStandIn) as hub:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PGPASSFILE": str(tmp_path / "no-pgpass"),
               **entry["environment"], SERVICE_URL_ENV: f"http://127.0.0.1:{port}",
               "JUPYTERHUB_SERVICE_PREFIX": "/services/credentials/", "JUPYTERHUB_API_URL": f"{hub.url}/hub/api",
               "JUPYTERHUB_API_TOKEN": secrets.token_hex(16), "JUPYTERHUB_CLIENT_ID": "service-credentials"}
        process = subprocess.Popen(entry["command"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            import requests

            def listed():
                if process.poll() is not None:
                    raise RuntimeError(f"the service exited:\n{process.stdout.read()}")
                try:
                    return requests.get(f"http://127.0.0.1:{port}/services/credentials/api/users", timeout=10,
                                        headers={"Authorization": f"token {HubApiStandIn.token}"})
                except requests.ConnectionError:
                    return None

            response = wait_until(listed, 60, "the credentials service answering")
            assert response.status_code == 200, response.text
            assert [(c["user"], c["provider"]) for c in response.json()["credentials"]] == [("bob", "sentinelhub")]
            assert response.json()["credentials"][0]["fingerprint"].startswith("sha256:")
        finally:
            stop_with_children(process, wait=20)
    with postgres.connect() as conn:
        conn.execute("DELETE FROM gemhub_credentials")
