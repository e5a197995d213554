"""A real, throwaway PostgreSQL server for tests.

A fresh cluster in a temporary folder, listening on 127.0.0.1 and a free port (its unix
socket in that folder, so it never meets a system server), with password authentication
(scram-sha-256) for every connection, as a deployment's database would ask. The role and
database the hub uses (`gemhub`) are made with a random password; `Postgres.url` leaves the
password out, as gemhub.yaml does, so a client gets in only with PGPASSWORD.

PostgreSQL refuses to run as root: under root the server runs as the `postgres` account
(the Debian package's), otherwise as the current user. Without the server binaries
(`initdb`, `pg_ctl`) the fixture skips, saying so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"
SERVER_ACCOUNT = "postgres"  # who runs the server when the tests run as root


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's versioned folders (newest first), else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates += [str(Path(on_path).parent)] if on_path else []
    for folder in candidates:
        if all(os.access(Path(folder) / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str
    password: str
    database: str
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL without the password: libpq takes it from PGPASSWORD."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self, **kwargs):
        """A psycopg connection as the role, password given explicitly (for checks from the test)."""
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               dbname=self.database, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner(folder: Path):
    """run(args) as the account the server may run as, owning `folder`."""
    as_root = os.geteuid() == 0
    if as_root:
        try:
            account = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            pytest.skip(f"PostgreSQL will not run as root and there is no {SERVER_ACCOUNT!r} account to run it as")
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
    # A clean environment: no PG* variables of the test, the C locale (initdb reads it).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}

    def run(args: list, timeout: float = 120) -> subprocess.CompletedProcess:
        extra = {"user": SERVER_ACCOUNT, "group": pwd.getpwnam(SERVER_ACCOUNT).pw_gid} if as_root else {}
        return subprocess.run([str(a) for a in args], env=env, cwd=folder, capture_output=True, text=True,
                              timeout=timeout, **extra)

    return run


@contextlib.contextmanager
def running_postgres(user: str = "gemhub", database: str = "gemhub") -> Iterator[Postgres]:
    """A started server with role `user` (password login, no superuser) owning `database`."""
    import psycopg
    from psycopg import sql

    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="gemhub-pg-"))
    data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"
    sockets.mkdir()
    superuser_password = secrets.token_urlsafe(24)
    password_file = folder / "superuser-password"
    password_file.write_text(superuser_password + "\n")
    password_file.chmod(0o600)
    run = _runner(folder)
    started = False
    try:
        init = run([binaries / "initdb", "-D", data, "-U", SUPERUSER, f"--pwfile={password_file}",
                    "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync", "--no-instructions"])
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}{init.stderr}"
        password_file.unlink()
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sockets} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        start = run([binaries / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"])
        started = True
        assert start.returncode == 0, f"pg_ctl start failed:\n{start.stdout}{start.stderr}\n{_tail(log)}"
        password = secrets.token_urlsafe(24)
        with psycopg.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=superuser_password,
                             dbname="postgres", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))
        yield Postgres(port=port, user=user, password=password, database=database)
    finally:
        if started:
            run([binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text().splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """One server per test module (starting one takes a few seconds). Import it into a test module:
    `from support.postgres import postgres  # noqa: F401`."""
    with running_postgres() as server:
        yield server
