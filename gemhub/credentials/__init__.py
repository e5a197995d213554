"""Per-user credentials (Sentinel Hub, meteoblue, S3): stored encrypted, never shown back.

`providers` says what each provider needs and which environment variables
it becomes; `store` keeps the values encrypted in the hub database; `keys`
finds (or, for the embedded hub, makes) the key they are encrypted with.

The store (SQLAlchemy, JupyterHub's crypto) is imported on first use, so
that every `gemhub` command does not pay for it at start.
"""

from .providers import PROVIDERS, InvalidCredentials, Provider, UnknownProvider, get_provider

_FROM_STORE = ("CredentialStore", "CredentialsUnavailable", "Summary")

__all__ = ["PROVIDERS", "InvalidCredentials", "Provider", "UnknownProvider", "get_provider", *_FROM_STORE]


def __getattr__(name: str):
    if name in _FROM_STORE:
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
