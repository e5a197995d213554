"""The one check for credentials in everything a marketplace build would publish.

A notebook reaches readers as its preview (the executed notebook as HTML), its
index entry (index.json and the catalogue) and its page. The executed and
source notebooks are swept as well, decoded: HTML escaping can hide a pattern
(`api_key = &quot;...&quot;`) that the notebook itself shows plainly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..secrets_scan import find_secrets

# What a notebook publishes, in the order a leak is reported (the first one that leaks).
EXECUTED, PREVIEW, PAGE = "executed notebook", "preview", "page"
ARTIFACTS = (EXECUTED, PREVIEW, PAGE)


@dataclass(frozen=True)
class Leak:
    artifact: str
    found: list[str]  # names of what was found, never the values


@dataclass
class Leaks:
    notebooks: dict[str, Leak] = field(default_factory=dict)  # by slug
    files: dict[str, list[str]] = field(default_factory=dict)  # files of the site as a whole, by relative path


def sweep(notebooks: dict[str, dict[str, list[str]]], files: dict[str, str],
          known: list[str] | tuple[str, ...] = ()) -> Leaks:
    """`notebooks`: for each slug, the texts of each of its artifacts; `files`: every other
    text that would be published, by path."""
    leaks = Leaks()
    for slug, artifacts in notebooks.items():
        leak = next((Leak(artifact, found) for artifact in ARTIFACTS for text in artifacts.get(artifact, [])
                     if (found := find_secrets(text, known))), None)
        if leak:
            leaks.notebooks[slug] = leak
    for path, text in files.items():
        found = find_secrets(text, known)
        if found:
            leaks.files[path] = found
    return leaks
