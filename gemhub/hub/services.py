"""Hub-managed services: each entry is a process the hub starts, with a role
holding only the scopes it needs."""

from __future__ import annotations

import os
import sys

from gemhub_sandbox.contract import clients_environment
from jupyterhub.crypto import KEY_ENV

from ..config import GemhubConfig
from ..paths import CONFIG_ENV, CONFIG_OVERRIDES_ENV, STATE_HOME_ENV, Paths
from ..service_address import BIND_IP_ENV, http_url
from . import sandbox_client

# libpq settings the credentials service needs to open the same PostgreSQL database as the hub
# (the chart gives the hub PGPASSWORD from its Secret); the hub passes a managed service only
# the environment its entry lists, so these are copied from the hub's own when it has them.
DB_ENV_PASSED = ("PGPASSWORD", "PGSSLMODE")


def _reached_at(cfg: GemhubConfig, port: int) -> dict[str, object]:
    """A proxied service's URL (where the proxy and the hub connect) and the address it binds."""
    return {
        "url": http_url(cfg.hub.services_connect_host, port),
        "environment": {BIND_IP_ENV: cfg.hub.services_bind_ip},
    }


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
    directly (spawners.sandbox_url), so it is not proxied and needs no hub API scopes."""
    box = cfg.sentinelhub.sandbox
    if not box.enabled or box.url:
        return None
    client_id, secret = sandbox_client.ensure(paths.data_dir)
    command = [sys.executable, "-m", "gemhub_sandbox", "serve", "--host", cfg.hub.services_bind_ip,
               "--port", str(box.port)]
    return {
        "name": "sandbox",
        "command": command,
        "environment": clients_environment({client_id: secret}),
    }, {"name": "sandbox", "services": ["sandbox"], "scopes": []}


def marketplace(cfg: GemhubConfig, paths: Paths) -> tuple[dict, ...] | None:
    """The catalogue at /services/marketplace/. It only identifies users through
    HubOAuth, so its own token gets no scopes at all."""
    if not cfg.marketplace.enabled:
        return None
    service = _reached_at(cfg, cfg.marketplace.port)
    service["environment"]["GEMHUB_MARKETPLACE_DIR"] = str(paths.marketplace_dir)
    return {
        "name": "marketplace",
        **service,
        "command": [sys.executable, "-m", "gemhub.marketplace.service"],
        "oauth_no_confirm": True,
        "display": True,
        "info": {"description": "Curated, tested Earth-observation notebooks"},
    }, {"name": "marketplace", "services": ["marketplace"], "scopes": []}


def credentials(cfg: GemhubConfig, paths: Paths) -> tuple[dict, ...] | None:
    """Users' own provider credentials at /services/credentials/ (page and admin API).

    Its own token gets no scopes: HubAuth identifies a browser (OAuth) or an
    API caller by asking /hub/api/user *with the caller's token*, and that
    answer always includes the caller's name, `admin` flag and scopes, which is
    all the service decides on. It reads and writes the hub database itself
    (its own table), so it gets db_url and the crypt key; the hub passes a
    service only the environment listed here.
    """
    if not cfg.hub.credentials_service:
        return None
    from ..credentials.keys import resolve_key

    service = _reached_at(cfg, cfg.hub.credentials_port)
    environment = service["environment"]
    environment["GEMHUB_CREDENTIALS_DB_URL"] = paths.db_url
    environment.update({name: os.environ[name] for name in DB_ENV_PASSED if os.environ.get(name)})
    key = resolve_key(paths.data_dir, create=True)
    if key:
        environment[KEY_ENV] = key
    return {
        "name": "credentials",
        **service,
        "command": [sys.executable, "-m", "gemhub.credentials.service"],
        "oauth_no_confirm": True,
        "display": True,
        "info": {"description": "Your Sentinel Hub, meteoblue and S3 credentials"},
    }, {"name": "credentials", "services": ["credentials"], "scopes": []}


def curation_wanted(cfg: GemhubConfig, paths: Paths) -> bool:
    """marketplace.curate, where unset: on for the local spawner when there is a notebooks folder."""
    wanted = cfg.marketplace.curate
    if wanted is None:
        wanted = cfg.spawner.type == "local"
    return bool(wanted and cfg.marketplace.enabled and paths.notebooks_dir is not None)


def curation(cfg: GemhubConfig, paths: Paths) -> tuple[dict, ...] | None:
    """`gemhub marketplace curate`: tests the curated notebooks and publishes each as it passes
    (gemhub/marketplace/curation.py), so the hub need not wait for them. Not proxied, no
    scopes. It loads the same config as the hub, so it gets what the hub was started with."""
    if not curation_wanted(cfg, paths):
        return None
    from ..credentials.keys import resolve_key

    passed = (CONFIG_ENV, CONFIG_OVERRIDES_ENV, STATE_HOME_ENV, *DB_ENV_PASSED)
    environment = {name: os.environ[name] for name in passed if os.environ.get(name)}
    key = resolve_key(paths.data_dir, create=True)  # to leave out any user's stored secret, as the build does
    if key:
        environment[KEY_ENV] = key
    return {
        "name": "curation",
        "command": [sys.executable, "-m", "gemhub", "marketplace", "curate", "--keep-running"],
        "environment": environment,
    }, {"name": "curation", "services": ["curation"], "scopes": []}


# Under the data dir: one pid file per managed service (gemhub/hub/service_pids.py).
SERVICE_PID_DIR = "service-pids"

# What every user may open (HubOAuth checks these access scopes), per service.
USER_ACCESS = ("marketplace", "credentials")


def apply(c, cfg: GemhubConfig, paths: Paths) -> None:
    services, roles = [], []
    for make in (idle_culler, sandbox, marketplace, credentials, curation):
        made = make(cfg, paths)
        if made:
            services.append(made[0])
            roles.extend(made[1:])
    started = {service["name"] for service in services}
    access = [f"access:services!service={name}" for name in USER_ACCESS if name in started]
    if access:
        # One `user` role for all of them: JupyterHub keeps only one definition per role name.
        roles.append({"name": "user", "scopes": ["self", *access]})
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
    # where the hub (gemhub.hub.app) notes their pids, to stop what a killed hub left running
    c.GemhubHub.service_pid_dir = str(paths.data_dir / SERVICE_PID_DIR)
