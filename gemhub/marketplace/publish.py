"""Publishing: writing a built site into its folder, and nothing a reader should no longer see.

The folder is what gets served, so a notebook no longer published must leave
with its preview, page and thumbnail; files someone else put beside the site
are left alone (they are swept for credentials like the rest, see `kept_files`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

# Folders only the build writes into: files in them that a build did not write are stale.
MANAGED_DIRS = ("notebooks", "previews", "thumbnails", "static")
# Files of these kinds elsewhere in the folder are published too, so they are swept.
TEXT_SUFFIXES = frozenset({".html", ".json", ".js", ".css", ".txt"})
THUMBNAIL_MAX_WIDTH = 640


@dataclass
class Site:
    """Everything a build publishes, by path relative to the site folder, before it is written."""

    texts: dict[str, str] = field(default_factory=dict)
    thumbnails: dict[str, Path] = field(default_factory=dict)  # target -> the runner's PNG


def _managed(relative: Path) -> bool:
    return bool(relative.parts) and relative.parts[0] in MANAGED_DIRS


def kept_files(out_dir: Path, site: Site) -> dict[str, str]:
    """Text files already in `out_dir` that publishing `site` will neither replace nor remove."""
    if not out_dir.is_dir():
        return {}
    ours = set(site.texts) | set(site.thumbnails)
    kept = {}
    for path in sorted(out_dir.rglob("*")):
        relative = path.relative_to(out_dir)
        if (path.is_file() and path.suffix in TEXT_SUFFIXES and not _managed(relative)
                and relative.as_posix() not in ours):
            kept[relative.as_posix()] = path.read_text(errors="replace")
    return kept


def copy_thumbnail(source: Path, target: Path) -> None:
    """Copy as PNG, scaled down to THUMBNAIL_MAX_WIDTH so catalogue pages stay light."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(source) as image:
            image.load()
            if image.width > THUMBNAIL_MAX_WIDTH:
                height = round(image.height * THUMBNAIL_MAX_WIDTH / image.width)
                image = image.resize((THUMBNAIL_MAX_WIDTH, height), Image.LANCZOS)
            image.save(target, format="PNG", optimize=True)
    except OSError:  # not an image Pillow reads: publish the runner's file as it is
        shutil.copyfile(source, target)


def publish(out_dir: Path, site: Site) -> list[Path]:
    """Write the site; remove files of notebooks an earlier build published but this one does not."""
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for relative, text in site.texts.items():
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    for relative, source in site.thumbnails.items():
        copy_thumbnail(source, out_dir / relative)
        written.append(out_dir / relative)
    keep = {path.resolve() for path in written}
    for name in MANAGED_DIRS:
        folder = out_dir / name
        if folder.is_dir():
            for stale in folder.rglob("*"):
                if stale.is_file() and stale.resolve() not in keep:
                    stale.unlink()
    return written
