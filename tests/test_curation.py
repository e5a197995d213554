"""The hub is up at once; the curated notebooks are tested behind it and published as they pass.

A real `gemhub up` whose background curation (`gemhub marketplace curate`, a managed
service) runs a small notebooks folder (tests/support/curated.py): one notebook that
passes only once the test opens its gate, one that always fails.
"""

from __future__ import annotations

import psutil
import pytest

from gemhub.marketplace.curation import BACKGROUND_NICENESS
from gemhub.marketplace.progress import progress_path, read_progress
from gemhub.waiting import eventually, wait_until

from support.curated import BROKEN_CELL, BROKEN_ERROR, gated_notebooks, published, states

pytestmark = pytest.mark.slow
GUARD = 300  # seconds; a guard against a stuck curation on a loaded machine, not a speed check


def _curation_family(hub) -> list[psutil.Process]:
    """The curation service and everything it started (papermill, kernels, the runner's sandbox)."""
    for child in psutil.Process(hub.process.pid).children(recursive=True):
        try:
            if "curate" in child.cmdline():
                return [child, *child.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return []


def _alive(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(process.cmdline()))
        except psutil.Error:
            pass
    return alive


def test_hub_answers_at_once_and_the_catalogue_fills_behind_it(hub_factory, tmp_path):
    gate = tmp_path / "gate"
    notebooks, site = gated_notebooks(tmp_path / "notebooks", gate), tmp_path / "site"
    hub = hub_factory(["alice"], extra={"marketplace": {"curate": True, "notebooks_dir": str(notebooks),
                                                         "site_dir": str(site)}})
    # The hub answered (hub_factory waits for that) while its notebooks are still being tested.
    wait_until(lambda: states(site).get("gated-search") == "testing", GUARD, "the gated notebook being tested")
    wait_until(lambda: states(site).get("broken-search") == "failed", GUARD, "the broken notebook failing")
    progress = read_progress(progress_path(site))
    assert progress.finished_at is None and progress.done == 1 and progress.total == 2
    broken = next(n for n in progress.notebooks if n.slug == "broken-search")
    assert broken.failing_cell == BROKEN_CELL and BROKEN_ERROR in broken.error and not broken.published
    assert published(site) == []  # a catalogue exists from the first result on, without the failed one

    # Stopping the hub mid-run stops the runs too: no papermill, kernel or sandbox outlives it.
    family = _curation_family(hub)
    kernels = [p for p in family if "ipykernel" in " ".join(p.cmdline())]
    assert kernels, _alive(family)
    assert all(p.nice() >= BACKGROUND_NICENESS for p in kernels), "the curation runs behind people's work"
    hub.stop()
    assert eventually(lambda: not _alive(family), 30), f"outlived the hub: {_alive(family)}"

    # Next start: the notebook passes and is published, with nobody doing anything.
    gate.touch()
    hub.start()
    wait_until(lambda: "gated-search" in published(site), GUARD, "the gated notebook published")
    wait_until(lambda: read_progress(progress_path(site)).finished_at is not None, GUARD, "the curation finishing")
    progress = read_progress(progress_path(site))
    assert {n.slug: (n.state, n.published) for n in progress.notebooks} == {
        "gated-search": ("passed", True), "broken-search": ("failed", False)}

    # A restart reuses the cache: what passed is published again without running again.
    hub.stop()
    hub.start()
    wait_until(lambda: (p := read_progress(progress_path(site))) is not None and p.finished_at is not None
               and p.started_at > progress.started_at, GUARD, "the restarted curation finishing")
    again = {n.slug: n for n in read_progress(progress_path(site)).notebooks}
    assert again["gated-search"].cached and again["gated-search"].published
    assert again["broken-search"].state == "failed" and not again["broken-search"].cached
    assert published(site) == ["gated-search"]
