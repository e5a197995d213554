"""The OAuth client users without their own credentials share on the sandbox.

Sandbox imagery is synthetic, so one generated client for everyone is enough;
it is still generated per hub (never a fixed string in the repo) and kept in a
private file, so it cannot be used against anything else.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

FILENAME = "sandbox-client.json"


def ensure(data_dir: Path) -> tuple[str, str]:
    path = data_dir / FILENAME
    try:
        data = json.loads(path.read_text())
        return data["client_id"], data["client_secret"]
    except (FileNotFoundError, KeyError, ValueError):
        pass
    client_id, secret = f"sandbox-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"client_id": client_id, "client_secret": secret}, f)
    return client_id, secret
