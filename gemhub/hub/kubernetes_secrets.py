"""Per-user credentials on Kubernetes: one Secret per user, referenced from the pod.

A pod spec is readable by anyone allowed to `get pods` in the namespace (and
ends up in `kubectl describe`, audit logs and backups), so on KubeSpawner the
user's values never go into `env[].value`. Instead, at each spawn:

- the user's values are written to the Secret `gemhub-credentials-<user>`
  (created, or replaced when it exists; deleted when the user has none left),
- the pod gets `env[].valueFrom.secretKeyRef` entries naming that Secret, one
  per variable, so the container sees the same `SH_CLIENT_ID`/`SH_CLIENT_SECRET`
  environment as on the other targets.

The hub's service account needs create/replace/delete on secrets in the
user namespace (z2jh's hub Role grants this already).
"""

from __future__ import annotations

import base64

LABELS = {
    "app.kubernetes.io/managed-by": "gemhub",
    "app.kubernetes.io/component": "user-credentials",
}


def safe_slug(name: str, max_length: int) -> str:
    # kubespawner is imported only on the Kubernetes target (it pulls in kubernetes_asyncio)
    from kubespawner.slugs import safe_slug as kubespawner_slug

    return kubespawner_slug(name, max_length=max_length)


def secret_name(username: str) -> str:
    """A valid, collision-free object name for `username` (kubespawner's own slug rules)."""
    return f"gemhub-credentials-{safe_slug(username, max_length=40)}"


def secret_body(name: str, username: str, values: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "labels": {**LABELS, "hub.jupyter.org/username": safe_slug(username, max_length=63)},
        },
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(values.items())},
    }


def secret_refs(name: str, variables) -> dict[str, dict]:
    """KubeSpawner environment entries (full EnvVar dicts) reading each variable from the Secret."""
    return {
        key: {"name": key, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for key in sorted(variables)
    }


def _status(error) -> int | None:
    return getattr(error, "status", None)


async def write_secret(api, namespace: str, username: str, values: dict[str, str]) -> str | None:
    """Make the user's Secret hold exactly `values` (none: no Secret). Returns its name, or None."""
    from kubernetes_asyncio.client.rest import ApiException

    name = secret_name(username)
    if not values:
        try:
            await api.delete_namespaced_secret(name, namespace)
        except ApiException as error:
            if _status(error) != 404:
                raise
        return None
    body = secret_body(name, username, values)
    try:
        await api.create_namespaced_secret(namespace, body)
    except ApiException as error:
        if _status(error) != 409:
            raise
        await api.replace_namespaced_secret(name, namespace, body)
    return name


def is_kubespawner(spawner) -> bool:
    return any(cls.__name__ == "KubeSpawner" for cls in type(spawner).__mro__)
