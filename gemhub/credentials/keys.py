"""The key that encrypts stored credentials.

Deployments set JUPYTERHUB_CRYPT_KEY themselves (a Kubernetes secret, say),
exactly as JupyterHub documents it: `;`-separated keys, the first encrypts,
any of them decrypts, so a key is rotated by prepending the new one.

The embedded hub has nobody to set it, so it gets a generated key in a
private file in its data folder, made once like the sandbox client and the
cookie secret: `gemhub up` exports it to the hub, and `gemhub credentials`
reads the same file, so both always agree. A deployment that sets the
variable never gets (or reads) a local key file.

Keys are never logged or printed: callers get them to put in an environment,
nothing else.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from jupyterhub.crypto import KEY_ENV

FILENAME = "crypt-key"


def read_local_key(data_dir: Path) -> str | None:
    try:
        return (Path(data_dir) / FILENAME).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_local_key(data_dir: Path) -> str:
    """The embedded hub's key from <data_dir>/crypt-key, made (0600) if missing.

    32 random bytes, hex-encoded: what `openssl rand -hex 32` gives and what
    JupyterHub's CryptKeeper accepts.
    """
    existing = read_local_key(data_dir)
    if existing:
        return existing
    path = Path(data_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    try:
        # O_EXCL: two commands starting at once must not each write their own key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_local_key(data_dir) or _unreadable(path)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _unreadable(path: Path) -> str:
    raise RuntimeError(f"{path} exists but is empty; remove it to generate a new key")


def resolve_key(data_dir: Path, environ: Mapping[str, str] | None = None, create: bool = True) -> str | None:
    """$JUPYTERHUB_CRYPT_KEY when set, else the local key (made when `create`).

    `gemhub up` uses this to export the key to the hub; the CLI uses it so that
    it encrypts with the key the hub will decrypt with.
    """
    environ = os.environ if environ is None else environ
    if environ.get(KEY_ENV, "").strip():
        return environ[KEY_ENV]
    return ensure_local_key(data_dir) if create else read_local_key(data_dir)
