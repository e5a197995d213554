"""The stored secrets, for the leak guards of the notebook runner and the marketplace.

Those tools publish notebook outputs; an output that shows any user's stored
secret must be refused even when it matches no token pattern. Where there is
no credentials database or no key (CI, a laptop without users), the guards
fall back to patterns alone.
"""

from __future__ import annotations

from pathlib import Path

from ..paths import Paths


def configured_secrets(paths: Paths) -> list[str]:
    from .keys import resolve_key

    key = resolve_key(paths.data_dir, create=False)
    sqlite_file = paths.db_url.removeprefix("sqlite:///") if paths.db_url.startswith("sqlite:///") else None
    if not key or (sqlite_file is not None and not Path(sqlite_file).exists()):
        return []
    from .store import CredentialStore

    try:
        with CredentialStore(paths.db_url, keys=key) as store:
            return store.secret_values()
    except Exception:  # no database yet, or one without the table: nothing stored
        return []
