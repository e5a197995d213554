"""gemhub's container images, built from this checkout, for tests that run them.

`built_image("user")` returns a reference such as `gemhub/user:3f9c0a1b2d4e`
whose tag is the hash of everything that goes into the image, so a second call
(in this run or a later one) finds the image already there and returns at once;
only a change to the image's inputs causes a rebuild. The base comes from
`gemhub images base` (debootstrap + docker import), so nothing is pulled from a
registry.

A cold build of the user image takes several minutes on two cores: tests that
call this should carry `@pytest.mark.timeout(3600)` (pytest-timeout counts
fixture setup in the test's time).
"""

from __future__ import annotations

import functools

from gemhub.images import BASE_REFERENCE, IMAGE_NAMES
from gemhub.images.base import ensure_base
from gemhub.images.build import build_image
from gemhub.images.docker import require_daemon


@functools.cache
def built_image(name: str) -> str:
    """Build (or reuse) gemhub/<name> ("user", "hub" or "proxy") and return its content-hash reference."""
    if name not in IMAGE_NAMES:
        raise ValueError(f"unknown image {name!r}: expected one of {', '.join(IMAGE_NAMES)}")
    require_daemon()
    base = ensure_base(BASE_REFERENCE)
    return build_image(name, base_image=base).reference
