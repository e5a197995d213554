"""A marketplace build that cannot write (disk full, file too large) publishes nothing, and a
build that can swaps the whole site in at once (gemhub/marketplace/publish.py).

The write errors are real: the build runs as `gemhub marketplace build` in a child process whose
RLIMIT_FSIZE is below the size of one page (Python ignores SIGXFSZ, so the write fails with EFBIG),
or publishes onto a small tmpfs that fills up (ENOSPC; needs root to mount, skipped otherwise).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_marketplace_build import Project, meta, site_text

from gemhub.marketplace.publish import staging_dir
from gemhub.marketplace.service import Catalogue

GEMHUB = Path(sys.executable).parent / "gemhub"
BIG_OUTPUT = "NDVI " * 120_000  # a preview of about 600 kB, over twice the largest other file


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)


def gemhub_build(project: Project, site: Path, *, fsize: int | None = None) -> subprocess.CompletedProcess:
    """`gemhub marketplace build` in a child process, its files limited to `fsize` bytes."""
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([GEMHUB, "marketplace", "build", "--report", project.report(), "--out", site,
                           "--notebooks", project.books], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def assert_no_staging_left(site: Path) -> None:
    assert not staging_dir(site.resolve()).exists()
    assert sorted(p.name for p in site.parent.iterdir() if p.name.startswith(f".{site.name}")) == []


@pytest.mark.slow  # three `gemhub` processes
def test_a_write_error_publishes_nothing_and_says_where(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    site = project.root / "site"
    first = gemhub_build(project, site)
    assert first.returncode == 0, first.stderr
    (site / "readme.txt").write_text("the operator's note beside the site\n")
    before = site_text(site)
    served = Catalogue(site)
    assert [entry.slug for entry in served.index().notebooks] == ["alpha"]

    project.add("beta.ipynb", meta("Beta notebook"), output=BIG_OUTPUT)
    failed = gemhub_build(project, site, fsize=400_000)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert site_text(site) == before, "the published catalogue changed"
    message = failed.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in failed.stdout + failed.stderr, message
    assert f"could not write {staging_dir(site.resolve()) / 'previews' / 'beta.html'}" in message, message
    assert "File too large (errno 27, EFBIG)" in message and f"{site} still serves the previous catalogue" in message
    assert [entry.slug for entry in served.index().notebooks] == ["alpha"]
    assert_no_staging_left(site)

    again = gemhub_build(project, site)
    assert again.returncode == 0, again.stderr
    assert [entry.slug for entry in served.index().notebooks] == ["alpha", "beta"]
    assert (site / "readme.txt").read_text() == "the operator's note beside the site\n"
    assert stat.S_IMODE(site.stat().st_mode) == 0o755


@pytest.fixture
def small_disk(tmp_path):
    """A 768 KiB tmpfs (room for one site of ~300 kB, not for a second with a 600 kB preview),
    unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=768k,mode=0755", "tmpfs", disk],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", disk], check=True, timeout=60)


@pytest.mark.slow  # two `gemhub` processes
def test_a_full_disk_publishes_nothing_and_says_so(project, small_disk):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    site = small_disk / "site"
    assert gemhub_build(project, site).returncode == 0
    before = site_text(site)

    project.add("beta.ipynb", meta("Beta notebook"), output=BIG_OUTPUT)
    failed = gemhub_build(project, site)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert site_text(site) == before, "the published catalogue changed"
    message = failed.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in failed.stderr, message
    assert f"could not write {staging_dir(site)}/" in message
    assert "No space left on device (errno 28, ENOSPC)" in message, message
    assert_no_staging_left(site)
    assert [p.name for p in small_disk.iterdir()] == ["site"]


def test_a_crashed_builds_staging_folder_is_not_published_and_goes_away(project):
    project.add("alpha.ipynb", meta("Alpha notebook"))
    site = project.root / "site"
    staging = staging_dir(site)
    (staging / "previews").mkdir(parents=True)
    (staging / "previews" / "half.html").write_text("<html><body>half writ")
    project.build()
    assert "previews/half.html" not in site_text(site)
    assert_no_staging_left(site)


@pytest.mark.slow  # a dozen builds
def test_readers_never_see_a_missing_or_partial_catalogue_during_swaps(project):
    """A reader hammering the folder while builds alternate between two catalogues only ever
    finds one of the two, whole: index.json, the page and the index the service loads."""
    project.add("alpha.ipynb", meta("Alpha notebook"))
    site = project.root / "site"
    project.build()
    one = [project.results[0]]
    project.add("beta.ipynb", meta("Beta notebook"))
    both = list(project.results)
    versions = {("alpha",), ("alpha", "beta")}

    problems: list[str] = []
    seen: set[tuple[str, ...]] = set()
    reads = 0
    done = threading.Event()

    def reader() -> None:
        nonlocal reads
        catalogue = Catalogue(site)
        while not done.is_set():
            try:
                slugs = tuple(entry["slug"] for entry in json.loads((site / "index.json").read_bytes())["notebooks"])
                page = (site / "index.html").read_text()
                loaded = catalogue.index()
            except Exception as error:  # noqa: BLE001 - any failure to read is what this test looks for
                problems.append(f"{type(error).__name__}: {error}")
                continue
            if slugs not in versions:
                problems.append(f"index.json lists {slugs}")
            if not page.rstrip().endswith("</html>"):
                problems.append(f"index.html cut at {len(page)} characters")
            if loaded is None:
                problems.append("the service found no catalogue")
            seen.add(slugs)
            reads += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for build in range(12):
            project.results = one if build % 2 else both
            project.build()
    finally:
        done.set()
        thread.join(timeout=60)
    assert problems == [], problems[:5]
    assert seen == versions and reads > 12, (seen, reads)
    assert_no_staging_left(site)
