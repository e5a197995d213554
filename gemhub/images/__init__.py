"""gemhub's container images: a Debian base made without a registry, and the
user, hub and proxy images built on it.

Each image is built from a staged context holding exactly its inputs (the lock
file, package sources, notebooks), so the tag can be the hash of that context:
the same inputs always give the same tag, a changed notebook gives a new one.
"""

from __future__ import annotations

IMAGE_NAMES = ("user", "hub", "proxy")
REPOSITORY_PREFIX = "gemhub"
BASE_REFERENCE = "gemhub/base:bookworm"
DEFAULT_BASE_IMAGE = "debian:bookworm-slim"


def repository(name: str) -> str:
    return f"{REPOSITORY_PREFIX}/{name}"
