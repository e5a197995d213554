"""Hub-managed services: each entry is a process the hub starts, with a role
holding only the scopes it needs."""

from __future__ import annotations

import sys

import json

from ..config import GemhubConfig
from ..paths import Paths
from . import sandbox_client


def idle_culler(cfg: GemhubConfig, paths: Paths) -> tuple[dict, dict] | None:
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


def sandbox(cfg: GemhubConfig, paths: Paths) -> tuple[dict, dict] | None:
    """The offline Sentinel Hub, for users without credentials. Kernels call it
    directly on loopback, so it is not proxied and needs no hub API scopes."""
    box = cfg.sentinelhub.sandbox
    if not box.enabled or box.url:
        return None
    client_id, secret = sandbox_client.ensure(paths.data_dir)
    command = [sys.executable, "-m", "gemhub_sandbox", "serve", "--host", "127.0.0.1", "--port", str(box.port)]
    return {
        "name": "sandbox",
        "command": command,
        "environment": {"GEMHUB_SANDBOX_CLIENTS": json.dumps({client_id: secret})},
    }, {"name": "sandbox", "services": ["sandbox"], "scopes": []}


def marketplace(cfg: GemhubConfig, paths: Paths) -> tuple[dict, ...] | None:
    """The catalogue at /services/marketplace/. It only identifies users through
    HubOAuth, so its own token gets no scopes at all."""
    if not cfg.marketplace.enabled:
        return None
    return {
        "name": "marketplace",
        "url": f"http://127.0.0.1:{cfg.marketplace.port}",
        "command": [sys.executable, "-m", "gemhub.marketplace.service"],
        "environment": {"GEMHUB_MARKETPLACE_DIR": str(paths.marketplace_dir)},
        "oauth_no_confirm": True,
        "display": True,
        "info": {"description": "Curated, tested Earth-observation notebooks"},
    }, {"name": "marketplace", "services": ["marketplace"], "scopes": []}, {
        # Every user may open the marketplace (HubOAuth checks this access scope).
        "name": "user",
        "scopes": ["self", "access:services!service=marketplace"],
    }


def apply(c, cfg: GemhubConfig, paths: Paths) -> None:
    services, roles = [], []
    for make in (idle_culler, sandbox, marketplace):
        made = make(cfg, paths)
        if made:
            services.append(made[0])
            roles.extend(made[1:])
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
