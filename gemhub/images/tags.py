"""Image names and tags.

Every build gets two tags: `gemhub/<name>:<12 hex>`, the first twelve digits
of the content hash of its staged context (chartpress-style: equal inputs,
equal tag; anything that changes the image changes the tag), and the moving
`gemhub/<name>:latest`, which examples/docker.yaml names. Builds that move
:latest also move `gemhub/<name>:<gemhub version>`, the tag the Helm chart's
images default to (its appVersion, which tests/test_helm_chart.py keeps equal
to gemhub's version), so a chart installed with default values names images a
build produced.
"""

from __future__ import annotations

from .. import __version__
from . import repository

HASH_DIGITS = 12
MOVING_TAG = "latest"


def content_tag(content_hash: str) -> str:
    return content_hash[:HASH_DIGITS]


def references(name: str, content_hash: str) -> tuple[str, str]:
    """(the content-hash reference, the moving reference)."""
    return f"{repository(name)}:{content_tag(content_hash)}", f"{repository(name)}:{MOVING_TAG}"


def release_reference(name: str) -> str:
    """The tag of this gemhub release: what the chart's default values name."""
    return f"{repository(name)}:{__version__}"
