"""The test markers `docker`, `browser` and `slow`, enforced rather than trusted.

`make test-fast` deselects all three, so that a contributor without root, Docker or
Chromium still gets a quick run. That only holds while every test that needs one of
them carries its marker, and in the full run (where Docker and Chromium are there) a
forgotten marker would pass unnoticed. So a missing marker fails the test itself:

- a test that uses a fixture listed in FIXTURE_MARKERS without that marker fails at setup;
- while a test without `docker` runs (its fixtures included), `docker` on PATH is a stub
  that fails naming the marker, and DOCKER_HOST points at no daemon, so the SDK fails too;
- while a test without `browser` runs, the Chromium of `support.browser` is such a stub.

A plugin named in tests/conftest.py's `pytest_plugins`; pytest loads that conftest for
tests/user_env too, so both suites get it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support import browser

# Shared fixtures and the marker a test using them must carry.
FIXTURE_MARKERS = {"hub_factory": "slow", "curated_run": "slow", "marketplace_site": "slow", "binder_server": "slow"}

STUB = """#!/bin/sh
echo "gemhub tests: this test ran {tool} but is not marked @pytest.mark.{marker} (tests/support/markers.py)" >&2
exit 97
"""

_stubs: Path | None = None


def _stub_folder() -> Path:
    """A folder holding the `docker` and `chromium` stubs, made once per run."""
    global _stubs
    if _stubs is None:
        _stubs = Path(tempfile.mkdtemp(prefix="gemhub-test-stubs-"))
        for tool, marker in (("docker", "docker"), ("chromium", "browser")):
            stub = _stubs / tool
            stub.write_text(STUB.format(tool=tool, marker=marker))
            stub.chmod(0o755)
    return _stubs


def pytest_unconfigure(config) -> None:
    if _stubs is not None:
        shutil.rmtree(_stubs, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Hide Docker and Chromium from a test (setup, call and teardown) that does not declare it needs them."""
    marked = {mark.name for mark in item.iter_markers()}
    with pytest.MonkeyPatch.context() as patch:
        if "docker" not in marked:
            stubs = _stub_folder()
            patch.setenv("PATH", f"{stubs}:{os.environ.get('PATH', '')}")
            patch.setenv("DOCKER_HOST", f"unix://{stubs}/not-marked-docker.sock")
        if "browser" not in marked:
            patch.setattr(browser, "CHROMIUM", _stub_folder() / "chromium")
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Fail, before any fixture starts, a test that uses a slow shared fixture without saying so."""
    marked = {mark.name for mark in item.iter_markers()}
    missing = sorted({f"{FIXTURE_MARKERS[name]} (it uses {name})" for name in item.fixturenames
                      if name in FIXTURE_MARKERS and FIXTURE_MARKERS[name] not in marked})
    if missing:
        pytest.fail(f"{item.nodeid} is not marked @pytest.mark." + ", @pytest.mark.".join(missing), pytrace=False)
