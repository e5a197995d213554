"""Headless Chromium for browser tests, driven by Playwright's sync API.

Uses the distribution's Chromium (`apt-get install chromium`), never a browser
downloaded by `playwright install`. A missing Chromium is an error, not a skip:
CI installs it, and a skipped browser test would hide a broken setup.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("GEMHUB_CHROMIUM", "/usr/bin/chromium"))

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright, **kwargs):
    """Launch headless Chromium from CHROMIUM; raise if it is not installed."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        raise FileNotFoundError(
            f"Chromium not found at {CHROMIUM}: install it with "
            "`apt-get install -y chromium chromium-driver` (or set GEMHUB_CHROMIUM)"
        )
    kwargs.setdefault("args", CHROMIUM_ARGS)
    kwargs.setdefault("headless", True)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), **kwargs)


def log_in(page, hub_url: str, user: str, password: str, screenshot: Path | None = None) -> None:
    """Fill and submit the hub's login form, as a person does."""
    page.goto(f"{hub_url}/hub/login")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    if screenshot:
        page.screenshot(path=screenshot)
    page.locator("form input[type=submit], form button[type=submit]").first.click()
