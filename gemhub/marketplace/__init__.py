"""The notebook marketplace: index.json, a static catalogue site, and rendering shared with the hub service.

- `index`: the pydantic model of index.json (the single source of its JSON schema).
- `site`: `render_catalogue` / `render_detail`, pure functions of the index and the serving context.
- `build`: `build_site`, used by `gemhub marketplace build`: collect (`collect`), validate, render
  (`preview` for executed notebooks), one credential sweep (`sweep`), publish (`publish`).
"""

from __future__ import annotations

from .index import Index, IndexEntry, IndexEnvironment, IndexValidationError, json_schema, load_index, validate_index
from .site import DEFAULT_LAUNCH_BASE, launch_url, render_catalogue, render_detail

__all__ = [
    "DEFAULT_LAUNCH_BASE",
    "Index",
    "IndexEntry",
    "IndexEnvironment",
    "IndexValidationError",
    "json_schema",
    "launch_url",
    "load_index",
    "render_catalogue",
    "render_detail",
    "validate_index",
]
