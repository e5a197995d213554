"""Shared fixtures: a real `gemhub up` on loopback ports, and an artifacts folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.hub import RunningHub, write_config  # noqa: E402

# The markers docker/browser/slow, enforced (see tests/support/markers.py); the user-env suite loads this file too.
pytest_plugins = ["support.markers"]

CHECKOUT = Path(__file__).resolve().parents[1]
ARTIFACTS = CHECKOUT / "test-artifacts"
GEMHUB = Path(sys.executable).parent / "gemhub"


@pytest.fixture
def artifacts(request) -> Path:
    """A folder for screenshots and logs a person can look at after the run."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def hub_factory(tmp_path):
    """Make and start hubs; every hub started is stopped (Ctrl-C) at teardown."""
    hubs: list[RunningHub] = []

    def make(users: list[str], extra: dict | None = None) -> RunningHub:
        folder = tmp_path / f"hub{len(hubs)}"
        folder.mkdir()
        hub = RunningHub(write_config(folder, users, extra), folder / "gemhub-up.log")
        hubs.append(hub)
        return hub.start()

    yield make
    for hub in hubs:
        hub.stop()


@pytest.fixture(scope="session")
def curated_run(tmp_path_factory):
    """One runner pass over every curated notebook, shared by the tests that need its report."""
    folder = tmp_path_factory.mktemp("curated")
    run = subprocess.run(
        [GEMHUB, "notebooks", "test", CHECKOUT / "notebooks", "--jobs", "2", "--out-dir", folder / "runs",
         "--report", folder / "report.json"],
        capture_output=True, text=True, timeout=1200,
    )
    return folder / "report.json", run


@pytest.fixture(scope="session")
def marketplace_site(curated_run, tmp_path_factory) -> Path:
    """The catalogue built from that run, as `make marketplace` builds it."""
    report, _ = curated_run
    site = tmp_path_factory.mktemp("marketplace")
    subprocess.run([GEMHUB, "marketplace", "build", "--report", report, "--out", site], check=True,
                   capture_output=True, timeout=300)
    return site
