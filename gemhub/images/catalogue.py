"""The marketplace catalogue the hub image carries.

Decision (issue #15): the catalogue ships *in the hub image*, not built by a
Kubernetes Job. Publishing means running every notebook headless in the user
environment against the sandbox (`gemhub marketplace build`), which needs the
user image's kernels and the gemhub CLI together; a Job would need both in one
image and would make a fresh install wait minutes for its catalogue. Built
into the hub image, the catalogue is part of the image's content hash: a
changed catalogue gives a new tag, and rolling the hub back rolls the
catalogue back with it. Only a catalogue whose index.json validates is taken.
"""

from __future__ import annotations

from pathlib import Path

from ..marketplace.index import load_index
from ..paths import state_home

# In the build context, and where the image keeps it: gemhub's default site folder under
# GEMHUB_HOME=/srv/gemhub (paths.marketplace_dir), so the hub needs no setting to find it.
IN_CONTEXT = "marketplace"
INDEX = "index.json"


def default_site() -> Path:
    """Where `gemhub marketplace build` (and `make up`) publish by default."""
    return state_home() / "marketplace"


def published(site: Path) -> int | None:
    """How many notebooks the catalogue at `site` publishes; None when nothing was published there.

    A damaged index.json is an error naming the file and field, never silently shipped."""
    if not (site / INDEX).is_file():
        return None
    return len(load_index(site / INDEX).notebooks)
