"""The providers a user can keep credentials for, and what each one needs.

One small typed description per provider says which fields it has, which of
them are secret, which environment variables they become in the user's
server, and what a plausible value looks like. The store, the CLI and (later)
the hub page and spawn hook all read this registry, so adding a provider is
one entry here and nothing else.

Validation errors name the field and, for non-secret fields only, the value:
a mistyped secret must not end up in a terminal, a log or an error page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Printable ASCII without whitespace: what OAuth client ids/secrets, API keys
# and S3 keys look like. A stray space or newline from a copy-paste is the
# most common way to store credentials that then fail at the first request.
_TOKEN = re.compile(r"^[\x21-\x7e]+$")
_URL = re.compile(r"^https?://[^/\s]+\S*$")


class InvalidCredentials(ValueError):
    """A provider's values were missing, unknown or malformed (message is safe to show)."""


class UnknownProvider(InvalidCredentials):
    pass


@dataclass(frozen=True)
class Field:
    name: str
    env: str
    secret: bool
    label: str
    required: bool = True
    min_length: int = 1
    max_length: int = 512
    url: bool = False

    def validate(self, provider: str, value: str) -> str:
        """The value if it is plausible, else InvalidCredentials naming the field."""
        where = f"{provider} {self.name}"
        if not isinstance(value, str) or value == "":
            raise InvalidCredentials(f"{where} is empty")
        # Shown for non-secret fields only; a secret is described, never echoed.
        shown = "" if self.secret else f" (got {value!r})"
        if not _TOKEN.match(value):
            raise InvalidCredentials(f"{where} must not contain spaces or control characters{shown}")
        if not self.min_length <= len(value) <= self.max_length:
            got = "" if self.secret else f" (got {len(value)}: {value!r})"
            raise InvalidCredentials(f"{where} must be {self.min_length} to {self.max_length} characters long{got}")
        if self.url and not _URL.match(value):
            raise InvalidCredentials(f"{where} must be an http(s) URL{shown}")
        return value


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    fields: tuple[Field, ...]
    id_field: str | None = None
    """The non-secret field that identifies the credential (its tail is shown in listings)."""

    @property
    def secret_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.secret)

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.secret)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise InvalidCredentials(f"{self.name} has no field {name!r} (fields: {', '.join(self.field_names)})")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def validate(self, values: Mapping[str, str | None]) -> dict[str, str]:
        """Checked values, in field order, with empty optional fields dropped."""
        unknown = sorted(set(values) - set(self.field_names))
        if unknown:
            raise InvalidCredentials(
                f"{self.name} has no field {unknown[0]!r} (fields: {', '.join(self.field_names)})"
            )
        clean = {}
        for f in self.fields:
            value = values.get(f.name)
            if value is None and f.required:
                raise InvalidCredentials(f"{self.name} {f.name} is required")
            if value in (None, "") and not f.required:
                continue
            clean[f.name] = f.validate(self.name, value)
        return clean

    def environment(self, values: Mapping[str, str]) -> dict[str, str]:
        """The environment variables a user's server gets for these values."""
        return {f.env: values[f.name] for f in self.fields if values.get(f.name)}


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            name="sentinelhub",
            title="Sentinel Hub (OAuth client)",
            fields=(
                Field("client_id", "SH_CLIENT_ID", secret=False, label="OAuth client id", min_length=4, max_length=256),
                Field("client_secret", "SH_CLIENT_SECRET", secret=True, label="OAuth client secret",
                      min_length=8, max_length=512),
            ),
            id_field="client_id",
        ),
        Provider(
            name="meteoblue",
            title="meteoblue API",
            fields=(Field("api_key", "METEOBLUE_API_KEY", secret=True, label="API key", min_length=8, max_length=256),),
        ),
        Provider(
            name="s3",
            title="S3 object storage (eo-grow)",
            fields=(
                Field("access_key_id", "AWS_ACCESS_KEY_ID", secret=False, label="access key id",
                      min_length=3, max_length=128),
                Field("secret_access_key", "AWS_SECRET_ACCESS_KEY", secret=True, label="secret access key",
                      min_length=8, max_length=256),
                Field("endpoint_url", "AWS_ENDPOINT_URL", secret=False, label="endpoint URL", required=False,
                      max_length=2048, url=True),
            ),
            id_field="access_key_id",
        ),
    )
}


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except (KeyError, TypeError):
        raise UnknownProvider(f"unknown provider {name!r} (known: {', '.join(sorted(PROVIDERS))})") from None
