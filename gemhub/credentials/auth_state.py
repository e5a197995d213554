"""Credentials that come from the identity provider instead of the credentials page.

When people log in through the same organisation that serves the data (a
Keycloak realm whose user attributes hold each person's Sentinel Hub OAuth
client, mapped into the userinfo claims), GenericOAuthenticator already keeps
what the provider said in JupyterHub's encrypted auth_state. The deployment
names where each provider field is (`auth.oauth.credentials_from_auth_state`)
and this module reads them out, checked like any stored credential.

Nothing read here is written anywhere: it lives in auth_state (encrypted with
JUPYTERHUB_CRYPT_KEY) and reaches the user's server at spawn only.
"""

from __future__ import annotations

from collections.abc import Mapping

from .providers import InvalidCredentials, get_provider


def value_at(auth_state: Mapping, path: str):
    """auth_state's value at a dotted path, or None where any step is missing."""
    node = auth_state
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node


def environment_from_auth_state(
    mapping: Mapping[str, Mapping[str, str]], auth_state: Mapping | None
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Per provider, the environment its auth_state values give; and why others gave none.

    A provider is left out (with a reason that names fields, never values) when a
    required value is absent or does not look like a credential."""
    found: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    if not mapping:
        return found, problems
    if not auth_state:
        return found, ["no auth_state for this user (log in again, or JUPYTERHUB_CRYPT_KEY is not set)"]
    for provider_name, paths in mapping.items():
        provider = get_provider(provider_name)
        values = {}
        for field_name, path in paths.items():
            value = value_at(auth_state, path)
            if value is not None:
                values[field_name] = value if isinstance(value, str) else str(value)
        try:
            found[provider_name] = provider.environment(provider.validate(values))
        except InvalidCredentials as error:
            problems.append(f"{provider_name} from auth_state: {error}")
    return found, problems
