"""A real browser logs in, spawns, opens JupyterLab and runs a cell that uses the EO stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from support.browser import launch_chromium, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "browser-check.ipynb"
CELL = 'import sentinelhub\nprint("gemhub", 6*7)'
EXPECTED = "gemhub 42"
KERNEL_IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")

# Generous: spawning takes 4-10 s here and JupyterLab's first load several seconds,
# more on a loaded 2-core CI runner.
SPAWN_TIMEOUT = 120_000
LAB_TIMEOUT = 90_000
RUN_TIMEOUT = 120_000


def notebook(source: str) -> dict:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            {
                "cell_type": "code",
                "id": "gemhub-check",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
        ],
    }


def test_browser_logs_in_spawns_lab_and_runs_a_cell(hub_factory, artifacts):
    hub = hub_factory(["alice"])
    password = hub.passwords["alice"]
    lab_url = re.compile(re.escape(f"{hub.url}/user/alice/lab") + r"([/?#].*)?$")

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.set_default_timeout(LAB_TIMEOUT)
            try:
                _run(page, hub, password, lab_url, artifacts)
            except Exception:
                page.screenshot(path=artifacts / "failure.png", full_page=True)
                (artifacts / "failure-url.txt").write_text(page.url + "\n")
                (artifacts / "hub-log-tail.txt").write_text(hub.log_tail(200) + "\n")
                raise
            finally:
                context.close()
        finally:
            browser.close()


def _run(page, hub, password, lab_url, artifacts) -> None:
    # 1. The hub's login form, as a person uses it.
    log_in(page, hub.url, "alice", password, screenshot=artifacts / "login.png")

    # 2. The normal spawn: the hub redirects through spawn / spawn-pending to the
    #    user's server, which completes OAuth with the hub and lands on /user/alice/lab.
    page.wait_for_url(lab_url, timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=LAB_TIMEOUT)
    expect(page.locator(".jp-Launcher, .jp-Notebook").first).to_be_visible(timeout=LAB_TIMEOUT)
    page.screenshot(path=artifacts / "lab.png")

    # 2b. alice has no Sentinel Hub credentials: JupyterLab tells her, in a notification,
    #     that her kernels get sandbox data, with a link to the credentials page.
    notice = page.locator(".Toastify__toast", has_text="You are on sandbox data")
    expect(notice).to_be_visible(timeout=30_000)
    expect(notice.get_by_role("button", name="Set credentials")).to_be_visible()
    page.screenshot(path=artifacts / "sandbox-notice.png")

    # 3. A notebook with one EO-stack cell, saved through the contents API with a token.
    alice = hub.session("alice")
    assert alice.login().status_code == 302
    token = alice.token(note="browser test")
    saved = alice.http.put(
        f"{hub.url}/user/alice/api/contents/{NOTEBOOK}",
        headers={"Authorization": f"token {token}"},
        json={"type": "notebook", "format": "json", "content": notebook(CELL)},
        timeout=30,
    )
    assert saved.status_code in (200, 201), saved.text

    # 4. Open it in Lab, run the cell with Shift+Enter, read the output from the page.
    page.goto(f"{hub.url}/user/alice/lab/tree/{NOTEBOOK}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    cell = panel.locator(".jp-Notebook .jp-CodeCell").first
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    expect(editor).to_contain_text("gemhub", timeout=LAB_TIMEOUT)
    # Wait until the notebook's kernel is started *and connected*: Shift+Enter before
    # that makes Lab open a "Select Kernel" dialog instead of running the cell. The
    # toolbar's execution indicator says "idle" before any kernel exists, so read the
    # status bar, which says "<kernel> | Idle" only once the kernel connection is up.
    kernel_status = page.locator("#jp-main-statusbar").get_by_text(KERNEL_IDLE)
    expect(kernel_status).to_be_visible(timeout=LAB_TIMEOUT)
    editor.click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.press("Shift+Enter")

    # stdout, not the first output: importing the stack may also write warnings to
    # stderr (tqdm's IProgress warning), which can arrive first as its own output area.
    stdout = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stdout']")
    expect(stdout).to_have_text(re.compile(rf"^\s*{EXPECTED}\s*$"), timeout=RUN_TIMEOUT)
    expect(cell.locator(".jp-InputArea-prompt")).to_contain_text("[1]:", timeout=RUN_TIMEOUT)
    page.screenshot(path=artifacts / "cell-output.png")

