"""The authenticator behind `auth.type: demo`."""

from __future__ import annotations

from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from . import demo_passwords


class DemoAuthenticator(Authenticator):
    """Listed users, each with their own generated password (see demo_passwords)."""

    passwords_file = Unicode(config=True, help="JSON file of scrypt hashes, one per user.")

    async def authenticate(self, handler, data):
        username = self.normalize_username(data.get("username", ""))
        stored = demo_passwords.read(Path(self.passwords_file)).get(username)
        if stored and demo_passwords.verify(data.get("password", ""), stored):
            return username
        self.log.warning("Failed demo login for %r", username)
        return None
