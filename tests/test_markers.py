"""The markers `make test-fast` deselects by are enforced (tests/support/markers.py).

Run in the full suite, where Docker and Chromium are present: a test that needs
them and lacks its marker must fail there, not only on a contributor's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from support import browser

TESTS = Path(__file__).resolve().parent

PROBE = '''
import subprocess
import pytest

@pytest.fixture
def hub_factory():
    return "a stand-in for the shared fixture"

@pytest.fixture(scope="module")
def docker_version():
    return subprocess.run(["docker", "version"], capture_output=True, text=True)

def test_uses_hub_factory_unmarked(hub_factory):
    pass

@pytest.mark.slow
def test_uses_hub_factory_marked(hub_factory):
    pass

def test_fixture_calls_docker_unmarked(docker_version):
    assert docker_version.returncode == 0, docker_version.stderr
'''


def test_without_the_docker_marker_docker_fails_naming_the_marker():
    done = subprocess.run(["docker", "version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 97
    assert "not marked @pytest.mark.docker" in done.stderr
    assert os.environ["DOCKER_HOST"].endswith("/not-marked-docker.sock")


@pytest.mark.docker
def test_with_the_docker_marker_docker_is_the_real_one():
    assert "gemhub-test-stubs-" not in (shutil.which("docker") or "")
    assert "not-marked-docker" not in os.environ.get("DOCKER_HOST", "")


def test_without_the_browser_marker_chromium_fails_naming_the_marker():
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright, pytest.raises(Error, match="not marked @pytest.mark.browser"):
        browser.launch_chromium(playwright, timeout=60_000)


def test_a_shared_slow_fixture_or_docker_in_a_fixture_fails_an_unmarked_test(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: probe\n")
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "support.markers", "-p", "no:cacheprovider", "--junitxml=probe.xml",
         "test_probe.py"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, env=dict(os.environ, PYTHONPATH=str(TESTS)),
    )
    outcomes = {case.get("name"): [(child.tag, child.get("message", "")) for child in case]
                for case in ElementTree.parse(tmp_path / "probe.xml").iter("testcase")}
    assert outcomes["test_uses_hub_factory_marked"] == []
    assert outcomes["test_uses_hub_factory_unmarked"] == [
        ("error", "failed on setup with \"Failed: test_probe.py::test_uses_hub_factory_unmarked is not marked "
                  "@pytest.mark.slow (it uses hub_factory)\"")]
    [(tag, message)] = outcomes["test_fixture_calls_docker_unmarked"]
    assert tag == "failure" and "not marked @pytest.mark.docker" in message
