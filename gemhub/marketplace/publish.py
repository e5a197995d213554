"""Publishing: swapping a fully written site in for the one being served, in one step.

The folder is what gets served (the marketplace service reads index.json and
the pages from it, the hub image copies it), so readers must only ever see a
complete catalogue: the previous one or the new one, never a mix, never a
missing index.json, and after a failed write (disk full, quota, EFBIG) still
the previous one. So a build never writes into the served folder. It writes
everything into a sibling staging folder, `.<name>.staging`, and then
exchanges the two folders atomically with renameat2(RENAME_EXCHANGE) (Linux;
ext4, xfs, btrfs, tmpfs and overlayfs support it). The served path stays a
real folder, so nothing that reads it needs to know about the swap. The
previous site ends up in the staging folder and is removed; a staging folder
left behind by a crashed build is removed by the next one. Where the kernel
or filesystem cannot exchange (e.g. NFS), the old folder is renamed aside and
the new one renamed in: a moment without a site, never a half-written one.

A notebook no longer published is simply not in the new folder; files
someone else put beside the site (outside MANAGED_DIRS) are carried over into
it, and swept for credentials like the rest (see `kept_files`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .summary import BuildError

# Folders only the build writes into: files in them that a build did not write are stale.
MANAGED_DIRS = ("notebooks", "previews", "thumbnails", "static")
# Files of these kinds elsewhere in the folder are published too, so they are swept.
TEXT_SUFFIXES = frozenset({".html", ".json", ".js", ".css", ".txt"})
THUMBNAIL_MAX_WIDTH = 640
SITE_MODE = 0o755  # the staging folder is created private; the site is world-readable like any web root
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


class PublishError(BuildError):
    """Writing or swapping in the new site failed; the previous site is still the one served."""


@dataclass
class Site:
    """Everything a build publishes, by path relative to the site folder, before it is written."""

    texts: dict[str, str] = field(default_factory=dict)
    thumbnails: dict[str, Path] = field(default_factory=dict)  # target -> the runner's PNG


def _managed(relative: Path) -> bool:
    return bool(relative.parts) and relative.parts[0] in MANAGED_DIRS


def _kept(out_dir: Path, site: Site) -> list[Path]:
    """Files in `out_dir` that are not the build's: publishing carries them over."""
    if not out_dir.is_dir():
        return []
    ours = set(site.texts) | set(site.thumbnails)
    return [path for path in sorted(out_dir.rglob("*"))
            if (path.is_file() or path.is_symlink()) and not _managed(path.relative_to(out_dir))
            and path.relative_to(out_dir).as_posix() not in ours]


def kept_files(out_dir: Path, site: Site) -> dict[str, str]:
    """Text files already in `out_dir` that publishing `site` will carry over (to be swept)."""
    return {path.relative_to(out_dir).as_posix(): path.read_text(errors="replace")
            for path in _kept(out_dir, site) if path.is_file() and path.suffix in TEXT_SUFFIXES}


def staging_dir(out_dir: Path) -> Path:
    """Where a build writes before the swap: beside the site, so the swap is a rename on one filesystem."""
    return out_dir.parent / f".{out_dir.name}.staging"


def copy_thumbnail(source: Path, target: Path) -> None:
    """Copy as PNG, scaled down to THUMBNAIL_MAX_WIDTH so catalogue pages stay light."""
    from PIL import Image

    try:
        with Image.open(source) as image:
            image.load()
            if image.width > THUMBNAIL_MAX_WIDTH:
                height = round(image.height * THUMBNAIL_MAX_WIDTH / image.width)
                image = image.resize((THUMBNAIL_MAX_WIDTH, height), Image.LANCZOS)
            image.save(target, format="PNG", optimize=True)
            return
    except OSError:  # not an image Pillow reads (or the write failed): publish the runner's file as it is
        pass
    shutil.copyfile(source, target)


def _write(target: Path, write: Callable[[Path], None]) -> None:
    """Run `write`, naming `target` in any OSError: a failed write() or close() carries no file name."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(target)) from None


def _exchange(new: Path, live: Path) -> None:
    """Swap two folders in one step (renameat2 RENAME_EXCHANGE); OSError(EINVAL...) where not possible."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(live), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(live))


def swap_in(new: Path, live: Path) -> None:
    """Make `new` the folder at `live`; the previous one (if any) is left at `new`'s path."""
    if not live.exists() and not live.is_symlink():
        os.rename(new, live)
        return
    try:
        _exchange(new, live)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise
        aside = new.with_name(new.name + ".old")
        os.rename(live, aside)
        os.rename(new, live)
        os.rename(aside, new)


def _remove(folder: Path) -> None:
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


def publish(out_dir: Path, site: Site) -> list[Path]:
    """Write the site beside `out_dir` and swap it in. Raises PublishError, naming the path and
    the error, when anything cannot be written; the site at `out_dir` is then unchanged."""
    live = out_dir.resolve()  # absolute, and the folder a link points at: that is what gets swapped
    staging = staging_dir(live)
    try:
        _remove(staging)  # left by a build that crashed: nobody serves it
        staging.mkdir(parents=True)
        os.chmod(staging, SITE_MODE)
        for relative, text in site.texts.items():
            _write(staging / relative, lambda target, text=text: target.write_text(text, encoding="utf-8"))
        for relative, source in site.thumbnails.items():
            _write(staging / relative, lambda target, source=source: copy_thumbnail(source, target))
        for path in _kept(live, site):
            _write(staging / path.relative_to(live),
                   lambda target, path=path: shutil.copy2(path, target, follow_symlinks=False))
        swap_in(staging, live)
    except OSError as error:
        try:
            _remove(staging)
        except OSError:
            pass  # the message below matters more; the next build removes it
        where = error.filename or staging
        raise PublishError(f"could not write {where}: {error.strerror or error} (errno {error.errno}"
                           f"{', ' + errno.errorcode[error.errno] if error.errno in errno.errorcode else ''}); "
                           f"nothing published, {out_dir} still serves the previous catalogue") from None
    try:
        _remove(staging)  # the previous site
    except OSError:
        pass  # harmless: the next build removes it
    return [out_dir / relative for relative in [*site.texts, *site.thumbnails]]
