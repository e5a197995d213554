"""The background curation: the hub is up at once, the catalogue fills while people watch.

The hub starts this as a managed service (gemhub.hub.services.curation) instead
of `make up` running every curated notebook before the hub may start. It runs
the curated notebooks with the same runner, cache and report as
`gemhub notebooks test`, and publishes the catalogue again each time a notebook
finishes, with the same build as `gemhub marketplace build`, so a notebook is in
the marketplace the moment it passes. What it is doing goes into the progress
file (progress.py) the marketplace page shows: "testing N of M", and to admins
the failing cell and error of a notebook that failed.

Notebooks unchanged since they last passed are not run again (the runner's
cache), so after a restart the whole catalogue is published in one build at
once. Builds are made by one publisher thread; results that arrive while it
builds are published together by its next build, so a burst of cached results
costs one build, not eleven.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import psutil
from pydantic import ValidationError

from ..notebooks.discovery import notebooks_in
from ..notebooks.metadata import read_meta
from ..notebooks.report import NotebookResult
from ..notebooks.runner import RunOptions, report_for, run
from ..process_family import stop_family
from .build import BuildError, build_site
from .progress import CurationProgress, NotebookProgress, progress_path

log = logging.getLogger(__name__)

RUNS_FOLDER = "curation"  # under the hub's data folder: the curation's executed notebooks, cache and reports
BACKGROUND_NICENESS = 10  # as the hub's service; inherited by papermill, kernels and the sandbox
PARTIAL_REPORT = "curation-report.json"  # in the runs folder: the results so far, what each build reads


def runs_dir(paths) -> Path:
    """Its own folder, not `gemhub notebooks test`'s: a run by hand never races the hub's."""
    return paths.data_dir / RUNS_FOLDER


def stop_children_on_signals() -> None:
    """SIGTERM/SIGINT (the hub stopping its service) also stops the runs: papermill, kernels and
    the runner's sandbox are this process's descendants, and would otherwise be orphaned."""

    def stop(signum, frame) -> None:
        stop_family(psutil.Process().children())
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def wait_until_stopped() -> None:
    """As the hub's managed service: stay up (idle) once done; the hub restarts a service that exits."""
    while True:
        signal.pause()


def _title(path: Path) -> str:
    try:
        return read_meta(nbformat.read(path, as_version=4)).title
    except (ValidationError, OSError, ValueError):
        return path.stem


class Publisher:
    """One thread that runs `build` whenever asked, coalescing requests made while it builds."""

    def __init__(self, build: Callable[[], None]):
        self._build = build
        self._wanted = threading.Condition()
        self._pending = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="curation-publisher", daemon=True)
        self._thread.start()

    def request(self) -> None:
        with self._wanted:
            self._pending = True
            self._wanted.notify_all()

    def flush(self) -> None:
        """Return once every request made so far has been built."""
        with self._wanted:
            self._wanted.wait_for(lambda: not self._pending and not self._busy)

    def _loop(self) -> None:
        while True:
            with self._wanted:
                self._wanted.wait_for(lambda: self._pending)
                self._pending, self._busy = False, True
            try:
                self._build()
            except Exception:  # a failed build must not stop later ones; the previous site stays served
                log.exception("publishing the catalogue failed")
            finally:
                with self._wanted:
                    self._busy = False
                    self._wanted.notify_all()


class Curation:
    def __init__(self, notebooks_dir: Path, site_dir: Path, options: RunOptions, *,
                 launch_base: str, known_secrets: list[str] | tuple[str, ...] = ()):
        self.notebooks_dir, self.site_dir, self.options = Path(notebooks_dir), Path(site_dir), options
        self.launch_base, self.known_secrets = launch_base, tuple(known_secrets)
        self.notebooks = notebooks_in(self.notebooks_dir)
        self.progress_file = progress_path(self.site_dir)
        self.progress = CurationProgress.begin()
        self.progress.notebooks = [
            NotebookProgress(slug=p.stem, path=p.relative_to(self.notebooks_dir).as_posix(), title=_title(p),
                             state="queued")
            for p in self.notebooks
        ]
        self._by_slug = {entry.slug: entry for entry in self.progress.notebooks}
        self._results: dict[str, NotebookResult] = {}
        self._lock = threading.Lock()
        self._publisher = Publisher(self.publish)

    def _save(self) -> None:
        """Callers hold the lock."""
        self.progress.write(self.progress_file)

    def started(self, path: Path) -> None:
        log.info("testing %s", path.name)
        with self._lock:
            self._by_slug[path.stem].state = "testing"
            self._save()

    def finished(self, result: NotebookResult) -> None:
        where = f" in cell {result.failing_cell}" if result.failing_cell else ""
        log.info("%s %s%s", Path(result.path).name, "passed (cached)" if result.cached else result.status, where)
        with self._lock:
            self._results[result.path] = result
            entry = self._by_slug[result.slug]
            entry.state, entry.cached = result.status, result.cached
            entry.failing_cell, entry.error = result.failing_cell, result.error
            self._save()
        self._publisher.request()

    def publish(self) -> None:
        """Build the catalogue from every result so far (the build's own atomic swap publishes it)."""
        with self._lock:
            results = [self._results[str(p)] for p in self.notebooks if str(p) in self._results]
        report_path = self.options.out_dir / PARTIAL_REPORT
        report_for(results, self.options).write(report_path)
        try:
            built = build_site(report_path, self.site_dir, self.notebooks_dir, launch_base=self.launch_base,
                               known_secrets=self.known_secrets)
        except BuildError as error:
            log.error("catalogue not published: %s", error)
            return
        published = set(built.summary.published)
        reasons = {item.slug: item.reason for item in built.summary.left_out}
        with self._lock:
            for entry in self.progress.notebooks:
                entry.published = entry.slug in published
                entry.left_out = reasons.get(entry.slug) if entry.state == "passed" and not entry.published else None
            self._save()
        log.info("catalogue published: %d of %d notebooks", len(published), len(self.notebooks))

    def run(self) -> CurationProgress:
        with self._lock:
            self._save()
        if self.notebooks:
            run(self.notebooks, self.options, on_start=self.started, on_done=self.finished)
        self._publisher.request()  # also with no notebooks: an empty catalogue, not none
        self._publisher.flush()
        with self._lock:
            self.progress.finished_at = datetime.now(timezone.utc)
            self._save()
        return self.progress

    def give_up(self, problem: str) -> None:
        """The curation cannot run at all (no user environment, say): admins see why on the page."""
        with self._lock:
            self.progress.problem = problem
            self._save()
