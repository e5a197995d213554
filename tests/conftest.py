"""Shared fixtures: a real `gemhub up` on loopback ports, and an artifacts folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.hub import RunningHub, write_config  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


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
