"""Give each user's server their own stored credentials, at spawn.

`make_pre_spawn_hook(cfg, paths)` returns a `Spawner.pre_spawn_hook` that looks
up the spawning user's credentials (`gemhub.credentials.CredentialStore`, in
the hub database, decrypted with the hub's JUPYTERHUB_CRYPT_KEY) and adds
their environment variables (`SH_CLIENT_ID`, `SH_CLIENT_SECRET`,
`METEOBLUE_API_KEY`, `AWS_*`, ... as `gemhub.credentials.providers` says) to
*this spawner's* environment for this start only:

- The shared `c.Spawner.environment` dict is never mutated: the spawner gets a
  new dict (`{**spawner.environment, **creds}`), so one user's values can never
  reach another user's server.
- A spawner object outlives its server (JupyterHub reuses it for the next
  start), so the values injected last time are taken out again before the
  new ones go in: credentials a user removed are gone at their next start,
  and whatever was there before (an admin's `spawner.environment`) comes back.
- Changes take effect at the next server start; a running server keeps the
  environment it was started with.
- No key, a wrong key or an unreadable database never stop a spawn: the server
  starts without the user's credentials (so it works against the sandbox) and
  the hub logs a WARNING naming the user and the reason, never a value.

Where they come from: the credentials store (set by the user on the
credentials page or by an admin), and, with `auth.oauth.credentials_from_auth_state`,
the identity provider's claims kept in JupyterHub's auth_state. Stored
credentials win over the provider's for the same provider.

How they reach the server, per target:
- local (SimpleLocalProcessSpawner) and docker (DockerSpawner): both pass
  `spawner.environment` to the server process / container, so the values go
  there.
- kubernetes (KubeSpawner): values in a pod spec are readable by anyone who
  may `get pods`, so they go into the user's own Secret and the environment
  gets `valueFrom.secretKeyRef` entries instead (`kubernetes_secrets`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..config import GemhubConfig
from ..paths import Paths
from . import kubernetes_secrets, log_redaction

log = logging.getLogger("gemhub.credentials")

_MISSING = object()
# On the spawner: {env var: (value before we set it or _MISSING, value we set)}.
_INJECTED_ATTR = "_gemhub_injected_credentials"


def hub_keys(paths: Paths):
    """The keys the hub encrypts with: its CryptKeeper's (from $JUPYTERHUB_CRYPT_KEY),
    else the embedded hub's key file if one exists (never made here), else None."""
    try:
        from jupyterhub.crypto import CryptKeeper

        keys = list(CryptKeeper.instance().keys)
    except Exception:
        keys = []
    if keys:
        return keys
    from ..credentials.keys import resolve_key

    return resolve_key(paths.data_dir, create=False)


def lookup_environment(paths: Paths, user: str) -> dict[str, str]:
    """`user`'s credential environment variables; raises CredentialsUnavailable. Blocking."""
    from ..credentials.store import CredentialStore

    store = CredentialStore(paths.db_url, keys=hub_keys(paths) or "")
    try:
        if store.key_problem:
            # Without a key nothing could be read; say so only if there is something to read.
            if not store.describe(user):
                return {}
            from ..credentials.store import CredentialsUnavailable

            raise CredentialsUnavailable(store.key_problem)
        return store.environment(user)
    finally:
        store.close()


def secret_variables() -> set[str]:
    """Environment variables that carry secrets (client secrets, API keys), by provider."""
    from ..credentials.providers import PROVIDERS

    return {field.env for provider in PROVIDERS.values() for field in provider.secret_fields}


def inject(spawner, env_entries: dict, also_redact=()) -> None:
    """Replace what was injected at the previous start with `env_entries`, in a new dict.

    Secret values among the entries, and `also_redact` (on Kubernetes the entries
    are Secret references, but the values still pass through the hub's memory),
    go to the log redactor first."""
    env = dict(spawner.environment)
    for key, (before, ours) in getattr(spawner, _INJECTED_ATTR, {}).items():
        if env.get(key) == ours:
            if before is _MISSING:
                env.pop(key, None)
            else:
                env[key] = before
    record = {key: (env.get(key, _MISSING), value) for key, value in env_entries.items()}
    secret_names = secret_variables()
    log_redaction.REDACTOR.add(
        *also_redact, *(value for key, value in env_entries.items() if key in secret_names and isinstance(value, str))
    )
    env.update(env_entries)
    spawner.environment = env
    setattr(spawner, _INJECTED_ATTR, record)


def merge(stored: dict[str, str], from_provider: dict[str, dict[str, str]]) -> dict[str, str]:
    """Stored credentials, plus the identity provider's for providers the user stored nothing for."""
    from ..credentials.providers import get_provider

    env: dict[str, str] = {}
    for provider_name, values in from_provider.items():
        names = {f.env for f in get_provider(provider_name).fields}
        if not names & set(stored):
            env.update(values)
    env.update(stored)
    return env


async def stored_environment(paths: Paths, user: str, lookup, logger) -> dict[str, str]:
    """The user's stored credentials; nothing (and a WARNING with the reason) if unreadable."""
    try:
        return await asyncio.to_thread(lookup, paths, user)
    except Exception as error:
        from ..credentials.store import CredentialsUnavailable

        if isinstance(error, CredentialsUnavailable):
            reason = str(error).removeprefix("credentials are unavailable: ")
        else:
            # Not str(error): a database error could quote a URL or a statement.
            reason = f"could not read the credentials store ({type(error).__name__})"
        logger.warning(
            "gemhub: credentials unavailable for %s: %s; starting the server without them "
            "(the sandbox, if enabled)", user, reason,
        )
        return {}


async def provider_environment(cfg: GemhubConfig | None, spawner, logger) -> dict[str, dict[str, str]]:
    """Credentials from the identity provider's auth_state, per provider (oauth only)."""
    oauth = cfg.auth.oauth if cfg is not None and cfg.auth.type == "oauth" else None
    if oauth is None or not oauth.credentials_from_auth_state:
        return {}
    from ..credentials.auth_state import environment_from_auth_state

    try:
        auth_state = await spawner.user.get_auth_state()
    except Exception as error:
        logger.warning("gemhub: auth_state of %s unreadable (%s)", spawner.user.name, type(error).__name__)
        auth_state = None
    found, problems = environment_from_auth_state(oauth.credentials_from_auth_state, auth_state)
    for problem in problems:
        logger.warning("gemhub: %s: %s", spawner.user.name, problem)
    return found


async def deliver(spawner, creds: dict[str, str], logger) -> bool:
    """Give the server `creds` the target's way; False (and nothing injected) if that failed."""
    if not kubernetes_secrets.is_kubespawner(spawner):
        inject(spawner, creds)
        return True
    secret_values = [value for key, value in creds.items() if key in secret_variables()]
    user = spawner.user.name
    try:
        name = await kubernetes_secrets.write_secret(spawner.api, spawner.namespace, user, creds)
    except Exception as error:
        status = getattr(error, "status", None)
        logger.warning(
            "gemhub: could not write the credentials Secret for %s (%s%s); starting the server without them",
            user, type(error).__name__, f" {status}" if status else "",
        )
        inject(spawner, {}, secret_values)
        return False
    inject(spawner, kubernetes_secrets.secret_refs(name, creds) if name else {}, secret_values)
    return True


def make_pre_spawn_hook(
    cfg: GemhubConfig | None,
    paths: Paths,
    previous: Callable | None = None,
    lookup: Callable[[Paths, str], dict[str, str]] = lookup_environment,
):
    """A pre_spawn_hook injecting the user's credentials; runs `previous` (another hook) first."""

    async def pre_spawn_hook(spawner) -> None:
        if previous is not None:
            result = previous(spawner)
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result
        user = spawner.user.name
        logger = getattr(spawner, "log", None) or log
        stored = await stored_environment(paths, user, lookup, logger)
        creds = merge(stored, await provider_environment(cfg, spawner, logger))
        if not await deliver(spawner, creds, logger):
            return
        if creds:
            logger.info("gemhub: %s's server gets their credentials (%s)", user, ", ".join(sorted(creds)))
        else:
            logger.info("gemhub: %s has no credentials; their server uses the sandbox", user)

    return pre_spawn_hook


def apply(c, cfg: GemhubConfig, paths: Paths) -> None:
    """Set c.Spawner.pre_spawn_hook, keeping (and running first) any hook already configured."""
    previous = c.Spawner.pre_spawn_hook if "pre_spawn_hook" in c.Spawner else None
    c.Spawner.pre_spawn_hook = make_pre_spawn_hook(cfg, paths, previous=previous)
