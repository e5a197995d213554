"""Per-user, per-provider credentials, encrypted in the hub's own database.

Why the hub database: it is already the hub's durable, backed-up state (a
sqlite file locally, Postgres in a deployment), so credentials live and die
with the users they belong to and need no second store to secure. The table
is gemhub's own (`gemhub_credentials`), made here when missing; JupyterHub's
schema checks only look at its own tables, so the two never collide.

Why JupyterHub's crypto: the values are encrypted with JupyterHub's
CryptKeeper (Fernet/MultiFernet) under JUPYTERHUB_CRYPT_KEY, the same key and
format JupyterHub uses for auth_state. `;`-separated keys: the first encrypts,
any decrypts; `rotate()` re-encrypts everything with the first, after which
the old key can be dropped. All of a credential's values, the non-secret ones
too, are encrypted together with the user and provider they belong to, so a
ciphertext copied to another user's row does not decrypt as theirs.

What is kept in clear, per row: user, provider, who set it and when, and a
description that identifies the credential without revealing it (see
`describe`). Without a (matching) key the store still opens, lists and removes
credentials; only reading and writing values raise `CredentialsUnavailable`,
so a hub whose key went missing starts and says so instead of crashing.

Calls are synchronous and quick (one small query, microseconds of Fernet);
async callers in the hub wrap them in a thread as JupyterHub does its crypto.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from jupyterhub.crypto import KEY_ENV, CryptKeeper, EncryptionUnavailable, InvalidToken
from sqlalchemy.pool import StaticPool
from traitlets.config import Config

from .providers import InvalidCredentials, get_provider

TABLE = "gemhub_credentials"
FINGERPRINT_HEX = 8
ID_TAIL = 4

metadata = sa.MetaData()
credentials_table = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # "user" is a reserved word in Postgres.
    sa.Column("username", sa.Unicode(255), nullable=False),
    sa.Column("provider", sa.Unicode(64), nullable=False),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("set_by", sa.Unicode(255), nullable=False),
    sa.UniqueConstraint("username", "provider", name="uq_gemhub_credentials_user_provider"),
)


class CredentialsUnavailable(RuntimeError):
    """No key, a malformed key, or keys that do not decrypt (message is safe to show)."""


@dataclass(frozen=True)
class Summary:
    """What may be shown about a stored credential: never a secret, nor a full id.

    `id_tail` is the last characters of the provider's non-secret id field
    (the OAuth client id, the S3 access key id): enough to tell which client it
    is, as the provider's dashboard lists them. The secret itself is described
    by `fingerprint`, a short prefix of its SHA-256, rather than by its last
    characters: a tail of the secret is a piece of the secret (and of its
    entropy), while 32 bits of a hash of a high-entropy value give nothing to
    guess from, yet still let an admin check it is the one they were given:
    `printf %s "$SECRET" | sha256sum | cut -c1-8`.

    `status` (when asked for) is "ok", "old key" (readable, but not with the
    first key: `rotate` fixes it), "unreadable" (no key decrypts it) or "no key".
    """

    user: str
    provider: str
    fields: tuple[str, ...]
    id_tail: str | None
    fingerprint: str
    set_at: datetime
    set_by: str
    status: str | None = None

    @property
    def id_hint(self) -> str:
        return f"…{self.id_tail}" if self.id_tail else "—"


def fingerprint(secrets: Iterable[str]) -> str:
    """sha256:<8 hex> of the secret values (one secret: of that value alone)."""
    digest = hashlib.sha256("\n".join(secrets).encode()).hexdigest()
    return f"sha256:{digest[:FINGERPRINT_HEX]}"


def id_tail(value: str | None) -> str | None:
    # Too short an id would be mostly shown by its tail; show nothing then.
    if not value or len(value) < 2 * ID_TAIL:
        return None
    return value[-ID_TAIL:]


def check_user(user: str) -> str:
    if not isinstance(user, str) or not user or len(user) > 255:
        raise InvalidCredentials(f"user name must be 1 to 255 characters (got {user!r})")
    if any(c.isspace() or not c.isprintable() for c in user):
        raise InvalidCredentials(f"user name must not contain spaces or control characters (got {user!r})")
    if user != user.lower():
        # JupyterHub lower-cases user names at login; "Alice" would never match.
        raise InvalidCredentials(f"user name must be lower-case, as JupyterHub stores it (got {user!r})")
    return user


def _utc(value: datetime) -> datetime:
    # sqlite hands back naive datetimes; everything stored here is UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _keeper(keys) -> tuple[CryptKeeper | None, str | None]:
    """A CryptKeeper for `keys` (None: $JUPYTERHUB_CRYPT_KEY), or why there is none.

    A CryptKeeper of our own, not JupyterHub's singleton, so that the CLI and
    tests never touch the hub's instance; the hub passes its own keys in.
    """
    if keys is None:
        keys = os.environ.get(KEY_ENV, "")
    if isinstance(keys, (str, bytes)):
        keys = keys.decode() if isinstance(keys, bytes) else keys
        keys = [k.strip() for k in keys.split(";") if k.strip()]
    keys = list(keys)
    if not keys:
        return None, f"credentials are unavailable: {KEY_ENV} is not set"
    try:
        keeper = CryptKeeper(config=Config(), keys=keys)
        keeper.check_available()
    except ValueError:
        # Never include the key: the message is printed and may be logged.
        return None, (
            f"credentials are unavailable: {KEY_ENV} is malformed (each ;-separated key must be "
            "32 bytes, hex- or base64-encoded, as `openssl rand -hex 32` makes)"
        )
    except EncryptionUnavailable as error:
        return None, f"credentials are unavailable: {error}"
    return keeper, None


class CredentialStore:
    def __init__(self, db_url: str, keys: str | Iterable[str | bytes] | None = None, engine: sa.Engine | None = None):
        """Open (and if needed create the table in) the hub database at `db_url`.

        `keys`: `;`-separated string or list, first encrypts; None reads
        $JUPYTERHUB_CRYPT_KEY. A missing or malformed key is not an error here.
        """
        self.engine = engine or _engine(db_url)
        self._keeper, self._key_problem = _keeper(keys)
        metadata.create_all(self.engine, tables=[credentials_table], checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "CredentialStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- keys ---------------------------------------------------------------

    @property
    def key_problem(self) -> str | None:
        """Why values cannot be read or written (no/malformed key), else None."""
        return self._key_problem

    def _fernet(self):
        if self._keeper is None:
            raise CredentialsUnavailable(self._key_problem)
        return self._keeper.fernet

    def _encrypt(self, user: str, provider: str, values: dict[str, str]) -> str:
        payload = {"user": user, "provider": provider, "values": values}
        return self._fernet().encrypt(json.dumps(payload).encode()).decode("ascii")

    def _decrypt(self, user: str, provider: str, token: str) -> dict[str, str]:
        try:
            payload = json.loads(self._fernet().decrypt(token.encode("ascii")))
        except InvalidToken:
            raise CredentialsUnavailable(
                f"credentials are unavailable: {KEY_ENV} does not decrypt the stored credentials "
                f"({user}/{provider}); was the key replaced without keeping the old one until "
                "`gemhub credentials rotate`?"
            ) from None
        if payload.get("user") != user or payload.get("provider") != provider:
            raise CredentialsUnavailable(
                f"credentials are unavailable: the stored credentials for {user}/{provider} "
                "were encrypted for another user or provider; refusing them"
            )
        return payload["values"]

    # -- values -------------------------------------------------------------

    def set(self, user: str, provider: str, values: Mapping[str, str | None], by: str) -> Summary:
        """Validate, encrypt and store (replacing any earlier one); returns its Summary."""
        spec = get_provider(provider)
        user = check_user(user)
        clean = spec.validate(values)
        by = (by or "").strip() or "unknown"
        meta = {
            "fields": list(clean),
            "id_tail": id_tail(clean.get(spec.id_field)) if spec.id_field else None,
            "fingerprint": fingerprint(clean[f.name] for f in spec.secret_fields if f.name in clean),
        }
        row = {
            "ciphertext": self._encrypt(user, provider, clean),
            "meta": meta,
            "set_at": datetime.now(timezone.utc).replace(microsecond=0),
            "set_by": by[:255],
        }
        t = credentials_table
        where = (t.c.username == user) & (t.c.provider == provider)
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(t.update().where(where).values(**row)).rowcount == 0:
                        conn.execute(t.insert().values(username=user, provider=provider, **row))
                break
            except sa.exc.IntegrityError:
                # Someone inserted the same (user, provider) between our update and insert.
                if attempt:
                    raise
        return self._summary({"username": user, "provider": provider, **row})

    def get(self, user: str, provider: str) -> dict[str, str] | None:
        """The decrypted values, or None when none are stored."""
        get_provider(provider)
        t = credentials_table
        with self.engine.connect() as conn:
            token = conn.execute(
                sa.select(t.c.ciphertext).where((t.c.username == user) & (t.c.provider == provider))
            ).scalar_one_or_none()
        return None if token is None else self._decrypt(user, provider, token)

    def environment(self, user: str) -> dict[str, str]:
        """Every environment variable `user`'s server gets from their stored credentials.

        Raises CredentialsUnavailable if any of them cannot be decrypted; rows of
        providers no longer in the registry are ignored.
        """
        t = credentials_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.provider, t.c.ciphertext).where(t.c.username == user).order_by(t.c.provider)
            ).all()
        env: dict[str, str] = {}
        for provider, token in rows:
            try:
                spec = get_provider(provider)
            except InvalidCredentials:
                continue
            env.update(spec.environment(self._decrypt(user, provider, token)))
        return env

    def secret_values(self) -> list[str]:
        """Every stored secret value (not ids), for leak guards that must recognise them.

        Rows that cannot be decrypted are skipped: a guard without a key can
        still check token-like patterns, and must not stop a build."""
        t = credentials_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.username, t.c.provider, t.c.ciphertext)).all()
        secrets = []
        for user, provider, token in rows:
            try:
                spec = get_provider(provider)
                values = self._decrypt(user, provider, token)
            except (InvalidCredentials, CredentialsUnavailable):
                continue
            secrets += [values[f.name] for f in spec.secret_fields if values.get(f.name)]
        return secrets

    def unset(self, user: str, provider: str | None = None) -> int:
        """Remove one provider's credentials of `user` (or all of them); returns how many."""
        t = credentials_table
        where = t.c.username == user
        if provider is not None:
            get_provider(provider)
            where &= t.c.provider == provider
        with self.engine.begin() as conn:
            return conn.execute(t.delete().where(where)).rowcount

    def describe(self, user: str | None = None, check: bool = False) -> list[Summary]:
        """Summaries (never secrets), by user then provider; `check` fills in `status`."""
        t = credentials_table
        query = sa.select(t).order_by(t.c.username, t.c.provider)
        if user is not None:
            query = query.where(t.c.username == user)
        with self.engine.connect() as conn:
            rows = [row._asdict() for row in conn.execute(query)]
        return [self._summary(row, self._status(row) if check else None) for row in rows]

    def _status(self, row: Mapping) -> str:
        if self._keeper is None:
            return "no key"
        try:
            self._decrypt(row["username"], row["provider"], row["ciphertext"])
        except CredentialsUnavailable:
            return "unreadable"
        first = CryptKeeper(config=Config(), keys=self._keeper.keys[:1]).fernet
        try:
            first.decrypt(row["ciphertext"].encode("ascii"))
        except InvalidToken:
            return "old key"
        return "ok"

    @staticmethod
    def _summary(row: Mapping, status: str | None = None) -> Summary:
        meta = row["meta"] or {}
        return Summary(
            user=row["username"],
            provider=row["provider"],
            fields=tuple(meta.get("fields", ())),
            id_tail=meta.get("id_tail"),
            fingerprint=meta.get("fingerprint", ""),
            set_at=_utc(row["set_at"]),
            set_by=row["set_by"],
            status=status,
        )

    def rotate(self) -> int:
        """Re-encrypt every credential with the first key; returns how many.

        All or nothing: if any credential decrypts with none of the keys,
        nothing is changed and CredentialsUnavailable names it.
        """
        fernet = self._fernet()
        t = credentials_table
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(t.c.id, t.c.username, t.c.provider, t.c.ciphertext)
                                .order_by(t.c.username, t.c.provider)).all()
            new, unreadable = {}, []
            for row in rows:
                try:
                    new[row.id] = fernet.rotate(row.ciphertext.encode("ascii")).decode("ascii")
                except InvalidToken:
                    unreadable.append(f"{row.username}/{row.provider}")
            if unreadable:
                raise CredentialsUnavailable(
                    f"credentials are unavailable: {KEY_ENV} does not decrypt {', '.join(unreadable)}; "
                    "nothing was re-encrypted (add the key they were stored with after the new one)"
                )
            for row_id, token in new.items():
                conn.execute(t.update().where(t.c.id == row_id).values(ciphertext=token))
        return len(new)


# How long a write waits for the sqlite file's lock. The hub writes to the same file; during a
# spawn storm (10 users starting at once) its writes kept the lock past sqlite's default 5 s and
# the pre-spawn hook's read failed with "database is locked", failing that user's spawn.
SQLITE_BUSY_TIMEOUT = 60


def _engine(db_url: str) -> sa.Engine:
    kwargs: dict = {"pool_pre_ping": True}
    if db_url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        if db_url.endswith(":memory:") or db_url in ("sqlite://", "sqlite:///"):
            kwargs["poolclass"] = StaticPool
    return sa.create_engine(db_url, **kwargs)
