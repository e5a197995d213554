"""Rotating the credential store's key on a live hub loses nothing (gemhub credentials rotate).

The procedure an operator follows, on a real hub (`gemhub up`, local spawner, demo users) whose
servers outlive hub restarts (JupyterHub.cleanup_servers = False, as for an upgrade):
put the new key first and keep the old one second (JUPYTERHUB_CRYPT_KEY="NEW;OLD", for the hub
and the CLI), `gemhub credentials rotate`, restart the hub, and once everything reads "ok" drop
the old key. Running servers keep their environment, every credential is still listed, and
every spawn gets exactly the values that were stored. A rotate with a wrong, malformed or
missing key fails naming the problem and changes nothing (not the rows, not the key file).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import subprocess
from pathlib import Path

import psutil
import pytest
import requests
import yaml
from jupyterhub.crypto import KEY_ENV

from gemhub.waiting import wait_until
from support.credentials import cli_environment, gemhub_credentials, set_credentials
from support.hub import GEMHUB, processes_in
from support.kernel import execute

pytestmark = pytest.mark.slow

NAMES = ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "METEOBLUE_API_KEY")
# The kernel prints digests, never the values themselves.
DIGESTS = ("import hashlib, json, os; print(json.dumps({n: hashlib.sha256(os.environ[n].encode()).hexdigest() "
           f"for n in {NAMES!r} if n in os.environ}}))")


def digests(values: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(value.encode()).hexdigest() for name, value in values.items()}


def server_env(hub, session) -> dict[str, str]:
    return json.loads(execute(f"{hub.url}/user/{session.user}", session.token(), DIGESTS).strip().splitlines()[-1])


def rows(db: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(db) as conn:
        return {(user, provider): token for user, provider, token in
                conn.execute("SELECT username, provider, ciphertext FROM gemhub_credentials")}


def listing(config_file: Path, env: dict[str, str]) -> dict[tuple[str, str], str]:
    """`gemhub credentials list`: (user, provider) -> STATUS."""
    lines = gemhub_credentials(config_file, "list", env=env).stdout.splitlines()[1:]
    return {(line.split()[0], line.split()[1]): "old key" if line.endswith("old key") else line.split()[-1]
            for line in lines}


def rotate(config_file: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(GEMHUB), "credentials", "rotate", "--config", str(config_file)],
                          capture_output=True, text=True, env=env, timeout=60)


def restart(hub) -> None:
    """Start the hub again and wait for its API; on a loaded machine one answer can take
    longer than RunningHub.start's 2 s probe, so slow answers count as "not yet"."""
    hub.launch()

    def answers() -> bool:
        assert hub.process.poll() is None, f"gemhub up exited {hub.process.returncode}:\n{hub.log_tail()}"
        try:
            return requests.get(f"{hub.url}/hub/api/", timeout=10).ok
        except requests.RequestException:
            return False

    wait_until(answers, 300, "the restarted hub's API")


@pytest.fixture
def hub_folder_emptied(tmp_path):
    """Servers outlive this hub on purpose: whatever is still running in its folder at the end
    (a server, or everything if the test failed mid-restart) is ended, by pid."""
    yield
    for pid in processes_in(tmp_path):
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass


def test_rotating_the_key_while_servers_run_loses_nothing(hub_folder_emptied, hub_factory):
    hub = hub_factory(["alice", "bob"], extra={"hub": {"extra_config": {"JupyterHub": {"cleanup_servers": False}}}})
    data_dir = hub.config_file.parent / yaml.safe_load(hub.config_file.read_text())["hub"]["data_dir"]
    key_file, db = data_dir / "crypt-key", data_dir / "jupyterhub.sqlite"
    old, new = key_file.read_text().strip(), secrets.token_hex(32)
    assert ";" not in old
    stored = {
        "alice": {"SH_CLIENT_ID": "alice-id", "SH_CLIENT_SECRET": "alice-secret-" + secrets.token_hex(12),
                  "METEOBLUE_API_KEY": "alice-mb-" + secrets.token_hex(12)},
        "bob": {"SH_CLIENT_ID": "bob-id", "SH_CLIENT_SECRET": "bob-secret-" + secrets.token_hex(12)},
    }
    for user, values in stored.items():
        set_credentials(hub.config_file, user, values["SH_CLIENT_ID"], values["SH_CLIENT_SECRET"])
    gemhub_credentials(hub.config_file, "set", "alice", "--provider", "meteoblue", "--secret-stdin",
                       stdin=stored["alice"]["METEOBLUE_API_KEY"] + "\n")
    everything = {("alice", "meteoblue"), ("alice", "sentinelhub"), ("bob", "sentinelhub")}

    alice = hub.session("alice")
    alice.login()
    alice.start_server()
    assert server_env(hub, alice) == digests(stored["alice"])
    started = alice.server_status()["started"]

    # The new key first, the old one kept second: everything still reads, on the old key.
    both = cli_environment(**{KEY_ENV: f"{new};{old}"})
    assert listing(hub.config_file, both) == dict.fromkeys(everything, "old key")
    before = rows(db)
    done = rotate(hub.config_file, both)
    assert done.returncode == 0 and "re-encrypted 3 credential(s)" in done.stdout, done.stderr
    assert listing(hub.config_file, both) == dict.fromkeys(everything, "ok")
    after = rows(db)
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)

    # Restart the hub with both keys: alice's server was never stopped and still has her values.
    assert hub.stop() == 0
    hub.environment[KEY_ENV] = f"{new};{old}"
    restart(hub)
    alice, bob = hub.session("alice"), hub.session("bob")
    alice.login()
    assert alice.server_status()["ready"] and alice.server_status()["started"] == started
    assert server_env(hub, alice) == digests(stored["alice"])
    bob.login()
    bob.start_server()
    assert server_env(hub, bob) == digests(stored["bob"])
    alice.stop_server()
    alice.start_server()
    assert server_env(hub, alice) == digests(stored["alice"])

    # The old key dropped: the embedded hub's key file now holds only the new key.
    assert hub.stop() == 0
    del hub.environment[KEY_ENV]
    key_file.write_text(new + "\n")
    restart(hub)
    plain = cli_environment()
    assert listing(hub.config_file, plain) == dict.fromkeys(everything, "ok")
    for session in (hub.session("alice"), hub.session("bob")):
        session.login()
        if session.server_status():
            session.stop_server()
        session.start_server()
        assert server_env(hub, session) == digests(stored[session.user])
        session.stop_server()
    assert hub.stop() == 0

    # Rotating with a key that reads nothing, a malformed key, or none at all: a clear error, no change.
    unchanged = rows(db)
    wrong = rotate(hub.config_file, cli_environment(**{KEY_ENV: secrets.token_hex(32)}))
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1, wrong.stderr
    assert ("does not decrypt alice/meteoblue, alice/sentinelhub, bob/sentinelhub; nothing was re-encrypted"
            in wrong.stderr), wrong.stderr
    malformed = rotate(hub.config_file, cli_environment(**{KEY_ENV: "not-a-key"}))
    assert malformed.returncode == 2 and f"{KEY_ENV} is malformed" in malformed.stderr, malformed.stderr
    assert "not-a-key" not in malformed.stderr
    key_file.unlink()
    missing = rotate(hub.config_file, plain)
    assert missing.returncode == 2 and f"{KEY_ENV} is not set" in missing.stderr, missing.stderr
    assert not key_file.exists(), "a rotate without a key must not make one"
    assert rows(db) == unchanged
    key_file.write_text(new + "\n")
    assert listing(hub.config_file, plain) == dict.fromkeys(everything, "ok")
    for values in stored.values():
        for value in values.values():
            assert value.encode() not in db.read_bytes() and value not in hub.log_file.read_text(errors="replace")
