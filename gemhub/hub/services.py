"""Hub-managed services: each entry is a process the hub starts, with a role
holding only the scopes it needs."""

from __future__ import annotations

import sys

from ..config import GemhubConfig


def idle_culler(cfg: GemhubConfig) -> tuple[dict, dict] | None:
    culling = cfg.culling
    if not culling.enabled:
        return None
    command = [
        sys.executable,
        "-m",
        "jupyterhub_idle_culler",
        f"--timeout={culling.timeout}",
        f"--cull-every={culling.every}",
        f"--max-age={culling.max_age}",
    ]
    scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
    if culling.users:
        command.append("--cull-users")
        scopes.append("admin:users")
    return {"name": "idle-culler", "command": command}, {
        "name": "idle-culler",
        "services": ["idle-culler"],
        "scopes": scopes,
    }


def apply(c, cfg: GemhubConfig) -> None:
    services, roles = [], []
    for make in (idle_culler,):
        made = make(cfg)
        if made:
            services.append(made[0])
            roles.append(made[1])
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
