"""A person finds a notebook in the marketplace, launches it and runs it, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from support.browser import launch_chromium, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = 120_000


def test_search_open_launch_and_run_in_jupyterlab(hub_factory, marketplace_site, artifacts):
    hub = hub_factory(["alice"], extra={"marketplace": {"site_dir": str(marketplace_site)}})
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(TIMEOUT)
        try:
            log_in(page, hub.url, "alice", hub.passwords["alice"])
            page.wait_for_url(re.compile(r".*/user/alice/lab.*|.*/hub/spawn-pending/.*"))

            page.goto(f"{hub.url}/services/marketplace/")
            expect(page.get_by_text("alice").first).to_be_visible()
            page.screenshot(path=artifacts / "1-catalogue.png", full_page=True)

            page.locator("#search-input").fill("water")
            water = page.locator('li.card[data-slug="water-monitor"]')
            expect(water).to_be_visible()
            expect(page.locator('li.card[data-slug="timelapse"]')).to_be_hidden()
            page.screenshot(path=artifacts / "2-search-water.png", full_page=True)

            water.locator(".card__title a").click()
            expect(page.get_by_role("link", name=re.compile(r"^\s*Launch"))).to_be_visible()
            page.screenshot(path=artifacts / "3-detail.png", full_page=True)

            page.get_by_role("link", name=re.compile(r"^\s*Launch")).click()
            page.wait_for_url(re.compile(r".*/user/alice/lab/tree/marketplace/water-monitor/water-monitor\.ipynb"))
            panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
            expect(panel.locator(".jp-Cell").first).to_be_visible()
            expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle"))).to_be_visible()
            page.screenshot(path=artifacts / "4-lab.png")

            code_cell = panel.locator(".jp-CodeCell").first
            code_cell.locator(".jp-InputArea-editor .cm-content").click()
            page.keyboard.press("Shift+Enter")
            expect(code_cell.locator(".jp-InputArea-prompt")).to_contain_text("[1]:", timeout=TIMEOUT)
            expect(code_cell.locator(".jp-OutputArea")).not_to_contain_text("Traceback")
            page.screenshot(path=artifacts / "5-first-cell-ran.png")

            # ...and the whole notebook, on the sandbox the hub runs for users without credentials.
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            last = panel.locator(".jp-CodeCell").last
            expect(last.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]:"), timeout=TIMEOUT)
            expect(panel).not_to_contain_text("Traceback")
            expect(panel).to_contain_text("using the offline sandbox")
            page.screenshot(path=artifacts / "6-ran-all.png", full_page=True)
        except Exception:
            page.screenshot(path=artifacts / "failure.png", full_page=True)
            (artifacts / "hub-log-tail.txt").write_text(hub.log_tail(200))
            raise
        finally:
            browser.close()
