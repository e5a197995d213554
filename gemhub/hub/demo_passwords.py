"""Generated passwords for the demo login.

A demo hub must be safe by default even on a shared laptop, so there is no
"any password works": each demo user gets a random password that is shown
once, when it is made, and only its scrypt hash is kept on disk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

FILENAME = "demo-passwords.json"


def _hash(password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify(password: str, stored: str) -> bool:
    salt_b64, _, _ = stored.partition("$")
    try:
        salt = base64.b64decode(salt_b64)
    except ValueError:
        return False
    return hmac.compare_digest(_hash(password, salt), stored)


def read(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _write(path: Path, hashes: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(hashes, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def ensure(path: Path, users: list[str]) -> dict[str, str]:
    """Give every listed user a password; return only the newly made ones (in clear)."""
    hashes = read(path)
    created = {}
    for user in users:
        if user not in hashes:
            created[user] = secrets.token_urlsafe(12)
            hashes[user] = _hash(created[user], secrets.token_bytes(16))
    if created:
        _write(path, hashes)
    return created


def reset(path: Path, user: str) -> str:
    """Replace one user's password and return the new one (in clear)."""
    hashes = read(path)
    password = secrets.token_urlsafe(12)
    hashes[user] = _hash(password, secrets.token_bytes(16))
    _write(path, hashes)
    return password
