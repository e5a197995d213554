"""The catalogue fills while a person watches: new notebooks appear without a reload, in a real browser.

The curation publishes into the site folder and rewrites its progress file
(gemhub/marketplace/curation.py); here the test plays that part with the same
build and progress models, while Chromium keeps one catalogue page open.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect, sync_playwright

from gemhub.marketplace.progress import CurationProgress, NotebookProgress, progress_path
from support.browser import launch_chromium, log_in
from support.hub import RunningHub, write_config
from test_marketplace_build import Project, meta

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = 60_000
LIVE = 20_000  # the page polls every 2 s; generous for a loaded machine
TITLES = {"alpha": "Alpha lakes", "beta": "Beta forests", "gamma": "Gamma glaciers"}


def write_progress(site, states: dict[str, str], *, finished: bool = False) -> None:
    """The progress file as the curation writes it: published = in the site now."""
    started = datetime.now(timezone.utc)
    CurationProgress(
        started_at=started,
        finished_at=started if finished else None,
        notebooks=[NotebookProgress(slug=slug, path=f"{slug}.ipynb", title=TITLES[slug], state=state,
                                    published=state == "passed",
                                    failing_cell=3 if state == "failed" else None,
                                    error="RuntimeError: no scenes" if state == "failed" else None)
                   for slug, state in states.items()],
    ).write(progress_path(site))


def test_new_notebooks_and_the_count_appear_without_a_reload(tmp_path, artifacts):
    project = Project(tmp_path)
    site = tmp_path / "site"
    project.add("alpha.ipynb", meta(TITLES["alpha"], tags=["water"]))
    project.build()
    write_progress(site, {"alpha": "passed", "beta": "testing", "gamma": "queued"})
    hub = RunningHub(write_config(tmp_path, ["alice"], {"marketplace": {"site_dir": str(site)}}),
                     tmp_path / "gemhub-up.log")
    try:
        hub.start(timeout=400)  # a guard against a hub that never comes up, not a speed check
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(TIMEOUT)
            try:
                log_in(page, hub.url, "alice", hub.passwords["alice"])
                page.wait_for_url(re.compile(r"^(?!.*/hub/login).*$"))
                page.goto(f"{hub.url}/services/marketplace/")
                banner = page.locator("#curation-banner")
                expect(banner).to_contain_text("Testing 1 of 3 notebooks")
                expect(page.locator('li.card[data-slug="alpha"]')).to_be_visible()
                expect(page.locator('li.card[data-pending-slug="beta"]')).to_contain_text("Being tested")
                page.evaluate("window.__noReload = 1")
                page.screenshot(path=artifacts / "1-testing.png", full_page=True)

                # beta passes and is published, a tag of its own with it.
                project.add("beta.ipynb", meta(TITLES["beta"], tags=["forest"]))
                project.build()
                write_progress(site, {"alpha": "passed", "beta": "passed", "gamma": "testing"})
                expect(banner).to_contain_text("Testing 2 of 3 notebooks", timeout=LIVE)
                expect(page.locator('li.card[data-slug="beta"]')).to_be_visible()
                expect(page.locator('li.card[data-pending-slug="beta"]')).to_have_count(0)
                expect(page.locator('.facet[data-tag="forest"]')).to_be_visible()
                page.screenshot(path=artifacts / "2-beta-published.png", full_page=True)

                # The search works on the card that arrived; the tag facet too.
                page.locator("#search-input").fill("forests")
                expect(page.locator('li.card[data-slug="beta"]')).to_be_visible()
                expect(page.locator('li.card[data-slug="alpha"]')).to_be_hidden()
                page.locator("#search-input").fill("")
                page.locator('.facet[data-tag="water"]').click()
                expect(page.locator('li.card[data-slug="beta"]')).to_be_hidden()
                expect(page.locator('li.card[data-slug="alpha"]')).to_be_visible()
                page.locator("#clear-filters").click()

                # gamma fails and the curation ends: no banner, gamma "not available", its error nowhere.
                write_progress(site, {"alpha": "passed", "beta": "passed", "gamma": "failed"}, finished=True)
                gamma = page.locator('li.card[data-pending-slug="gamma"]')
                expect(gamma).to_contain_text("Not available", timeout=LIVE)
                expect(banner).to_have_count(0)
                expect(page.locator("body")).not_to_contain_text("no scenes")
                assert page.evaluate("window.__noReload") == 1
                page.screenshot(path=artifacts / "3-finished.png", full_page=True)
            except Exception:
                page.screenshot(path=artifacts / "failure.png", full_page=True)
                (artifacts / "hub-log-tail.txt").write_text(hub.log_tail(200))
                raise
            finally:
                browser.close()
    finally:
        hub.stop()
