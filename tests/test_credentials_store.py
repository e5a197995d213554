"""Per-user credentials: encrypted at rest in the hub database, never shown back.

Real sqlite files and real Fernet keys throughout; the raw database bytes are
searched for the secrets, and every CLI output is checked for them too.
"""

from __future__ import annotations

import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from gemhub.cli import cli
from gemhub.credentials import keys as crypt_keys
from gemhub.credentials.providers import PROVIDERS, InvalidCredentials, UnknownProvider, get_provider
from gemhub.credentials.store import CredentialStore, CredentialsUnavailable, credentials_table

KEY_ENV = "JUPYTERHUB_CRYPT_KEY"
GEMHUB = Path(sys.executable).parent / "gemhub"


def new_key() -> str:
    return secrets.token_hex(32)


def sh_values(client_id: str | None = None, secret: str | None = None) -> dict[str, str]:
    return {
        "client_id": client_id or f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-4f2a",
        "client_secret": secret or secrets.token_urlsafe(32),
    }


def raw_db_bytes(db_file: Path) -> bytes:
    """The sqlite file and whatever journal/WAL sits beside it."""
    return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture
def db(tmp_path) -> tuple[str, Path]:
    path = tmp_path / "jupyterhub.sqlite"
    return f"sqlite:///{path}", path


# -- store --------------------------------------------------------------------


def test_round_trip_and_environment(db):
    url, _ = db
    values = sh_values()
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", values, by="admin")
        assert store.get("alice", "sentinelhub") == values
        assert store.get("alice", "meteoblue") is None
        assert store.environment("alice") == {
            "SH_CLIENT_ID": values["client_id"], "SH_CLIENT_SECRET": values["client_secret"]}
        assert store.environment("nobody") == {}


def test_replacing_keeps_one_row(db):
    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
        newer = sh_values()
        store.set("alice", "sentinelhub", newer, by="admin2")
        assert store.get("alice", "sentinelhub") == newer
        [summary] = store.describe("alice")
        assert summary.set_by == "admin2"


def test_database_holds_neither_secret_nor_client_id(db):
    url, path = db
    values = sh_values()
    s3_secret = secrets.token_urlsafe(30)
    with CredentialStore(url, keys=new_key()) as store:
        # WAL mode, so that a -wal file exists and is searched as well.
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar() == "wal"
        store.set("alice", "sentinelhub", values, by="admin")
        store.set("alice", "s3", {"access_key_id": "AKIAEXAMPLEKEY00ZZ9Q", "secret_access_key": s3_secret,
                                  "endpoint_url": "https://minio.internal:9000"}, by="admin")
        assert Path(str(path) + "-wal").exists()
        raw = raw_db_bytes(path)
        assert b"gemhub_credentials" in raw  # the right file was searched
        secret = values["client_secret"].encode()
        assert secret not in raw and secret[-8:] not in raw and secret[:8] not in raw
        assert s3_secret.encode()[-8:] not in raw
        client_id = values["client_id"].encode()
        assert client_id not in raw and client_id[:-4] not in raw and client_id[-8:] not in raw
        assert b"AKIAEXAMPLEKEY" not in raw and b"minio.internal" not in raw


def test_users_are_isolated(db):
    url, _ = db
    alice, bob = sh_values(), sh_values()
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", alice, by="admin")
        store.set("bob", "sentinelhub", bob, by="admin")
        assert store.get("alice", "sentinelhub") == alice
        assert store.get("bob", "sentinelhub") == bob
        assert store.environment("bob")["SH_CLIENT_SECRET"] == bob["client_secret"]
        assert [s.user for s in store.describe("bob")] == ["bob"]


def test_ciphertext_moved_to_another_user_is_refused(db):
    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
        store.set("bob", "sentinelhub", sh_values(), by="admin")
        t = credentials_table
        with store.engine.begin() as conn:
            token = conn.execute(sa.select(t.c.ciphertext).where(t.c.username == "alice")).scalar_one()
            conn.execute(t.update().where(t.c.username == "bob").values(ciphertext=token))
        with pytest.raises(CredentialsUnavailable, match="another user"):
            store.get("bob", "sentinelhub")


def test_unset(db):
    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
        store.set("alice", "meteoblue", {"api_key": secrets.token_hex(16)}, by="admin")
        store.set("bob", "sentinelhub", sh_values(), by="admin")
        assert store.unset("alice", "meteoblue") == 1
        assert store.get("alice", "meteoblue") is None
        assert store.unset("alice", "meteoblue") == 0
        assert store.unset("alice") == 1
        assert store.describe("alice") == []
        assert store.get("bob", "sentinelhub") is not None


def test_describe_never_shows_a_secret(db):
    url, _ = db
    values = sh_values(client_id="0a1b2c3d-0000-1111-2222-33334f2a")
    api_key = secrets.token_hex(16)
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", values, by="admin")
        store.set("alice", "meteoblue", {"api_key": api_key}, by="admin")
        summaries = store.describe(check=True)
    text = repr(summaries) + str(summaries) + "".join(s.id_hint for s in summaries)
    assert values["client_secret"] not in text and values["client_secret"][-4:] not in text
    assert api_key not in text and api_key[-4:] not in text
    assert values["client_id"] not in text
    by_provider = {s.provider: s for s in summaries}
    assert by_provider["sentinelhub"].id_hint == "…4f2a"
    assert by_provider["meteoblue"].id_hint == "—"
    assert by_provider["meteoblue"].fingerprint.startswith("sha256:")
    assert {s.status for s in summaries} == {"ok"}
    # The fingerprint is what an admin can recompute from the secret they hold.
    import hashlib
    assert by_provider["meteoblue"].fingerprint == "sha256:" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


def test_no_key_opens_but_reports_unavailable(db):
    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
    store = CredentialStore(url)  # $JUPYTERHUB_CRYPT_KEY unset
    assert "JUPYTERHUB_CRYPT_KEY is not set" in store.key_problem
    assert [s.status for s in store.describe(check=True)] == ["no key"]
    with pytest.raises(CredentialsUnavailable, match="credentials are unavailable: JUPYTERHUB_CRYPT_KEY"):
        store.get("alice", "sentinelhub")
    with pytest.raises(CredentialsUnavailable):
        store.set("bob", "sentinelhub", sh_values(), by="admin")
    assert store.unset("alice") == 1


def test_wrong_or_malformed_key(db, monkeypatch):
    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
    wrong = new_key()
    monkeypatch.setenv(KEY_ENV, wrong)
    with CredentialStore(url) as store:
        with pytest.raises(CredentialsUnavailable) as error:
            store.get("alice", "sentinelhub")
        assert "does not decrypt" in str(error.value) and "alice/sentinelhub" in str(error.value)
        assert wrong not in str(error.value)
        with pytest.raises(CredentialsUnavailable):
            store.environment("alice")
        assert store.describe(check=True)[0].status == "unreadable"
    with CredentialStore(url, keys="not-a-key-at-all") as store:
        assert "malformed" in store.key_problem and "not-a-key" not in store.key_problem
        with pytest.raises(CredentialsUnavailable, match="malformed"):
            store.get("alice", "sentinelhub")


def test_key_rotation(db):
    url, _ = db
    key_a, key_b = new_key(), new_key()
    values = sh_values()
    with CredentialStore(url, keys=key_a) as store:
        store.set("alice", "sentinelhub", values, by="admin")
        store.set("bob", "meteoblue", {"api_key": secrets.token_hex(16)}, by="admin")
    with CredentialStore(url, keys=f"{key_b};{key_a}") as store:
        assert store.get("alice", "sentinelhub") == values
        assert {s.status for s in store.describe(check=True)} == {"old key"}
        assert store.rotate() == 2
        assert {s.status for s in store.describe(check=True)} == {"ok"}
    with CredentialStore(url, keys=key_b) as store:
        assert store.get("alice", "sentinelhub") == values
    with CredentialStore(url, keys=key_a) as store:
        with pytest.raises(CredentialsUnavailable):
            store.get("alice", "sentinelhub")
        # A rotation that cannot read everything changes nothing.
        with pytest.raises(CredentialsUnavailable, match="nothing was re-encrypted"):
            store.rotate()
    with CredentialStore(url, keys=key_b) as store:
        assert store.get("alice", "sentinelhub") == values


def test_table_lives_beside_jupyterhubs_own(db):
    """Made before or after JupyterHub's tables, neither schema check minds the other."""
    from jupyterhub import orm

    url, _ = db
    with CredentialStore(url, keys=new_key()) as store:
        store.set("alice", "sentinelhub", sh_values(), by="admin")
    session = orm.new_session_factory(url)()
    session.add(orm.User(name="alice"))
    session.commit()
    session.close()
    with CredentialStore(url, keys=new_key()) as store:
        assert len(store.describe()) == 1
    assert "users" in sa.inspect(sa.create_engine(url)).get_table_names()


def test_schema_compiles_for_postgres():
    """No Postgres driver ships in the hub image yet; the DDL at least must be portable."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    ddl = str(CreateTable(credentials_table).compile(dialect=postgresql.dialect()))
    assert "UNIQUE (username, provider)" in ddl and '"user"' not in ddl


# -- providers and keys ----------------------------------------------------------


def test_provider_registry_shape():
    assert set(PROVIDERS) >= {"sentinelhub", "meteoblue", "s3"}
    s3 = get_provider("s3")
    values = s3.validate({"access_key_id": "AKIA0000", "secret_access_key": "x" * 40})
    assert s3.environment(values) == {"AWS_ACCESS_KEY_ID": "AKIA0000", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    values = s3.validate({**values, "endpoint_url": "https://minio:9000"})
    assert s3.environment(values)["AWS_ENDPOINT_URL"] == "https://minio:9000"
    assert get_provider("meteoblue").environment({"api_key": "k" * 20}) == {"METEOBLUE_API_KEY": "k" * 20}
    with pytest.raises(UnknownProvider, match="'planet'"):
        get_provider("planet")


@pytest.mark.parametrize("values, message", [
    ({"client_id": "", "client_secret": "s" * 20}, "client_id is empty"),
    ({"client_id": "abcd efgh", "client_secret": "s" * 20}, "client_id must not contain spaces"),
    ({"client_id": "abcdefgh"}, "client_secret is required"),
    ({"client_id": "abcdefgh", "client_secret": "short"}, "client_secret must be 8 to"),
    ({"client_id": "abcdefgh", "client_secret": "s" * 20, "token": "x"}, "no field 'token'"),
])
def test_validation_names_the_field_not_the_secret(values, message):
    with pytest.raises(InvalidCredentials, match=message) as error:
        get_provider("sentinelhub").validate(values)
    if values.get("client_secret"):
        assert values["client_secret"] not in str(error.value)


def test_secret_with_whitespace_is_not_echoed():
    with pytest.raises(InvalidCredentials) as error:
        get_provider("sentinelhub").validate({"client_id": "abcdefgh", "client_secret": "hunter2 hunter2"})
    assert "hunter2" not in str(error.value)


def test_local_key_file(tmp_path):
    data = tmp_path / "data"
    key = crypt_keys.ensure_local_key(data)
    path = data / crypt_keys.FILENAME
    assert len(key) == 64 and int(key, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypt_keys.ensure_local_key(data) == key
    assert crypt_keys.resolve_key(data, environ={}) == key
    assert crypt_keys.resolve_key(data, environ={KEY_ENV: "k1;k2"}) == "k1;k2"
    assert crypt_keys.resolve_key(tmp_path / "other", environ={}, create=False) is None
    CredentialStore(f"sqlite:///{tmp_path / 'x.sqlite'}", keys=key).set(
        "alice", "sentinelhub", sh_values(), by="t")  # the generated key is one CryptKeeper accepts


# -- CLI ------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "gemhub.yaml"
    path.write_text("hub:\n  data_dir: data\n")
    return path


def run(config: Path, *args: str, input: str | None = None, env: dict | None = None):
    return CliRunner().invoke(cli, ["credentials", *args, "--config", str(config)], input=input, env=env)


def test_cli_set_list_unset(config):
    values = sh_values(client_id="0a1b2c3d-0000-1111-2222-33334f2a")
    secret = values["client_secret"]
    result = run(config, "set", "alice", "--client-id", values["client_id"], "--secret-stdin", input=secret + "\n")
    assert result.exit_code == 0, result.output
    assert "…4f2a" in result.output
    key_file = config.parent / "data" / crypt_keys.FILENAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    listed = run(config, "list")
    assert listed.exit_code == 0
    assert "alice" in listed.stdout and "sentinelhub" in listed.stdout and "…4f2a" in listed.stdout
    assert " ok" in listed.stdout

    # The hub reads the same key (gemhub up exports the local key file).
    hub_db = f"sqlite:///{config.parent / 'data' / 'jupyterhub.sqlite'}"
    with CredentialStore(hub_db, keys=key_file.read_text().strip()) as store:
        assert store.get("alice", "sentinelhub") == values

    removed = run(config, "unset", "alice")
    assert removed.exit_code == 0 and "removed 1" in removed.output
    assert "no credentials stored" in run(config, "list").output

    for result in (listed, removed):
        assert secret not in result.output and secret[-4:] not in result.output
        assert key_file.read_text().strip() not in result.output


def test_cli_other_providers(config):
    api_key, s3_secret = secrets.token_hex(16), secrets.token_urlsafe(30)
    assert run(config, "set", "bob", "--provider", "meteoblue", "--secret-stdin", input=api_key).exit_code == 0
    result = run(config, "set", "bob", "--provider", "s3", "--access-key-id", "AKIAEXAMPLE0001",
                 "--endpoint-url", "https://minio:9000", "--secret-stdin", input=s3_secret)
    assert result.exit_code == 0, result.output
    listed = run(config, "list", "bob")
    assert "meteoblue" in listed.output and "s3" in listed.output and "…0001" in listed.output
    assert api_key not in listed.output and s3_secret not in listed.output


@pytest.mark.parametrize("args, input, message", [
    (["set", "alice", "--provider", "planet", "--secret-stdin"], "x" * 20, "unknown provider 'planet'"),
    (["unset", "alice", "--provider", "planet"], None, "unknown provider 'planet'"),
    (["set", "alice", "--client-id", "abcdefgh", "--secret-stdin"], "", "client_secret is empty"),
    (["set", "alice", "--client-id", "abcdefgh", "--secret-stdin"], "two words", "must not contain spaces"),
    (["set", "alice", "--client-id", "a b", "--secret-stdin"], "s" * 20, "client_id must not contain spaces"),
    (["set", "alice", "--access-key-id", "AKIA0000", "--secret-stdin"], "s" * 20,
     "--access-key-id does not apply to provider 'sentinelhub'"),
    (["set", "Alice", "--client-id", "abcdefgh", "--secret-stdin"], "s" * 20, "lower-case"),
    (["set", "alice", "--client-id", "abcdefgh"], None, "--secret-stdin"),  # no terminal to prompt on
])
def test_cli_bad_input_is_one_line_exit_2(config, args, input, message):
    result = run(config, *args, input=input)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    if input:
        assert input not in result.output


@pytest.mark.parametrize("secret", [secrets.token_urlsafe(24), "-" + secrets.token_urlsafe(24),
                                    "--" + secrets.token_hex(12)])
def test_cli_secret_cannot_be_an_argument(config, secret):
    for args in (["--client-secret", secret], [f"--client-secret={secret}"], [secret], ["--secret-stdin", secret]):
        result = run(config, "set", "alice", "--client-id", "abcdefgh", *args, input="")
        assert result.exit_code == 2
        assert secret not in result.output
        assert "never taken as arguments" in result.output
    assert "no credentials stored" in run(config, "list").output


def test_cli_without_key_says_so(config, monkeypatch):
    assert run(config, "set", "alice", "--client-id", "abcdefgh", "--secret-stdin",
               input=secrets.token_urlsafe(24)).exit_code == 0
    monkeypatch.setenv(KEY_ENV, new_key())  # a deployment key that is not the one used
    listed = run(config, "list")
    assert listed.exit_code == 0 and "unreadable" in listed.stdout
    assert "credentials are unavailable" in listed.stderr
    result = run(config, "rotate")
    assert result.exit_code == 2
    assert "credentials are unavailable: JUPYTERHUB_CRYPT_KEY does not decrypt alice/sentinelhub" in result.stderr


def test_cli_rotate(config, monkeypatch):
    secret = secrets.token_urlsafe(24)
    assert run(config, "set", "alice", "--client-id", "abcdefgh", "--secret-stdin", input=secret).exit_code == 0
    old = (config.parent / "data" / crypt_keys.FILENAME).read_text().strip()
    new = new_key()
    monkeypatch.setenv(KEY_ENV, f"{new};{old}")
    assert "old key" in run(config, "list").stdout
    result = run(config, "rotate")
    assert result.exit_code == 0 and "re-encrypted 1" in result.output
    monkeypatch.setenv(KEY_ENV, new)
    assert " ok" in run(config, "list").stdout


def test_installed_cli_reads_secret_from_stdin(config, tmp_path):
    """The real entry point, in its own process, as an admin would run it."""
    secret = secrets.token_urlsafe(24)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([GEMHUB, "credentials", "set", "carol", "--client-id", "client-0000-4f2a",
                           "--secret-stdin", "--config", config], input=secret, capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([GEMHUB, "credentials", "list", "--config", config], capture_output=True, text=True,
                            env=env, timeout=60)
    assert "carol" in listed.stdout and "…4f2a" in listed.stdout
    assert secret not in done.stdout + done.stderr + listed.stdout + listed.stderr


def test_writes_wait_for_a_busy_database_instead_of_failing(db):
    """The hub holds the shared sqlite file's write lock for seconds under a spawn storm; the store
    waits for it (sqlite's default is to give up after 5 s: "database is locked"), and twenty
    users saving and reading at once while it is held all succeed, none lost."""
    import sqlite3
    import threading
    from concurrent.futures import ThreadPoolExecutor

    url, path = db
    key = new_key()
    with CredentialStore(url, key) as store:
        store.set("warmup", "sentinelhub", sh_values(), by="warmup")  # creates the table
    held = threading.Event()

    def hold_lock(seconds: float) -> None:
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")  # what a long hub write transaction looks like to others
        held.set()
        threading.Event().wait(seconds)
        blocker.commit()
        blocker.close()

    values = {f"user{i}": sh_values() for i in range(20)}
    with CredentialStore(url, key) as store, ThreadPoolExecutor(max_workers=21) as pool:
        blocker = pool.submit(hold_lock, 7)
        assert held.wait(10)
        saves = [pool.submit(store.set, user, "sentinelhub", given, user) for user, given in values.items()]
        errors = [repr(f.exception()) for f in saves if f.exception() is not None]
        blocker.result()
        assert errors == []
        reads = {user: pool.submit(store.get, user, "sentinelhub") for user in values}
        assert {user: f.result() for user, f in reads.items()} == values
